//! The core driven by a scripted fake handle, a fake name service and a fixed clock, against the
//! SQLite store in memory, under a policy parsed from text: the whole matrix runs as any user.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;

use pam::constants::PamResultCode::{self, *};
use pam::constants::{PamFlag, PAM_CHANGE_EXPIRED_AUTHTOK};
use zeroize::Zeroizing;

use super::*;
use crate::config::Policy;
use crate::error::Error;
use crate::hash;
use crate::outcome::ErrorKind;
use crate::pam::options::{phase, PAM_PRELIM_CHECK, PAM_UPDATE_AUTHTOK};
use crate::store::{Backend, Context, NewPass, PassRecord, Status, Store};
use crate::users::ShadowEntry;
use crate::users::{Account, Directory};

const T0: i64 = 1_800_000_000;
const CODE: &str = "K7QXM9TRWP";

#[derive(Debug)]
enum Call {
    User(Result<&'static str, PamResultCode>),
    Authtok(Result<Vec<u8>, PamResultCode>),
    Info(&'static str),
    Prompt(&'static str, Result<Vec<u8>, PamResultCode>),
    NewAuthtok(Result<(), PamResultCode>),
    SetOld(Vec<u8>),
    /// The derived secret of a handoff, `None` for a plain pass.
    Remember(Option<String>),
}

/// A PAM handle that expects exactly the scripted calls, in order.
struct Fake {
    script: VecDeque<Call>,
    kept: Option<Accepted>,
    /// PAM_AUTHTOK already set by a module before pam_tap.
    authtok_set: bool,
}

impl Fake {
    fn new(script: Vec<Call>) -> Self {
        Fake {
            script: script.into(),
            kept: None,
            authtok_set: false,
        }
    }
    fn next(&mut self, what: &str) -> Call {
        self.script
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected call {what}: script used up"))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(self.script.is_empty(), "script not used up: {:?}", self.script);
        }
    }
}

impl Handle for Fake {
    fn user(&mut self) -> Result<String, PamResultCode> {
        match self.next("user") {
            Call::User(r) => r.map(str::to_string),
            c => panic!("user() called, script expected {c:?}"),
        }
    }
    fn service(&self) -> Option<String> {
        Some("fake".into())
    }
    fn rhost(&self) -> Option<String> {
        None
    }
    fn authtok(&mut self) -> Result<Secret, PamResultCode> {
        match self.next("authtok") {
            Call::Authtok(r) => r.map(Zeroizing::new),
            c => panic!("authtok() called, script expected {c:?}"),
        }
    }
    fn info(&mut self, text: &str) -> Result<(), PamResultCode> {
        match self.next("info") {
            Call::Info(t) => {
                assert_eq!(t, text);
                Ok(())
            }
            c => panic!("info({text:?}) called, script expected {c:?}"),
        }
    }
    fn prompt_secret(&mut self, prompt: &str) -> Result<Secret, PamResultCode> {
        match self.next("prompt") {
            Call::Prompt(p, r) => {
                assert_eq!(p, prompt);
                r.map(Zeroizing::new)
            }
            c => panic!("prompt_secret({prompt:?}) called, script expected {c:?}"),
        }
    }
    fn new_authtok(&mut self) -> Result<(), PamResultCode> {
        match self.next("new_authtok") {
            Call::NewAuthtok(r) => r,
            c => panic!("new_authtok() called, script expected {c:?}"),
        }
    }
    fn authtok_set(&self) -> bool {
        self.authtok_set
    }
    fn set_old_authtok(&mut self, secret: &[u8]) -> Result<(), PamResultCode> {
        match self.next("set_old_authtok") {
            Call::SetOld(v) => {
                assert_eq!(v, secret);
                Ok(())
            }
            c => panic!("set_old_authtok() called, script expected {c:?}"),
        }
    }
    fn remember(&mut self, accepted: Accepted) -> Result<(), PamResultCode> {
        match self.next("remember") {
            Call::Remember(v) => {
                let derived = match &accepted {
                    Accepted::Handoff(d) => Some(d.as_str()),
                    Accepted::Plain => None,
                };
                assert_eq!(v.as_deref(), derived);
                self.kept = Some(accepted);
                Ok(())
            }
            c => panic!("remember() called, script expected {c:?}"),
        }
    }
    fn remembered(&self) -> Option<Accepted> {
        self.kept.clone()
    }
}

#[derive(Default)]
struct Dir {
    accounts: HashMap<String, Account>,
    shadow: RefCell<HashMap<String, ShadowEntry>>,
}

impl Directory for Dir {
    fn account(&self, name: &str) -> crate::error::Result<Option<Account>> {
        Ok(self.accounts.get(name).cloned())
    }
    fn shadow(&self, name: &str) -> crate::error::Result<Option<ShadowEntry>> {
        Ok(self.shadow.borrow().get(name).cloned())
    }
}

#[derive(Default)]
struct Log(Vec<(Level, String)>);

impl Logger for Log {
    fn log(&mut self, level: Level, msg: &str) {
        self.0.push((level, msg.to_string()));
    }
}

struct World {
    policy: Policy,
    store: Store,
    /// The store cannot be opened (its file went away).
    store_gone: bool,
    dir: Dir,
    log: Log,
}

/// A backend whose store cannot be opened.
struct Gone;

impl Backend for Gone {
    type Store = Store;
    fn exists(&self, _: &Policy) -> bool {
        false
    }
    fn open(self, _: &Policy) -> crate::error::Result<Store> {
        Err(Error::Store("unable to open database file".into()))
    }
}

fn policy(extra_config: &str) -> Policy {
    Policy::parse(&format!(
        "enabled = true\ndatabase = \"/var/lib/pam_tap/tap.db\"\nservices = [\"fake\"]\n{extra_config}"
    ))
    .unwrap()
}

fn world(extra_config: &str) -> World {
    let mut d = Dir::default();
    for (name, uid, groups) in [
        ("alice", 1001, vec!["users"]),
        ("bob", 1002, vec!["users", "sudo"]),
        ("daemon", 2, vec![]),
    ] {
        d.accounts.insert(
            name.into(),
            Account {
                name: name.into(),
                uid,
                groups: groups.into_iter().map(String::from).collect(),
            },
        );
    }
    World {
        policy: policy(extra_config),
        store: Store::in_memory().unwrap(),
        store_gone: false,
        dir: d,
        log: Log::default(),
    }
}

struct Put {
    starts: i64,
    expires: i64,
    one_time: bool,
    reset: bool,
}

const NORMAL: Put = Put {
    starts: T0,
    expires: T0 + 3600,
    one_time: true,
    reset: false,
};

impl World {
    fn put(&mut self, user: &str, p: Put) -> (i64, Vec<u8>) {
        let s = &mut self.store;
        let key = hash::new_derive_key().unwrap().to_vec();
        let set = p.reset.then(|| hash::shadow_crypt(&hash::derive(&key, CODE)).unwrap());
        if let Some(set) = &set {
            self.dir.shadow.borrow_mut().insert(
                user.into(),
                ShadowEntry {
                    hash: set.clone(),
                    lastchg: Some(0),
                    expire: None,
                },
            );
        }
        let new = NewPass {
            user: user.into(),
            uid: self.dir.accounts[user].uid,
            hash: hash::hash(CODE, &crate::config::Policy::default().kdf).unwrap(),
            derive_key: key.clone(),
            created_at: T0,
            starts_at: p.starts,
            expires_at: p.expires,
            one_time: p.one_time,
            reset_password: p.reset,
            issued_by: "root".into(),
            reason: None,
            shadow_set: set,
            shadow_prev: None,
            shadow_prev_lastchg: None,
            issuer_role: None,
            services: None,
        };
        let (id, _) = s
            .insert_pass(user, T0, &Context::default(), |_, _| Ok((new, None)), |_| Ok(()))
            .unwrap();
        (id, key)
    }

    fn auth(&mut self, now: i64, script: Vec<Call>) -> Outcome {
        let mut h = Fake::new(script);
        let mut env = Env {
            now,
            dir: &self.dir,
            log: &mut self.log,
            debug: false,
            caller_is_root: true,
            sudo: &|_: &str| Ok(false),
        };
        if self.store_gone {
            authenticate(&mut h, &self.policy, Gone, &mut env)
        } else {
            authenticate(&mut h, &self.policy, &mut self.store, &mut env)
        }
    }

    /// What the module does when its config does not load.
    fn auth_without_policy(&mut self, e: &Error) -> Outcome {
        let mut h = Fake::new(vec![]);
        let mut env = Env {
            now: T0,
            dir: &self.dir,
            log: &mut self.log,
            debug: false,
            caller_is_root: true,
            sudo: &|_: &str| Ok(false),
        };
        authenticate_without_policy(&mut h, e, &mut env)
    }

    fn chauthtok(&mut self, h: &mut Fake, flags: PamFlag, root: bool) -> PamResultCode {
        let mut env = Env {
            now: T0 + 60,
            dir: &self.dir,
            log: &mut self.log,
            debug: false,
            caller_is_root: root,
            sudo: &|_: &str| Ok(false),
        };
        chauthtok(h, phase(flags), Ok(&self.policy), &mut self.store, &mut env)
    }

    fn record(&self, id: i64) -> PassRecord {
        self.store.get(id).unwrap().unwrap()
    }

    fn events(&self) -> Vec<String> {
        self.store.log(None).unwrap().into_iter().map(|e| e.event).collect()
    }
}

fn answer(user: &'static str, a: &[u8]) -> Vec<Call> {
    vec![Call::User(Ok(user)), Call::Authtok(Ok(a.to_vec()))]
}

fn accepted(user: &'static str, a: &[u8], derived: Option<String>) -> Vec<Call> {
    let mut s = answer(user, a);
    s.push(Call::Remember(derived));
    s
}

#[test]
fn valid_pass_is_accepted_once_and_logged_without_the_secret() {
    let mut w = world("");
    let (id, _) = w.put("alice", NORMAL);
    assert_eq!(
        w.auth(T0 + 10, accepted("alice", b"k7qx-m9tr-wp", None)),
        Outcome::Accepted
    );
    assert_eq!(w.record(id).used_at, Some(T0 + 10));
    assert_eq!(
        w.auth(T0 + 20, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Used)
    );
    assert_eq!(w.events(), ["issued", "used", "refused"]);
    assert!(w
        .log
        .0
        .iter()
        .any(|(l, m)| *l == Level::Info && m.contains("user=alice") && m.contains("outcome=accepted")));
    for (_, m) in &w.log.0 {
        assert!(!m.to_uppercase().contains("K7QX"), "secret in log: {m}");
    }
}

#[test]
fn reusable_pass_works_twice_and_resets_failures() {
    let mut w = world("");
    let (id, _) = w.put(
        "alice",
        Put {
            one_time: false,
            ..NORMAL
        },
    );
    assert_eq!(w.auth(T0 + 1, answer("alice", b"ABCDEFGHJK")), Outcome::Wrong);
    assert_eq!(w.record(id).failures, 1);
    assert_eq!(
        w.auth(T0 + 2, accepted("alice", CODE.as_bytes(), None)),
        Outcome::Accepted
    );
    assert_eq!(
        w.auth(T0 + 3, accepted("alice", CODE.as_bytes(), None)),
        Outcome::Accepted
    );
    let r = w.record(id);
    assert_eq!((r.use_count, r.failures), (2, 0));
}

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
    assert_eq!(
        w.chauthtok(&mut h, PAM_PRELIM_CHECK | PAM_CHANGE_EXPIRED_AUTHTOK, false),
        PAM_SUCCESS
    );
    h.script.push_back(Call::Info(CHOOSE_NEW_PASSWORD));
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(
        w.chauthtok(&mut h, PAM_UPDATE_AUTHTOK | PAM_CHANGE_EXPIRED_AUTHTOK, false),
        PAM_SUCCESS
    );
    h.script.push_back(Call::Info(CHOOSE_NEW_PASSWORD));
    h.script.push_back(Call::NewAuthtok(Err(PAM_AUTHTOK_ERR)));
    assert_eq!(w.chauthtok(&mut h, PAM_UPDATE_AUTHTOK, false), PAM_AUTHTOK_ERR);
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
    let expired = PAM_CHANGE_EXPIRED_AUTHTOK;
    assert_eq!(w.chauthtok(&mut h, PAM_PRELIM_CHECK | expired, false), PAM_SUCCESS);
    assert_eq!(w.chauthtok(&mut h, PAM_UPDATE_AUTHTOK | expired, false), PAM_SUCCESS);
    // When a module before pam_tap (pam_pwquality) has asked for the new password already, the
    // line would come too late to help: not sent.
    h.authtok_set = true;
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, PAM_UPDATE_AUTHTOK | expired, false), PAM_SUCCESS);
}

