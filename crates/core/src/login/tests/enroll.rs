//! The key enrollment step (`pam_tap.so enroll`) with the fake handle: which key sshd proved, what
//! vouches for it, and when the pass is asked for. (Enrolling into the keys database, a root-owned
//! file, is the end-to-end tests' part: tests/e2e/clients/key_enrollment.rs.)

use super::*;
use crate::login::{enroll, enroll_prompt};
use pam_tap_store::keys::PublicKey;

const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIM4pmH4fO4hNTBvtG5iATBC5q8NDTT1XP1qDvLjc2hlm";
const FP: &str = "SHA256:stqvfm2CefTyMhDZBZfOhjjMRGIi1DIqYDSetHLmX0Q";

fn info() -> String {
    format!("publickey ssh-ed25519 {ED}\n")
}

impl World {
    fn enroll_step(&mut self, now: i64, auth_info: Option<String>, script: Vec<Call>) -> Outcome {
        let mut h = Fake::new(script);
        h.auth_info = auth_info;
        let mut env = env_at(&self.dir, &mut self.log, now, true);
        enroll(&mut h, &self.policy, &mut self.store, &mut env)
    }

    fn failures(&self, id: i64) -> u32 {
        let rec = self.store.latest_for("alice").unwrap().unwrap();
        assert_eq!(rec.id, id);
        rec.failures
    }
}

/// The keys database lives in a directory of the test's own, never the system's.
fn keys_world(extra: &str) -> (World, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let w = world(&format!(
        "[enroll]\nkeys_db = \"{}\"\n{extra}",
        dir.path().join("k/keys.db").display()
    ));
    (w, dir)
}

#[test]
fn without_a_key_proven_first_nothing_is_asked_and_nothing_gets_in() {
    let (mut w, _d) = keys_world("");
    w.put("alice", Put { enroll: true, ..NORMAL });
    let o = w.enroll_step(T0 + 5, None, vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::Refused("no_key"));
    let two = format!("{}publickey ssh-ed25519 {ED}\n", info());
    let o = w.enroll_step(T0 + 5, Some(two), vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::Refused("no_key"), "two keys: which one?");
}

#[test]
fn a_key_in_the_users_own_authorized_keys_passes_with_no_prompt() {
    let (mut w, _d) = keys_world("");
    w.dir
        .authorized_keys
        .insert("alice".into(), format!("ssh-ed25519 {ED} alice@laptop\n"));
    let o = w.enroll_step(T0 + 5, Some(info()), vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::KeyKnown);
}

#[test]
fn an_unknown_key_without_a_live_enrollment_pass_is_refused_with_no_prompt() {
    let (mut w, _d) = keys_world("");
    let o = w.enroll_step(T0 + 5, Some(info()), vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::Refused("key_unknown"));
    // A login pass is no enrollment pass; an expired enrollment pass is none either.
    w.put("alice", NORMAL);
    let o = w.enroll_step(T0 + 5, Some(info()), vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::Refused("key_unknown"));
    w.put("alice", Put { enroll: true, ..NORMAL });
    let o = w.enroll_step(T0 + 3600, Some(info()), vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::Refused("key_unknown"));
}

#[test]
fn a_wrong_answer_enrolls_nothing_and_counts_as_a_failure() {
    let (mut w, _d) = keys_world("");
    let (id, _) = w.put("alice", Put { enroll: true, ..NORMAL });
    let prompt: &'static str = Box::leak(enroll_prompt(FP).into_boxed_str());
    let script = vec![
        Call::User(Ok("alice")),
        Call::Prompt(prompt, Ok(b"ABCDEFGHJK".to_vec())),
    ];
    assert_eq!(w.enroll_step(T0 + 5, Some(info()), script), Outcome::Wrong);
    assert_eq!(w.failures(id), 1);
    // A password is no pass either: counted the same.
    let script = vec![
        Call::User(Ok("alice")),
        Call::Prompt(prompt, Ok(b"my own password".to_vec())),
    ];
    assert_eq!(w.enroll_step(T0 + 6, Some(info()), script), Outcome::Wrong);
    assert_eq!(w.failures(id), 2);
}

#[test]
fn a_key_type_policy_does_not_allow_is_refused_before_the_prompt() {
    let (mut w, _d) = keys_world("key_types = [\"sk-ssh-ed25519@openssh.com\"]\n");
    w.put("alice", Put { enroll: true, ..NORMAL });
    let o = w.enroll_step(T0 + 5, Some(info()), vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::Refused("key_type"));
}

#[test]
fn an_enrollment_pass_is_no_credential_at_a_password_prompt() {
    let (mut w, _d) = keys_world("");
    w.put("alice", Put { enroll: true, ..NORMAL });
    let o = w.auth(
        T0 + 5,
        vec![Call::User(Ok("alice")), Call::Authtok(Ok(CODE.as_bytes().to_vec()))],
    );
    assert_eq!(o, Outcome::Refused("enroll_only"));
    assert!(PublicKey::parse("ssh-ed25519", ED).unwrap().fingerprint() == FP);
}

#[test]
fn a_pass_issued_for_another_account_of_the_name_enrolls_nothing_and_asks_nothing() {
    let (mut w, _d) = keys_world("");
    w.put("alice", Put { enroll: true, ..NORMAL });
    // alice deleted after the pass was issued, and a new account made under the name.
    w.dir.accounts.get_mut("alice").unwrap().uid += 1;
    let o = w.enroll_step(T0 + 5, Some(info()), vec![Call::User(Ok("alice"))]);
    assert_eq!(o, Outcome::Refused("uid"));
}
