//! The password handoff: the derived secret at the forced change, the grace login and the grace
//! prompt, and what a refused pass hears.

use super::*;

#[test]
fn reset_pass_keeps_the_derived_secret_for_the_handoff() {
    let mut w = world("");
    let (_, key) = w.put("alice", Put { reset: true, ..NORMAL });
    let derived = hash::derive(&key, CODE).to_string();
    assert_eq!(
        w.auth(T0 + 1, accepted("alice", CODE.as_bytes(), Some(derived.clone()))),
        Outcome::Accepted
    );
    // Same handle: PRELIM hands pam_unix the derived secret, UPDATE makes sure a new one is typed.
    let mut h = Fake::new(vec![Call::SetOld(derived.clone().into_bytes())]);
    h.kept = Some(Accepted::Handoff(Zeroizing::new(derived)));
    assert_eq!(w.chauthtok(&mut h, PRELIM_EXPIRED, false), ChangeOutcome::HandedOff);
    h.script.push_back(Call::Info(CHOOSE_NEW_PASSWORD));
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, Phase::Update, false), ChangeOutcome::NewPasswordSet);
    h.script.push_back(Call::Info(CHOOSE_NEW_PASSWORD));
    h.script.push_back(Call::NewAuthtok(Err(HandleError::Authtok)));
    assert_eq!(
        w.chauthtok(&mut h, Phase::Update, false),
        ChangeOutcome::Handle(HandleError::Authtok)
    );
}

#[test]
fn an_accepted_pass_with_a_forced_change_says_so_once_right_before_the_new_password() {
    let mut w = world("");
    let (_, key) = w.put("alice", Put { reset: true, ..NORMAL });
    let derived = hash::derive(&key, CODE).to_string();
    // Auth itself says nothing: the fake panics on an unscripted info().
    assert_eq!(
        w.auth(T0 + 1, accepted("alice", CODE.as_bytes(), Some(derived.clone()))),
        Outcome::Accepted
    );
    let mut h = Fake::new(vec![
        Call::SetOld(derived.clone().into_bytes()),
        Call::Info(CHOOSE_NEW_PASSWORD),
        Call::NewAuthtok(Ok(())),
    ]);
    h.kept = Some(Accepted::Handoff(Zeroizing::new(derived)));
    assert_eq!(w.chauthtok(&mut h, PRELIM_EXPIRED, false), ChangeOutcome::HandedOff);
    assert_eq!(w.chauthtok(&mut h, Phase::Update, false), ChangeOutcome::NewPasswordSet);
    // When a module before pam_tap (pam_pwquality) has asked for the new password already, the
    // line would come too late to help: not sent.
    h.authtok_set = true;
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, Phase::Update, false), ChangeOutcome::NewPasswordSet);
}

#[test]
fn a_refused_pass_hears_nothing_and_no_forced_change_means_no_line() {
    let mut w = world("");
    w.put("alice", Put { reset: true, ..NORMAL });
    w.put("bob", NORMAL);
    // Wrong pass, then the same handle reaches chauthtok (an application that ignores the auth
    // result): no info(), only the new-password prompt.
    let mut h = Fake::new(answer("alice", b"K7QXM9TRWQ"));
    let mut env = env_at(&w.dir, &mut w.log, T0 + 1, true);
    assert_eq!(authenticate(&mut h, &w.policy, &mut w.store, &mut env), Outcome::Wrong);
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, Phase::Update, false), ChangeOutcome::NewPasswordSet);
    drop(h);
    // A pass accepted without a reset: nothing is forced, nothing is said.
    let mut h = Fake::new(accepted("bob", CODE.as_bytes(), None));
    let mut env = env_at(&w.dir, &mut w.log, T0 + 1, true);
    assert_eq!(
        authenticate(&mut h, &w.policy, &mut w.store, &mut env),
        Outcome::Accepted
    );
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, Phase::Update, false), ChangeOutcome::NewPasswordSet);
}