#[test]
fn a_refused_pass_hears_nothing_and_no_forced_change_means_no_line() {
    let mut w = world("");
    w.put("alice", Put { reset: true, ..NORMAL });
    w.put("bob", NORMAL);
    let expired = PAM_CHANGE_EXPIRED_AUTHTOK;
    // Wrong pass, then the same handle reaches chauthtok (an application that ignores the auth
    // result): no info(), only the new-password prompt.
    let mut h = Fake::new(answer("alice", b"K7QXM9TRWQ"));
    let mut env = Env {
        now: T0 + 1,
        dir: &w.dir,
        log: &mut w.log,
        debug: false,
        caller_is_root: true,
        sudo: &|_: &str| Ok(false),
    };
    assert_eq!(authenticate(&mut h, &w.policy, &mut w.store, &mut env), Outcome::Wrong);
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, PAM_UPDATE_AUTHTOK | expired, false), PAM_SUCCESS);
    drop(h);
    // A pass accepted without a reset: nothing is forced, nothing is said.
    let mut h = Fake::new(accepted("bob", CODE.as_bytes(), None));
    let mut env = Env {
        now: T0 + 1,
        dir: &w.dir,
        log: &mut w.log,
        debug: false,
        caller_is_root: true,
        sudo: &|_: &str| Ok(false),
    };
    assert_eq!(
        authenticate(&mut h, &w.policy, &mut w.store, &mut env),
        Outcome::Accepted
    );
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, PAM_UPDATE_AUTHTOK | expired, false), PAM_SUCCESS);
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
    assert_eq!(w.chauthtok(&mut h, PAM_PRELIM_CHECK, false), PAM_SUCCESS);
    // ...and its UPDATE says what is happening before "New password", as after a login with it.
    h.script.push_back(Call::Info(CHOOSE_NEW_PASSWORD));
    h.script.push_back(Call::NewAuthtok(Ok(())));
    assert_eq!(w.chauthtok(&mut h, PAM_UPDATE_AUTHTOK, false), PAM_SUCCESS);
    drop(h);
    // Anything else is passed on unchanged for pam_unix to judge.
    let mut h = Fake::new(vec![
        Call::User(Ok("alice")),
        Call::Prompt(CURRENT_PASSWORD_PROMPT, Ok(b"my old password".to_vec())),
        Call::SetOld(b"my old password".to_vec()),
    ]);
    assert_eq!(w.chauthtok(&mut h, PAM_PRELIM_CHECK, false), PAM_SUCCESS);
    drop(h);
    // Root changing a password outside an expiry flow is never prompted.
    let mut h = Fake::new(vec![]);
    assert_eq!(w.chauthtok(&mut h, PAM_PRELIM_CHECK, true), PAM_SUCCESS);
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
    assert_eq!(w.chauthtok(&mut h, PAM_PRELIM_CHECK, false), PAM_SUCCESS);
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
    assert_eq!(w.chauthtok(&mut h, PAM_PRELIM_CHECK, false), PAM_SUCCESS);
}

