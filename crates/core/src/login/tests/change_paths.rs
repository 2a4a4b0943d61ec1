//! Every way a password change ends besides the handoff itself (crates/core/src/login/tests/handoff.rs): the
//! core's word for each, which crates/core/src/outcome.rs turns into the PAM code.

use super::*;

impl World {
    /// A password change as a user (not root) at T0 + 60; `broken`: the policy did not load.
    fn change(&mut self, h: &mut Fake, phase: Option<Phase>, broken: Option<&Error>) -> ChangeOutcome {
        let mut env = env_at(&self.dir, &mut self.log, T0 + 60, false);
        match (broken, self.store_gone) {
            (Some(e), _) => chauthtok(h, phase, Err::<(&Policy, Gone), _>(e), &mut env),
            (None, true) => chauthtok(h, phase, Ok((&self.policy, Gone)), &mut env),
            (None, false) => chauthtok(h, phase, Ok((&self.policy, &mut self.store)), &mut env),
        }
    }

    /// alice's reset pass, accepted at T0 + 1: a fresh process is now in its grace window.
    fn alice_in_grace(&mut self) -> String {
        let (_, key) = self.put("alice", Put { reset: true, ..NORMAL });
        let derived = hash::derive(&key, CODE).to_string();
        let login = accepted("alice", CODE.as_bytes(), Some(derived.clone()));
        assert_eq!(self.auth(T0 + 1, login), Outcome::Accepted);
        derived
    }
}

fn grace_answer(a: Result<Vec<u8>, HandleError>) -> Fake {
    Fake::new(vec![Call::User(Ok("alice")), Call::Prompt(CURRENT_PASSWORD_PROMPT, a)])
}

#[test]
fn flags_naming_neither_pass_change_nothing() {
    let mut w = world("");
    w.alice_in_grace();
    let mut h = Fake::new(vec![]);
    assert_eq!(w.change(&mut h, None, None), ChangeOutcome::NoPhase);
}

#[test]
fn no_pass_in_play_leaves_the_current_password_to_pam_unix() {
    let mut w = world("");
    // Nobody holds a pass; unknown and impossible names are never prompted.
    for user in ["alice", "mallory", "../../etc/passwd"] {
        let mut h = Fake::new(vec![Call::User(Ok(user))]);
        assert_eq!(
            w.change(&mut h, Some(PRELIM), None),
            ChangeOutcome::NothingToAdd,
            "{user}"
        );
    }
    // No store yet (`tapctl init` not run): not even the user is asked for.
    w.store_gone = true;
    let mut h = Fake::new(vec![]);
    assert_eq!(
        w.change(&mut h, Some(PRELIM_EXPIRED), None),
        ChangeOutcome::NothingToAdd
    );
    w.store_gone = false;
    w.alice_in_grace();
    w.policy.enabled = false;
    let mut h = Fake::new(vec![]);
    assert_eq!(w.change(&mut h, Some(PRELIM), None), ChangeOutcome::NothingToAdd);
}

#[test]
fn a_user_name_the_handle_cannot_give_is_an_unknown_user() {
    let mut w = world("");
    w.alice_in_grace();
    let mut h = Fake::new(vec![Call::User(Err(HandleError::System))]);
    assert_eq!(w.change(&mut h, Some(PRELIM), None), ChangeOutcome::UnknownUser);
}

#[test]
fn a_policy_that_did_not_load_fails_the_change_with_an_alert() {
    let mut w = world("");
    let bad = Policy::parse("enabled = 3").unwrap_err();
    let mut h = Fake::new(vec![]);
    assert_eq!(
        w.change(&mut h, Some(PRELIM_EXPIRED), Some(&bad)),
        ChangeOutcome::Failed(ErrorKind::Config)
    );
    assert!(w.log.0.iter().any(|(l, m)| *l == Level::Alert && m.contains("config")));
    // A handoff kept on the handle needs no policy: it goes ahead.
    let mut h = Fake::new(vec![Call::SetOld(b"derived".to_vec())]);
    h.kept = Some(Accepted::Handoff(Zeroizing::new("derived".into())));
    assert_eq!(
        w.change(&mut h, Some(PRELIM_EXPIRED), Some(&bad)),
        ChangeOutcome::HandedOff
    );
}

#[test]
fn an_empty_or_overlong_grace_answer_aborts_the_change() {
    let mut w = world("");
    w.alice_in_grace();
    for a in [vec![], vec![b'A'; 513]] {
        let mut h = grace_answer(Ok(a));
        assert_eq!(w.change(&mut h, Some(PRELIM), None), ChangeOutcome::BadAnswer);
    }
}

#[test]
fn handle_failures_come_back_as_they_came() {
    let mut w = world("");
    let derived = w.alice_in_grace();
    // At the grace prompt: a broken conversation, and a code only the application chooses.
    for e in [HandleError::Conversation, HandleError::Other(30)] {
        let mut h = grace_answer(Err(e));
        assert_eq!(w.change(&mut h, Some(PRELIM), None), ChangeOutcome::Handle(e));
    }
    // The answer is not the pass, and libpam will not take it as PAM_OLDAUTHTOK.
    let mut h = grace_answer(Ok(b"my old password".to_vec()));
    h.script.push_back(Call::SetOldRefused(HandleError::Buffer));
    assert_eq!(
        w.change(&mut h, Some(PRELIM), None),
        ChangeOutcome::Handle(HandleError::Buffer)
    );
    // The handoff on the handle that accepted the pass.
    let mut h = Fake::new(vec![Call::SetOldRefused(HandleError::BadItem)]);
    h.kept = Some(Accepted::Handoff(Zeroizing::new(derived)));
    assert_eq!(
        w.change(&mut h, Some(PRELIM_EXPIRED), None),
        ChangeOutcome::Handle(HandleError::BadItem)
    );
    assert!(
        !w.log.0.iter().any(|(_, m)| m.contains("outcome=handoff")),
        "{:?}",
        w.log.0
    );
}
