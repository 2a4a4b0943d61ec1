//! What the fleet store changes for a login, on the in-memory store: host scopes, and the cost of
//! a store across a connection for an unknown user.

use super::*;

/// The in-memory store, as a backend that sits across a connection (as the fleet store does);
/// counts how often it is opened.
struct Networked<'a>(&'a mut SqliteStore, &'a std::cell::Cell<u32>);

impl<'a> Backend<'a> for Networked<'a> {
    fn exists(&self) -> bool {
        true
    }
    fn networked(&self) -> bool {
        true
    }
    fn open(self) -> pam_tap_base::error::Result<Opened<'a>> {
        self.1.set(self.1.get() + 1);
        Ok(Opened::Lent(self.0))
    }
}

impl World {
    fn auth_networked(&mut self, now: i64, script: Vec<Call>, opened: &std::cell::Cell<u32>) -> Outcome {
        let mut h = Fake::new(script);
        let mut env = env_at(&self.dir, &mut self.log, now, true);
        authenticate(&mut h, &self.policy, Networked(&mut self.store, opened), &mut env)
    }
}

#[test]
fn a_pass_scoped_to_other_hosts_is_refused_with_reason_host() {
    let mut w = world("host_name = \"ws-0421\"");
    let (id, _) = w.put(
        "alice",
        Put {
            hosts: Some("ws-0001,ws-0002"),
            ..NORMAL
        },
    );
    let out = w.auth(T0 + 1, answer("alice", CODE.as_bytes()));
    assert_eq!(out, Outcome::Refused("host"));
    assert_eq!(w.record(id).used_at, None, "the refused pass stays unused");
    assert_eq!(w.events(), ["issued", "refused"]);
    let audit = w.store.log(Some("alice")).unwrap();
    let reason = audit.last().unwrap().reason.clone().unwrap();
    assert!(reason.starts_with("host: ") && reason.contains("ws-0421"), "{reason}");
    assert!(
        w.log.0.iter().any(|(_, m)| m.contains("outcome=refused reason=host")),
        "{:?}",
        w.log.0
    );
}

#[test]
fn a_pass_scoped_to_this_host_logs_in_whatever_the_case() {
    let mut w = world("host_name = \"ws-0421\"");
    let (id, _) = w.put(
        "alice",
        Put {
            hosts: Some("ws-0001,WS-0421"),
            ..NORMAL
        },
    );
    assert_eq!(
        w.auth(T0 + 1, accepted("alice", CODE.as_bytes(), None)),
        Outcome::Accepted
    );
    assert_eq!(w.record(id).used_at, Some(T0 + 1));
}

#[test]
fn a_pass_for_another_host_is_refused_here_whatever_is_typed_and_counts_nothing() {
    let mut w = world("host_name = \"ws-0421\"");
    let (id, _) = w.put(
        "alice",
        Put {
            hosts: Some("ws-0001"),
            ..NORMAL
        },
    );
    // A wrong answer is not counted (the fleet store refuses to count it for another host), and
    // the right one is refused just the same: the answer is never checked here.
    assert_eq!(w.auth(T0 + 1, answer("alice", b"ABCDEFGHJK")), Outcome::Refused("host"));
    assert_eq!(w.record(id).failures, 0);
    assert_eq!(
        w.auth(T0 + 2, answer("alice", CODE.as_bytes())),
        Outcome::Refused("host")
    );
    assert_eq!(w.record(id).used_at, None);
    assert_eq!(w.events(), ["issued", "refused", "refused"]);
}

#[test]
fn an_unknown_user_costs_a_networked_store_the_same_connection_as_a_known_one() {
    let mut w = world("");
    w.put("alice", NORMAL);
    let opened = std::cell::Cell::new(0);
    let wrong = b"ABCDEFGHJK";
    let calls = |u| vec![Call::User(Ok(u)), Call::Authtok(Ok(wrong.to_vec()))];
    assert_eq!(
        w.auth_networked(T0 + 1, calls("mallory"), &opened),
        Outcome::UnknownUser
    );
    assert_eq!(opened.get(), 1, "the unknown user's decision connected too");
    assert_eq!(w.auth_networked(T0 + 2, calls("bob"), &opened), Outcome::NoPass);
    assert_eq!(opened.get(), 2);
    assert_eq!(w.events(), ["issued"], "the decoy look-up writes nothing");
}
