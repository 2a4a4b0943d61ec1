use super::*;
use pam_tap_base::users::ShadowEntry;
use pam_tap_store::{Pending, ISSUE, SETTLE};

fn rec() -> PassRecord {
    PassRecord {
        id: 7,
        user: "u".into(),
        uid: 1001,
        derive_key: vec![1; 32],
        created_at: 1000,
        starts_at: 1000,
        expires_at: 5000,
        one_time: true,
        reset_password: true,
        issued_by: "root".into(),
        shadow_set: Some("$y$set".into()),
        shadow_prev: Some("$y$prev".into()),
        shadow_prev_lastchg: Some(19000),
        issuer_role: Some("root".into()),
        ..PassRecord::default()
    }
}

fn sp(hash: &str) -> ShadowEntry {
    ShadowEntry {
        hash: hash.into(),
        lastchg: Some(0),
        expire: None,
    }
}

fn pend(what: &str) -> Pending {
    Pending {
        what: what.into(),
        owner: "1:1".into(),
    }
}

fn step(r: &PassRecord, p: Option<&Pending>, hash: &str, now: i64) -> Option<(Step, bool)> {
    decide(r, p, Some(&sp(hash)), now, &Policy::default()).map(|d| (d.step, d.revoke))
}

#[test]
fn a_live_reset_in_place_is_left_alone() {
    assert_eq!(step(&rec(), None, "$y$set", 2000), None);
    let mut r = rec();
    r.used_at = Some(2000);
    assert_eq!(step(&r, None, "$y$set", 2100), None, "handoff still on its way");
}

#[test]
fn a_revoked_pass_restores_and_an_ended_one_locks() {
    let mut r = rec();
    r.revoked_at = Some(2000);
    assert_eq!(step(&r, None, "$y$set", 2001), Some((Step::Restore, false)));
    assert_eq!(step(&rec(), None, "$y$set", 5000), Some((Step::Lock, false)));
    let mut r = rec();
    r.locked_at = Some(2000);
    assert_eq!(step(&r, None, "$y$set", 2001), Some((Step::Lock, false)));
    let mut r = rec();
    r.used_at = Some(2000);
    let later = 2000 + Policy::default().grace.max(HANDOFF_MIN).as_secs() as i64;
    assert_eq!(step(&r, None, "$y$set", later - 1), None);
    assert_eq!(step(&r, None, "$y$set", later), Some((Step::Lock, false)));
}

#[test]
fn a_changed_password_ends_the_pass_without_a_write() {
    let mut r = rec();
    r.one_time = false;
    r.used_at = Some(2000);
    assert_eq!(step(&r, None, "$y$mine", 2100), Some((Step::Close, true)));
    r.revoked_at = Some(2050);
    assert_eq!(step(&r, None, "$y$mine", 2100), Some((Step::Close, false)));
}

#[test]
fn an_issue_cut_short_is_undone() {
    let p = pend(ISSUE);
    assert_eq!(step(&rec(), Some(&p), "$y$set", 2000), Some((Step::Restore, true)));
    assert_eq!(step(&rec(), Some(&p), "$y$prev", 2000), Some((Step::Close, true)));
}

#[test]
fn a_restore_cut_short_is_finished() {
    let mut r = rec();
    r.revoked_at = Some(2000);
    // The hash written back, its day still chpasswd's stamp (not yet the previous one).
    let half = ShadowEntry {
        lastchg: Some(20833),
        ..sp("$y$prev")
    };
    let d = decide(&r, Some(&pend(SETTLE)), Some(&half), 2001, &Policy::default());
    assert_eq!(d.map(|d| (d.step, d.revoke)), Some((Step::Restore, false)));
}

/// An entry back at the hash from before the pass is a restore of ours, done or cut short
/// between chpasswd (the hash, today as its day) and chage (the day): pam_unix and passwd always
/// write a freshly salted hash, so it is never the user's change.
#[test]
fn an_entry_back_at_the_previous_hash_is_a_restore_never_the_users_change() {
    let today = ShadowEntry {
        lastchg: Some(20833),
        ..sp("$y$prev")
    };
    let done = ShadowEntry {
        lastchg: Some(19000),
        ..today.clone()
    };
    let p = Policy::default();
    let mut r = rec();
    r.revoked_at = Some(2000);
    for mark in [None, Some(pend(SETTLE))] {
        let d = decide(&r, mark.as_ref(), Some(&today), 2001, &p).unwrap();
        assert_eq!((d.step, d.revoke), (Step::Restore, false), "{mark:?}: the day is owed");
        let d = decide(&r, mark.as_ref(), Some(&done), 2001, &p).unwrap();
        assert_eq!((d.step, d.revoke), (Step::Close, false), "{mark:?}");
        assert!(!d.why.contains("changed"), "{mark:?}: {}", d.why);
    }
    // The undoing of an issue cut short, itself cut short: finished, and the pass revoked.
    let d = decide(&rec(), Some(&pend(ISSUE)), Some(&today), 2001, &p).unwrap();
    assert_eq!((d.step, d.revoke), (Step::Restore, true), "{}", d.why);
    let d = decide(&rec(), Some(&pend(ISSUE)), Some(&done), 2001, &p).unwrap();
    assert_eq!((d.step, d.revoke), (Step::Close, true), "{}", d.why);
    // A day of 0 (or none) is no stamp of chpasswd's: an admin forced a change since. Kept.
    let forced = sp("$y$prev");
    let d = decide(&r, None, Some(&forced), 2001, &p).unwrap();
    assert_eq!((d.step, d.revoke), (Step::Close, false), "{}", d.why);
    // A lock cut short after its write is a lock, not the user's change.
    let mut r = rec();
    r.locked_at = Some(2000);
    let d = decide(&r, Some(&pend(SETTLE)), Some(&sp(LOCKED)), 2001, &p).unwrap();
    assert_eq!((d.step, d.revoke), (Step::Close, false));
    assert!(!d.why.contains("changed"), "{}", d.why);
    // Someone else's hash on a live pass is still the handoff done.
    let d = decide(&rec(), None, Some(&sp("$y$mine")), 2001, &p).unwrap();
    assert_eq!((d.step, d.revoke), (Step::Close, true));
}

#[test]
fn owner_marks_name_a_live_process_only() {
    assert!(owner_alive(&owner()));
    assert!(!owner_alive("1:0"));
    assert!(!owner_alive("999999999:1"));
    assert!(!owner_alive("x:1"));
    assert!(!owner_alive(""));
}
