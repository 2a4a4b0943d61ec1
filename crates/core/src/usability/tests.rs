//! Each reason reached on a fake name service, with its moment and what the module's decision
//! comes to for it.

use std::collections::HashMap;

use super::*;
use pam_tap_base::error::Error;
use pam_tap_base::users::ShadowEntry;

const NOW: i64 = 1_800_000_000;

struct Dir(HashMap<String, ShadowEntry>);

impl Directory for Dir {
    fn account(&self, _: &str) -> Result<Option<Account>> {
        Ok(None)
    }
    fn shadow(&self, name: &str) -> Result<Option<ShadowEntry>> {
        Ok(self.0.get(name).cloned())
    }
    fn set_shadow(&self, user: &str, _: &str, _: Option<i64>) -> Result<()> {
        panic!("a verdict wrote {user}'s shadow entry")
    }
    fn shadow_after_tools(&self, user: &str) -> Result<Option<ShadowEntry>> {
        self.shadow(user)
    }
}

fn alice() -> Account {
    Account {
        name: "alice".into(),
        uid: 1000,
        groups: vec!["users".into()],
    }
}

fn pass() -> PassRecord {
    PassRecord {
        id: 7,
        user: "alice".into(),
        uid: 1000,
        hash: "$argon2id$…".into(),
        starts_at: NOW - 60,
        expires_at: NOW + 3600,
        one_time: true,
        issued_by: "ivy".into(),
        issuer_role: Some("issuer".into()),
        ..PassRecord::default()
    }
}

fn policy() -> Policy {
    Policy {
        host_name: "web1".into(),
        issuers: vec!["helpdesk".into()],
        ..Policy::default()
    }
}

fn shadow(hash: &str, expire: Option<i64>) -> Dir {
    Dir(HashMap::from([(
        "alice".to_string(),
        ShadowEntry {
            hash: hash.into(),
            lastchg: Some(19000),
            expire,
        },
    )]))
}

fn no_sudo(_: &str) -> Result<bool> {
    Ok(false)
}

fn judge(policy: &Policy, rec: &PassRecord, dir: &Dir, service: Option<&str>) -> Verdict {
    verdict(policy, Some(&alice()), Some(rec), NOW, service, dir, &no_sudo).unwrap()
}

#[test]
fn a_pass_in_its_window_is_usable_until_it_expires() {
    let v = judge(&policy(), &pass(), &shadow("$6$x", None), None);
    assert_eq!(
        (v.reason, v.until, v.outcome),
        (Reason::Usable, Some(NOW + 3600), Outcome::Accepted)
    );
}

#[test]
fn each_state_of_the_row_is_its_own_reason_with_its_moment() {
    let dir = shadow("$6$x", None);
    let later = PassRecord {
        starts_at: NOW + 600,
        ..pass()
    };
    let v = judge(&policy(), &later, &dir, None);
    assert_eq!((v.reason, v.until), (Reason::NotYetValid, Some(NOW + 600)));
    assert_eq!(v.outcome, Outcome::Unusable(Status::NotYetValid));
    let resting = PassRecord {
        rest_until: Some(NOW + 90),
        rests: 1,
        total_failures: 3,
        ..pass()
    };
    let v = judge(&policy(), &resting, &dir, None);
    assert_eq!((v.reason, v.until), (Reason::Resting, Some(NOW + 90)));
    assert_eq!(v.detail, "rest 1 after wrong answers in a row, 3 wrong answers in all");
    let used = PassRecord {
        used_at: Some(NOW - 5),
        ..pass()
    };
    let v = judge(&policy(), &used, &dir, None);
    assert_eq!((v.reason, v.since), (Reason::Used, Some(NOW - 5)));
    assert_eq!(v.audit_reason(), "used");
    let revoked = PassRecord {
        revoked_at: Some(NOW - 9),
        ..pass()
    };
    assert_eq!(judge(&policy(), &revoked, &dir, None).reason, Reason::Revoked);
    let locked = PassRecord {
        locked_at: Some(NOW - 9),
        ..pass()
    };
    assert_eq!(judge(&policy(), &locked, &dir, None).reason, Reason::Locked);
    let old = PassRecord {
        expires_at: NOW - 1,
        ..pass()
    };
    assert_eq!(judge(&policy(), &old, &dir, None).since, Some(NOW - 1));
}

