//! The boundary's rules on a fake name service: who may act on whom, and what refuses a matched
//! pass at login.

use std::cell::Cell;
use std::collections::HashMap;

use super::*;
use pam_tap_store::operator::{Operator, Role};

struct Dir {
    accounts: HashMap<String, Account>,
    shadow: HashMap<String, ShadowEntry>,
}

impl Directory for Dir {
    fn account(&self, name: &str) -> Result<Option<Account>> {
        Ok(self.accounts.get(name).cloned())
    }
    fn shadow(&self, name: &str) -> Result<Option<ShadowEntry>> {
        Ok(self.shadow.get(name).cloned())
    }
    fn set_shadow(&self, user: &str, _: &str, _: Option<i64>) -> Result<()> {
        panic!("the boundary wrote {user}'s shadow entry")
    }
    fn shadow_after_tools(&self, user: &str) -> Result<Option<ShadowEntry>> {
        self.shadow(user)
    }
}

fn acct(name: &str, uid: u32, groups: &[&str]) -> Account {
    Account {
        name: name.into(),
        uid,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn policy() -> Policy {
    Policy {
        issuers: vec!["helpdesk".into()],
        privileged_issuers: vec!["seniors".into()],
        viewers: vec!["auditors".into()],
        max_uid: 60000,
        ..Policy::default()
    }
}

fn dir() -> Dir {
    let mut accounts = HashMap::new();
    for a in [
        acct("ivy", 1001, &["helpdesk"]),
        acct("ivy2", 1001, &[]),
        acct("pat", 1002, &["seniors"]),
        acct("val", 1003, &["auditors"]),
        acct("ann", 1004, &["users"]),
        acct("sue", 1005, &["users"]),
        acct("dee", 1006, &["docker"]),
        acct("toor", 0, &[]),
    ] {
        accounts.insert(a.name.clone(), a);
    }
    Dir {
        accounts,
        shadow: HashMap::new(),
    }
}

fn op(name: &str, role: Role) -> Operator {
    Operator {
        name: name.into(),
        role,
    }
}

/// sudo says yes for `sue`, fails for `err`, no for everyone else; counts its runs.
fn sudo_for<'a>(runs: &'a Cell<u32>) -> impl Fn(&str) -> Result<bool> + 'a {
    move |u: &str| {
        runs.set(runs.get() + 1);
        match u {
            "sue" => Ok(true),
            "err" => Err(Error::Io("sudo broke".into())),
            _ => Ok(false),
        }
    }
}

#[test]
fn roles_cannot_climb() {
    let (p, d, runs) = (policy(), dir(), Cell::new(0));
    let sudo = sudo_for(&runs);
    let acts = |o: &Operator, t: &str| may_act_on(&p, o, &d.accounts[t], &d, &sudo).is_ok();
    let issuer = op("ivy", Role::Issuer);
    assert!(acts(&issuer, "ann"));
    for t in ["pat", "val", "dee", "sue", "toor", "ivy2"] {
        assert!(!acts(&issuer, t), "issuer on {t}");
    }
    let privileged = op("pat", Role::PrivilegedIssuer);
    for t in ["ann", "ivy", "val", "dee", "sue"] {
        assert!(acts(&privileged, t), "privileged on {t}");
    }
    assert!(!acts(&privileged, "pat"));
    assert!(!acts(&privileged, "toor"), "uid 0 by another name");
    let root = op("root", Role::Root);
    assert!(acts(&root, "pat"));
    assert!(!acts(&root, "toor"));
    assert!(!acts(&op("val", Role::Viewer), "ann"));
    // A sudo that fails counts as yes.
    let mut d2 = dir();
    d2.accounts.insert("err".into(), acct("err", 1010, &[]));
    assert!(may_act_on(&p, &issuer, &d2.accounts["err"], &d2, &sudo).is_err());
}

fn rec(role: Option<&str>, by: &str) -> PassRecord {
    PassRecord {
        id: 1,
        user: "ann".into(),
        uid: 1004,
        hash: "$argon2id$stored".into(),
        expires_at: 1 << 40,
        issued_by: by.into(),
        issuer_role: role.map(str::to_string),
        ..PassRecord::default()
    }
}