#[test]
fn window_statuses_are_refused_with_their_reason() {
    let mut w = world("");
    w.put("alice", NORMAL);
    assert_eq!(
        w.auth(T0 + 3600, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Expired)
    );
    let mut w = world("");
    w.put(
        "alice",
        Put {
            starts: T0 + 600,
            expires: T0 + 4200,
            ..NORMAL
        },
    );
    assert_eq!(
        w.auth(T0, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::NotYetValid)
    );
    assert_eq!(w.events(), ["issued", "refused"]);
}

#[test]
fn clock_set_back_does_not_revive_an_expired_pass() {
    let mut w = world("");
    w.put(
        "alice",
        Put {
            one_time: false,
            ..NORMAL
        },
    );
    w.put("bob", NORMAL);
    // Something was recorded after alice's pass expired...
    assert_eq!(
        w.auth(T0 + 7200, answer("bob", CODE.as_bytes())),
        Outcome::Unusable(Status::Expired)
    );
    // ...so a clock set back into alice's window still finds it expired.
    assert_eq!(
        w.auth(T0 + 100, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Expired)
    );
}

#[test]
fn failures_rest_the_pass_doubling_each_time_and_kill_it_at_100() {
    let mut w = world("[pass]\nmax_failures = 3\nlockout = \"60s\"\n");
    let (id, _) = w.put(
        "alice",
        Put {
            one_time: false,
            ..NORMAL
        },
    );
    assert_eq!(w.auth(T0 + 1, answer("alice", b"ABCDEFGHJK")), Outcome::Wrong);
    assert_eq!(w.auth(T0 + 2, answer("alice", b"ABCDEFGHJM")), Outcome::Wrong);
    assert_eq!(w.auth(T0 + 3, answer("alice", b"ABCDEFGHJN")), Outcome::NowLocked);
    // Resting: even the right answer is refused, and wrong ones are not counted.
    assert_eq!(
        w.auth(T0 + 4, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Resting)
    );
    assert_eq!(w.auth(T0 + 5, answer("alice", b"ABCDEFGHJP")), Outcome::Wrong);
    assert_eq!(w.record(id).rest_until, Some(T0 + 3 + 60));
    assert!(w.record(id).locked_at.is_none());
    // The rest ends; the next three wrong answers rest it twice as long.
    for t in 0..3 {
        w.auth(T0 + 63 + t, answer("alice", b"ABCDEFGHJK"));
    }
    assert_eq!(w.record(id).rest_until, Some(T0 + 65 + 120));
    assert_eq!(
        w.auth(T0 + 65 + 120, accepted("alice", CODE.as_bytes(), None)),
        Outcome::Accepted
    );
    assert_eq!(
        w.events(),
        [
            "issued", "failed", "failed", "failed", "resting", "refused", "failed", "failed", "failed", "resting",
            "used"
        ]
    );
    // 100 wrong answers in all: dead, for good.
    w.store
        .conn()
        .execute("UPDATE passes SET total_failures = 99", [])
        .unwrap();
    assert_eq!(w.auth(T0 + 400, answer("alice", b"ABCDEFGHJK")), Outcome::NowLocked);
    assert!(w.record(id).locked_at.is_some());
    assert_eq!(
        w.auth(T0 + 100_000, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Locked)
    );
}

