//! Answers that cannot concern pam_tap leave before any user look-up or store access.

use super::*;

const ORDINARY: &[u8] = b"my ordinary password!";

#[test]
fn an_ordinary_password_needs_no_user_and_no_store() {
    let mut w = world("");
    w.store_gone = true;
    // The store cannot even be opened, and one of the users does not exist: neither is looked at.
    for user in ["alice", "mallory", "../../etc/passwd"] {
        assert_eq!(w.auth(T0, answer(user, ORDINARY)), Outcome::NotAPass, "{user}");
    }
    assert!(w.log.0.iter().all(|(l, _)| *l == Level::Debug), "{:?}", w.log.0);
}

#[test]
fn an_ordinary_password_leaves_a_pass_as_it_was() {
    let mut w = world("");
    let (id, _) = w.put("alice", NORMAL);
    let before = w.events();
    assert_eq!(w.auth(T0 + 1, answer("alice", ORDINARY)), Outcome::NotAPass);
    let r = w.record(id);
    assert_eq!((r.failures, r.used_at), (0, None));
    assert_eq!(w.events(), before);
}

#[test]
fn pass_shaped_and_derived_secret_shaped_answers_still_reach_the_store() {
    let derived = hash::derive(b"any key", CODE);
    for a in [CODE.as_bytes(), derived.as_bytes()] {
        let mut w = world("");
        w.store_gone = true;
        assert!(matches!(w.auth(T0, answer("alice", a)), Outcome::Failed(_)));
        assert_eq!(w.auth(T0, answer("mallory", a)), Outcome::UnknownUser);
    }
}