#[test]
fn login_refusals_name_their_reason() {
    let (p, mut d, runs) = (policy(), dir(), Cell::new(0));
    let sudo = sudo_for(&runs);
    let now = 20_000 * 86_400;
    // The record as issued for `who` (its uid), unless `uid` says otherwise.
    let why_uid = |d: &Dir, r: &PassRecord, who: &str, svc: Option<&str>, uid: Option<u32>| {
        let acct = &d.accounts[who];
        let r = PassRecord {
            uid: uid.unwrap_or(acct.uid),
            ..r.clone()
        };
        scope_refusal(&p, &r, svc)
            .map_or_else(|| login_refusal(&p, &r, acct, d, &sudo, now).unwrap(), Some)
            .map(|x| x.reason)
    };
    let why = |d: &Dir, r: &PassRecord, who: &str, svc: Option<&str>| why_uid(d, r, who, svc, None);
    let issued = rec(Some("issuer"), "ivy");
    assert_eq!(why(&d, &issued, "ann", Some("sshd")), None);
    assert_eq!(why(&d, &issued, "ann", Some("sudo")), Some("service"));
    assert_eq!(why(&d, &issued, "ann", None), Some("service"));
    let narrowed = PassRecord {
        services: Some("login".into()),
        ..issued.clone()
    };
    assert_eq!(why(&d, &narrowed, "ann", Some("sshd")), Some("service"));
    assert_eq!(why(&d, &narrowed, "ann", Some("login")), None);
    // sudo is asked only past every cheaper check, and only for an issuer's pass.
    runs.set(0);
    assert_eq!(why(&d, &issued, "sue", Some("sudo")), Some("service"));
    assert_eq!(runs.get(), 0);
    assert_eq!(why(&d, &issued, "sue", Some("login")), Some("role"));
    assert_eq!(runs.get(), 1);
    assert_eq!(why(&d, &issued, "dee", Some("login")), Some("role"));
    assert_eq!(
        why(&d, &rec(Some("privileged_issuer"), "pat"), "sue", Some("login")),
        None
    );
    assert_eq!(why(&d, &rec(None, "root"), "dee", Some("login")), None);
    // Rows from before the role was stored: anyone but root counts as an issuer.
    assert_eq!(why(&d, &rec(None, "ivy"), "dee", Some("login")), Some("role"));
    let resting = PassRecord {
        rest_until: Some(now + 5),
        ..issued.clone()
    };
    assert_eq!(why(&d, &resting, "ann", Some("login")), Some("resting"));
    let shadow = |hash: &str, expire| ShadowEntry {
        hash: hash.into(),
        lastchg: Some(19_000),
        expire,
    };
    d.shadow.insert("ann".into(), shadow("!$y$old", None));
    assert_eq!(why(&d, &issued, "ann", Some("login")), Some("locked"));
    d.shadow.insert("ann".into(), shadow("$y$old", Some(20_000)));
    assert_eq!(why(&d, &issued, "ann", Some("login")), Some("expired"));
    d.shadow.insert("ann".into(), shadow("$y$old", Some(20_001)));
    assert_eq!(why(&d, &issued, "ann", Some("login")), None);
    // A pass for another account under the name (deleted and made again): refused before anything
    // about the account is weighed, also for a pass root issued.
    assert_eq!(why_uid(&d, &issued, "ann", Some("login"), Some(1104)), Some("uid"));
    assert_eq!(why_uid(&d, &resting, "ann", Some("login"), Some(1104)), Some("uid"));
    assert_eq!(
        why_uid(&d, &rec(None, "root"), "ann", Some("login"), Some(1104)),
        Some("uid")
    );
    assert_eq!(why_uid(&d, &issued, "ann", Some("sudo"), Some(1104)), Some("service"));
}

#[test]
fn issue_refuses_locked_and_expired_accounts_but_not_pam_taps_own_lock() {
    let now = 20_000 * 86_400;
    let sp = |hash: &str, expire| ShadowEntry {
        hash: hash.into(),
        lastchg: Some(0),
        expire,
    };
    let locked = sp("!$y$old", None);
    assert!(check_account_for_issue("ann", Some(&locked), None, now).is_err());
    // useradd's "no password yet" is not a lock: the pass is the first credential.
    for fresh in ["!", "!!", "*", ""] {
        assert!(check_account_for_issue("ann", Some(&sp(fresh, None)), None, now).is_ok());
    }
    assert!(check_account_for_issue("ann", Some(&sp("$y$old", Some(19_999))), None, now).is_err());
    assert!(check_account_for_issue("ann", Some(&sp("$y$old", None)), None, now).is_ok());
    assert!(check_account_for_issue("ann", None, None, now).is_ok());
    let mut ended = rec(Some("root"), "root");
    ended.shadow_set = Some("$y$set".into());
    ended.expires_at = now - 1;
    assert!(check_account_for_issue("ann", Some(&sp("!$y$set", None)), Some(&ended), now).is_ok());
    // The same lock of a live pass's reset state is an administrator's.
    ended.expires_at = now + 3600;
    assert!(check_account_for_issue("ann", Some(&sp("!$y$set", None)), Some(&ended), now).is_err());
}

#[test]
fn max_uid_comes_from_login_defs_with_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("login.defs");
    std::fs::write(&f, "# UID_MAX 1\nUID_MIN 1000\nUID_MAX\t\t29999\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // The file's owner is the test's own user: trusted as root's is outside tests.
    let trust = pam_tap_base::safefile::Trust::current_user();
    assert_eq!(crate::config::login_defs_uid_max_trusting(&f, trust), 29999);
    // A file others may write is not read: the fallback.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        crate::config::login_defs_uid_max_trusting(&f, trust),
        crate::config::FALLBACK_MAX_UID
    );
    assert_eq!(
        crate::config::login_defs_uid_max(&dir.path().join("missing")),
        crate::config::FALLBACK_MAX_UID
    );
    let p = Policy {
        max_uid: 60000,
        ..Policy::default()
    };
    assert!(above_max_uid(&p, &acct("nobody", 65534, &[])).is_some());
    assert!(above_max_uid(&p, &acct("ann", 1004, &[])).is_none());
}