#[test]
fn answers_that_cannot_be_a_pass_are_not_counted() {
    let mut w = world("");
    let (id, _) = w.put("alice", NORMAL);
    assert_eq!(
        w.auth(T0 + 1, answer("alice", b"my ordinary password!")),
        Outcome::NotAPass
    );
    assert_eq!(w.record(id).failures, 0);
    assert_eq!(Outcome::NotAPass.pam_code(), PAM_IGNORE);
}

#[test]
fn users_without_pass_unknown_users_and_revoked_passes() {
    let mut w = world("");
    assert_eq!(w.auth(T0, answer("alice", CODE.as_bytes())), Outcome::NoPass);
    assert_eq!(w.auth(T0, answer("mallory", CODE.as_bytes())), Outcome::UnknownUser);
    assert_eq!(
        w.auth(T0, answer("../../etc/passwd", CODE.as_bytes())),
        Outcome::UnknownUser
    );
    let (id, _) = w.put("alice", NORMAL);
    w.store
        .revoke(id, T0 + 1, &Context::default(), None, |_| Ok(()))
        .unwrap();
    assert_eq!(
        w.auth(T0 + 2, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Revoked)
    );
    assert!(!w
        .log
        .0
        .iter()
        .any(|(_, m)| m.contains("mallory") || m.contains("passwd")));
}