#[test]
fn grace_login_and_grace_prompt_while_the_change_is_pending() {
    let mut w = world("[handoff]\ngrace = \"15m\"\nrelogin = true\n");
    let (_, key) = w.put("alice", Put { reset: true, ..NORMAL });
    let derived = hash::derive(&key, CODE).to_string();
    assert_eq!(
        w.auth(T0 + 1, accepted("alice", CODE.as_bytes(), Some(derived.clone()))),
        Outcome::Accepted
    );
    // Logins racing the first one get nothing...
    assert_eq!(
        w.auth(T0 + 5, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Used)
    );
    // ...but when sshd refused the session for want of a tty, the pass logs in again within the window.
    assert_eq!(
        w.auth(T0 + 60, accepted("alice", CODE.as_bytes(), Some(derived.clone()))),
        Outcome::AcceptedInGrace
    );
    // A fresh `passwd` run by the user: one "Current password:" prompt; the pass becomes the derived secret.
    let mut h = Fake::new(vec![
        Call::User(Ok("alice")),
        Call::Prompt(CURRENT_PASSWORD_PROMPT, Ok(b"k7qx m9tr wp".to_vec())),
        Call::SetOld(derived.clone().into_bytes()),
        Call::Remember(Some(derived.clone())),
    ]);
    assert_eq!(w.chauthtok(&mut h, PRELIM, false), ChangeOutcome::GraceAnswered);
    // ...and its UPDATE says what is happening before "New password", as after a login with it.
    h.script.push_back(Call::Info(CHOOSE_NEW_PASSWORD));
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, Phase::Update, false), ChangeOutcome::NewPasswordSet);
    drop(h);
    // Anything else is passed on unchanged for pam_unix to judge.
    let mut h = Fake::new(vec![
        Call::User(Ok("alice")),
        Call::Prompt(CURRENT_PASSWORD_PROMPT, Ok(b"my old password".to_vec())),
        Call::SetOld(b"my old password".to_vec()),
    ]);
    assert_eq!(w.chauthtok(&mut h, PRELIM, false), ChangeOutcome::PassedOn);
    drop(h);
    // Root changing a password outside an expiry flow is never prompted.
    let mut h = Fake::new(vec![]);
    assert_eq!(w.chauthtok(&mut h, PRELIM, true), ChangeOutcome::NothingToAdd);
    drop(h);
    // Once the password has changed the window closes at once.
    w.dir.shadow.borrow_mut().insert(
        "alice".into(),
        ShadowEntry {
            hash: "$y$new".into(),
            lastchg: Some(20000),
            expire: None,
        },
    );
    assert_eq!(
        w.auth(T0 + 120, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Used)
    );
    let mut h = Fake::new(vec![Call::User(Ok("alice"))]);
    assert_eq!(w.chauthtok(&mut h, PRELIM, false), ChangeOutcome::NothingToAdd);
    drop(h);
    // And after the window, even with the change still pending.
    w.dir.shadow.borrow_mut().insert(
        "alice".into(),
        ShadowEntry {
            hash: w.record(1).shadow_set.unwrap(),
            lastchg: Some(0),
            expire: None,
        },
    );
    assert_eq!(
        w.auth(T0 + 16 * 60, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Used)
    );
}

#[test]
fn wrong_answers_in_the_relogin_window_count_and_rest_the_pass() {
    let mut w = world("[handoff]\ngrace = \"15m\"\nrelogin = true\n[pass]\nmax_failures = 2\nlockout = \"60s\"\n");
    let (id, key) = w.put("alice", Put { reset: true, ..NORMAL });
    let derived = hash::derive(&key, CODE).to_string();
    assert_eq!(
        w.auth(T0 + 1, accepted("alice", CODE.as_bytes(), Some(derived.clone()))),
        Outcome::Accepted
    );
    assert_eq!(w.auth(T0 + 20, answer("alice", b"ABCDEFGHJK")), Outcome::Wrong);
    assert_eq!(w.auth(T0 + 21, answer("alice", b"ABCDEFGHJM")), Outcome::NowLocked);
    assert_eq!(w.record(id).total_failures, 2);
    assert_eq!(
        w.auth(T0 + 30, answer("alice", CODE.as_bytes())),
        Outcome::Refused("resting")
    );
    // After the rest the window still lets the pass in.
    assert_eq!(
        w.auth(T0 + 90, accepted("alice", CODE.as_bytes(), Some(derived))),
        Outcome::AcceptedInGrace
    );
}

#[test]
fn without_relogin_a_used_pass_never_logs_in_again() {
    let mut w = world("");
    let (_, key) = w.put("alice", Put { reset: true, ..NORMAL });
    let derived = hash::derive(&key, CODE).to_string();
    assert_eq!(
        w.auth(T0 + 1, accepted("alice", CODE.as_bytes(), Some(derived.clone()))),
        Outcome::Accepted
    );
    assert_eq!(
        w.auth(T0 + 60, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Used)
    );
    // The `passwd` prompt still takes the pass within the window: it grants no login.
    let mut h = Fake::new(vec![
        Call::User(Ok("alice")),
        Call::Prompt(CURRENT_PASSWORD_PROMPT, Ok(CODE.as_bytes().to_vec())),
        Call::SetOld(derived.clone().into_bytes()),
        Call::Remember(Some(derived)),
    ]);
    assert_eq!(w.chauthtok(&mut h, PRELIM, false), ChangeOutcome::GraceAnswered);
}
