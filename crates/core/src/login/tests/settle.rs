//! A reset settled at a login attempt whose shadow write stops half-way: chpasswd wrote the hash
//! (with today as its last-change day) and chage refused, as it did under su. The next touch
//! finishes the write; nothing is taken for the user's own change.

use super::*;
use pam_tap_store::{Pending, ISSUE};

/// alice's hash before the pass; her change was forced by an admin (`chage -d 0`).
const PREV: &str = "$y$j9T$before$the-pass";
/// Pass-shaped, and not the pass.
const JUNK: &[u8] = b"K7QXM9TRWQ";

/// A reset pass for alice whose issue was cut short after the reset: the row still marked `issue`
/// by a tapctl that is gone (a pid above any pid_max).
fn cut_short_issue(w: &mut World) -> i64 {
    let key = hash::new_derive_key().unwrap().to_vec();
    let set = hash::shadow_crypt(&hash::derive(&key, CODE)).unwrap();
    let reset = ShadowEntry {
        hash: set.clone(),
        lastchg: Some(0),
        expire: None,
    };
    w.dir.shadow.borrow_mut().insert("alice".into(), reset);
    let new = NewPass {
        user: "alice".into(),
        uid: 1001,
        hash: hash::hash(CODE, &Policy::default().kdf).unwrap(),
        derive_key: key,
        created_at: T0,
        starts_at: T0,
        expires_at: T0 + 3600,
        one_time: true,
        reset_password: true,
        issued_by: "root".into(),
        reason: None,
        shadow_set: Some(set),
        shadow_prev: Some(PREV.into()),
        shadow_prev_lastchg: Some(0),
        issuer_role: None,
        services: None,
        hosts: None,
        enroll_key: false,
    };
    let ctx = Context::default();
    let rows = w
        .store
        .insert_pending(
            &Batch {
                users: &["alice"],
                now: T0,
                ctx: &ctx,
                owner: "999999999:1",
            },
            &mut |_, _, _| Ok((new.clone(), None)),
        )
        .unwrap();
    rows[0].0
}

fn alice(w: &World) -> (String, Option<i64>) {
    let e = w.dir.shadow.borrow()["alice"].clone();
    (e.hash, e.lastchg)
}

#[test]
fn a_settle_whose_last_change_day_was_refused_is_finished_at_the_next_touch() {
    let mut w = world("");
    let id = cut_short_issue(&mut w);
    // The first touch (a pass-shaped answer at `su alice`): the hash goes back, chage refuses.
    w.dir.chage_refuses.set(true);
    let out = w.auth(T0 + 60, answer("alice", JUNK));
    assert!(matches!(out, Outcome::Failed(_)), "{out:?}");
    assert_eq!(alice(&w), (PREV.to_string(), Some(TODAY)));
    let left = w.store.pending(id).unwrap();
    let kept_key = !w.record(id).derive_key.is_empty();

    // The next touch finishes it: the previous entry exactly, the admin's forced change included.
    w.dir.chage_refuses.set(false);
    assert_eq!(w.auth(T0 + 120, answer("alice", JUNK)), Outcome::Wrong);
    let reasons: Vec<String> = w
        .store
        .log(Some("alice"))
        .unwrap()
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert_eq!(alice(&w), (PREV.to_string(), Some(0)), "{reasons:?}");
    assert!(!reasons.iter().any(|r| r.contains("changed")), "{reasons:?}");
    assert_eq!(reasons.last().map(String::as_str), Some("previous password restored"));
    let r = w.record(id);
    assert!(r.revoked_at.is_some() && r.derive_key.is_empty(), "{r:?}");
    assert_eq!(w.store.pending(id).unwrap(), None);
    // In between: the pass unsettled, its mark left for any process to finish.
    let mark = Pending {
        what: ISSUE.into(),
        owner: String::new(),
    };
    assert_eq!((left, kept_key), (Some(mark), true));
}