#[test]
fn ineligible_users_are_refused_at_login() {
    let mut w = world("[users]\nexclude_groups = [\"sudo\"]\n");
    w.put("bob", NORMAL);
    w.put("daemon", NORMAL);
    assert_eq!(w.auth(T0 + 1, answer("bob", CODE.as_bytes())), Outcome::NotEligible);
    assert_eq!(w.auth(T0 + 1, answer("daemon", CODE.as_bytes())), Outcome::NotEligible);
    let mut w = world("[users]\ninclude_groups = [\"staff\"]\n");
    w.put("alice", NORMAL);
    assert_eq!(w.auth(T0 + 1, answer("alice", CODE.as_bytes())), Outcome::NotEligible);
}

#[test]
fn disabled_policy_never_prompts() {
    let mut w = world("");
    w.put("alice", NORMAL);
    w.policy.enabled = false;
    assert_eq!(w.auth(T0 + 1, vec![]), Outcome::Disabled);
}

#[test]
fn bad_input_conversation_errors_and_broken_files_fail_closed() {
    let mut w = world("");
    w.put("alice", NORMAL);
    assert_eq!(w.auth(T0, answer("alice", b"")), Outcome::BadInput);
    assert_eq!(w.auth(T0, answer("alice", &[b'A'; 513])), Outcome::BadInput);
    assert_eq!(
        w.auth(T0, vec![Call::User(Ok("alice")), Call::Authtok(Err(PAM_CONV_ERR))]),
        Outcome::Conversation
    );
    assert_eq!(w.auth(T0, vec![Call::User(Err(PAM_SYSTEM_ERR))]), Outcome::UnknownUser);
    w.store_gone = true;
    assert_eq!(
        w.auth(T0, answer("alice", CODE.as_bytes())),
        Outcome::Failed(ErrorKind::Store)
    );
    let bad = Policy::parse("enabled = 3").unwrap_err();
    assert_eq!(w.auth_without_policy(&bad), Outcome::Failed(ErrorKind::Config));
    assert!(w.log.0.iter().any(|(l, m)| *l == Level::Alert && m.contains("config")));
    for o in [
        Outcome::BadInput,
        Outcome::Conversation,
        Outcome::Failed(ErrorKind::Store),
        Outcome::Failed(ErrorKind::Config),
    ] {
        assert_ne!(o.pam_code(), PAM_SUCCESS);
    }
}