#[test]
fn scope_comes_before_the_pass_state_as_in_the_module() {
    let dir = shadow("$6$x", None);
    let elsewhere = PassRecord {
        hosts: Some("db1".into()),
        revoked_at: Some(NOW - 9),
        ..pass()
    };
    let v = judge(&policy(), &elsewhere, &dir, None);
    assert_eq!(
        (v.reason, v.outcome.clone()),
        (Reason::HostOutOfScope, Outcome::Refused("host"))
    );
    assert_eq!(v.audit_reason(), "host: the pass is for db1, this host is web1");
    let ssh_only = PassRecord {
        services: Some("sshd".into()),
        ..pass()
    };
    assert_eq!(judge(&policy(), &ssh_only, &dir, Some("sshd")).reason, Reason::Usable);
    assert_eq!(judge(&policy(), &ssh_only, &dir, None).reason, Reason::Usable);
    let v = judge(&policy(), &ssh_only, &dir, Some("login"));
    assert_eq!(
        (v.reason, v.outcome),
        (Reason::ServiceOutOfScope, Outcome::Refused("service"))
    );
    let enroll = PassRecord {
        enroll_key: true,
        ..pass()
    };
    let v = judge(&policy(), &enroll, &dir, None);
    assert_eq!(
        (v.reason, v.outcome.clone()),
        (Reason::EnrollOnly, Outcome::Refused("enroll_only"))
    );
    assert!(v.audit_reason().starts_with("enroll_only: "));
}

#[test]
fn the_account_and_its_holder_are_asked_only_for_a_pass_that_would_log_in() {
    let v = judge(&policy(), &pass(), &shadow("!$6$x", None), None);
    assert_eq!(
        (v.reason, v.outcome),
        (Reason::AccountLocked, Outcome::Refused("locked"))
    );
    let v = judge(&policy(), &pass(), &shadow("$6$x", Some(NOW / 86_400 - 2)), None);
    assert_eq!(v.reason, Reason::AccountExpired);
    assert_eq!(v.since, Some((NOW / 86_400 - 2) * 86_400));
    let admin = |_: &str| -> Result<bool> { Ok(true) };
    let dir = shadow("$6$x", None);
    let v = verdict(&policy(), Some(&alice()), Some(&pass()), NOW, None, &dir, &admin).unwrap();
    assert_eq!(
        (v.reason, v.outcome),
        (Reason::HolderPrivileged, Outcome::Refused("role"))
    );
    // A pass issued for another account under the name: refused as such, before sudo is asked.
    let never = |_: &str| -> Result<bool> { Err(Error::Lookup("sudo ran".into())) };
    let remade = Account { uid: 1100, ..alice() };
    let v = verdict(&policy(), Some(&remade), Some(&pass()), NOW, None, &dir, &never).unwrap();
    assert_eq!(
        (v.reason, v.outcome.clone()),
        (Reason::UidChanged, Outcome::Refused("uid"))
    );
    assert_eq!(v.detail, "the pass was issued for uid 1000, alice is uid 1100 now");
    assert!(!v.reason.usable());
    // A revoked pass never runs sudo: the module does not either.
    let revoked = PassRecord {
        revoked_at: Some(NOW - 9),
        ..pass()
    };
    let v = verdict(&policy(), Some(&alice()), Some(&revoked), NOW, None, &dir, &never).unwrap();
    assert_eq!(v.reason, Reason::Revoked);
}

#[test]
fn policy_user_and_eligibility_come_first() {
    let dir = shadow("$6$x", None);
    let off = Policy {
        enabled: false,
        ..policy()
    };
    assert_eq!(judge(&off, &pass(), &dir, None).outcome, Outcome::Disabled);
    let v = verdict(&policy(), None, None, NOW, None, &dir, &no_sudo).unwrap();
    assert_eq!(v.reason, Reason::UnknownUser);
    let v = verdict(&policy(), Some(&alice()), None, NOW, None, &dir, &no_sudo).unwrap();
    assert_eq!(v.reason, Reason::NoPass);
    let strict = Policy {
        exclude_groups: vec!["users".into()],
        ..policy()
    };
    let v = judge(&strict, &pass(), &dir, None);
    assert_eq!(
        (v.reason, v.outcome.clone()),
        (Reason::Ineligible, Outcome::NotEligible)
    );
    assert_eq!(v.audit_reason(), "not eligible: member of excluded group users");
}

#[test]
fn every_reason_has_its_own_word() {
    let mut words: Vec<_> = Reason::ALL.iter().map(|r| r.word()).collect();
    words.sort();
    words.dedup();
    assert_eq!(words.len(), Reason::ALL.len());
    assert_eq!(Reason::ALL.iter().filter(|r| r.usable()).count(), 2);
}