#[test]
fn unsafe_config_is_refused_with_an_alert() {
    let mut w = world("");
    w.put("alice", NORMAL);
    // A config anyone may write, loaded the way the module loads it.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pam_tap.toml");
    std::fs::write(&cfg, "enabled = true\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o666)).unwrap();
    let unsafe_cfg = Policy::load(&cfg).unwrap_err();
    let why = unsafe_cfg.to_string();
    assert_eq!(w.auth_without_policy(&unsafe_cfg), Outcome::Failed(ErrorKind::Unsafe));
    assert_eq!(Outcome::Failed(ErrorKind::Unsafe).pam_code(), PAM_SERVICE_ERR);
    assert!(w.log.0.iter().any(|(l, m)| *l == Level::Alert && m.contains(&why)));
    if nix::unistd::geteuid().is_root() {
        // As root the file's owner passes, so the mode is what is refused.
        assert!(why.contains("writable"), "{why}");
    }
}

#[test]
fn setcred_succeeds_only_after_an_accepted_pass() {
    let mut w = world("");
    w.put("alice", NORMAL);
    let mut h = Fake::new(accepted("alice", CODE.as_bytes(), None));
    assert_eq!(setcred(&h), PAM_IGNORE);
    let mut env = Env {
        now: T0 + 1,
        dir: &w.dir,
        log: &mut w.log,
        debug: false,
        caller_is_root: true,
        sudo: &|_: &str| Ok(false),
    };
    assert_eq!(
        authenticate(&mut h, &w.policy, &mut w.store, &mut env),
        Outcome::Accepted
    );
    assert_eq!(setcred(&h), PAM_SUCCESS);
}

#[test]
fn tampered_hash_fails_closed() {
    let mut w = world("");
    let (id, _) = w.put("alice", NORMAL);
    w.store
        .conn()
        .execute(
            "UPDATE passes SET hash = replace(hash, 'm=19456', 'm=99999999') WHERE id = ?1",
            [id],
        )
        .unwrap();
    assert_eq!(
        w.auth(T0 + 1, answer("alice", CODE.as_bytes())),
        Outcome::Failed(ErrorKind::Hash)
    );
    assert_eq!(w.record(id).used_at, None);
}
