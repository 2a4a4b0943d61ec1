//! The core driven by a scripted fake handle, a fake name service and a fixed clock, against the
//! SQLite store in memory, under a policy parsed from text: the whole matrix runs as any user.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;

use zeroize::Zeroizing;

use super::*;
use crate::config::Policy;
use crate::outcome::{ChangeOutcome, CredOutcome, ErrorKind};
use pam_tap_base::error::Error;
use pam_tap_base::hash;
use pam_tap_base::users::ShadowEntry;
use pam_tap_base::users::{Account, Directory};
use pam_tap_store::admin::Batch;
use pam_tap_store::{Backend, Context, NewPass, Opened, PassRecord, SqliteStore, Status, Touch};

const T0: i64 = 1_800_000_000;
/// T0's day, the last-change day chpasswd stamps.
const TODAY: i64 = T0 / 86_400;
const CODE: &str = "K7QXM9TRWP";

#[derive(Debug)]
enum Call {
    User(Result<&'static str, HandleError>),
    Authtok(Result<Vec<u8>, HandleError>),
    Info(&'static str),
    Prompt(&'static str, Result<Vec<u8>, HandleError>),
    NewAuthtok(Result<(), HandleError>),
    SetOld(Vec<u8>),
    /// libpam refuses to set PAM_OLDAUTHTOK.
    SetOldRefused(HandleError),
    /// The derived secret of a handoff, `None` for a plain pass.
    Remember(Option<String>),
}

/// A PAM handle that expects exactly the scripted calls, in order.
struct Fake {
    script: VecDeque<Call>,
    kept: Option<Accepted>,
    /// PAM_AUTHTOK already set by a module before pam_tap.
    authtok_set: bool,
    /// sshd's SSH_AUTH_INFO_0 in the PAM environment.
    auth_info: Option<String>,
}

impl Fake {
    fn new(script: Vec<Call>) -> Self {
        Fake {
            script: script.into(),
            kept: None,
            authtok_set: false,
            auth_info: None,
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
    fn user(&mut self) -> Result<String, HandleError> {
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
    fn authtok(&mut self) -> Result<Secret, HandleError> {
        match self.next("authtok") {
            Call::Authtok(r) => r.map(Zeroizing::new),
            c => panic!("authtok() called, script expected {c:?}"),
        }
    }
    fn info(&mut self, text: &str) -> Result<(), HandleError> {
        match self.next("info") {
            Call::Info(t) => {
                assert_eq!(t, text);
                Ok(())
            }
            c => panic!("info({text:?}) called, script expected {c:?}"),
        }
    }
    fn prompt_secret(&mut self, prompt: &str) -> Result<Secret, HandleError> {
        match self.next("prompt") {
            Call::Prompt(p, r) => {
                assert_eq!(p, prompt);
                r.map(Zeroizing::new)
            }
            c => panic!("prompt_secret({prompt:?}) called, script expected {c:?}"),
        }
    }
    fn new_authtok(&mut self) -> Result<(), HandleError> {
        match self.next("new_authtok") {
            Call::NewAuthtok(r) => r,
            c => panic!("new_authtok() called, script expected {c:?}"),
        }
    }
    fn authtok_set(&self) -> bool {
        self.authtok_set
    }
    fn set_old_authtok(&mut self, secret: &[u8]) -> Result<(), HandleError> {
        match self.next("set_old_authtok") {
            Call::SetOld(v) => {
                assert_eq!(v, secret);
                Ok(())
            }
            Call::SetOldRefused(e) => Err(e),
            c => panic!("set_old_authtok() called, script expected {c:?}"),
        }
    }
    fn remember(&mut self, accepted: Accepted) -> Result<(), HandleError> {
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
    fn auth_info(&self) -> Option<String> {
        self.auth_info.clone()
    }
}

#[derive(Default)]
struct Dir {
    accounts: HashMap<String, Account>,
    shadow: RefCell<HashMap<String, ShadowEntry>>,
    /// chage refuses, as it did under su: a write leaves the hash with today's last-change day.
    chage_refuses: Cell<bool>,
    /// Each user's own authorized_keys text.
    authorized_keys: HashMap<String, String>,
}

impl Directory for Dir {
    fn account(&self, name: &str) -> pam_tap_base::error::Result<Option<Account>> {
        Ok(self.accounts.get(name).cloned())
    }
    fn shadow(&self, name: &str) -> pam_tap_base::error::Result<Option<ShadowEntry>> {
        Ok(self.shadow.borrow().get(name).cloned())
    }
    /// As `chpasswd -e` then `chage -d`: the hash with today as its day, then the day asked for.
    fn set_shadow(&self, user: &str, crypted: &str, lastchg: Option<i64>) -> pam_tap_base::error::Result<()> {
        let mut all = self.shadow.borrow_mut();
        let Some(entry) = all.get_mut(user) else {
            return Err(Error::Io(format!("chpasswd: user '{user}' does not exist")));
        };
        entry.hash = crypted.into();
        entry.lastchg = Some(TODAY);
        if self.chage_refuses.get() {
            return Err(Error::Io("\"chage\" failed: chage: Permission denied.".into()));
        }
        entry.lastchg = lastchg;
        Ok(())
    }
    fn authorized_keys(&self, name: &str, _patterns: &[String]) -> pam_tap_base::error::Result<String> {
        Ok(self.authorized_keys.get(name).cloned().unwrap_or_default())
    }
    /// No tool of the fake's runs on: the entry as it is.
    fn shadow_after_tools(&self, user: &str) -> pam_tap_base::error::Result<Option<ShadowEntry>> {
        self.shadow(user)
    }
}

#[derive(Default)]
struct Log(Vec<(Level, String)>);

impl Logger for Log {
    fn log(&mut self, level: Level, msg: &str) {
        self.0.push((level, msg.to_string()));
    }
}

/// The world as the core sees it at `now`, with sudo granting root to nobody.
fn env_at<'a>(dir: &'a Dir, log: &'a mut Log, now: i64, caller_is_root: bool) -> Env<'a> {
    Env {
        now,
        dir,
        log,
        debug: false,
        caller_is_root,
        sudo: &|_: &str| Ok(false),
    }
}

struct World {
    policy: Policy,
    store: SqliteStore,
    /// The store cannot be opened (its file went away).
    store_gone: bool,
    dir: Dir,
    log: Log,
}

/// A backend whose store cannot be opened.
struct Gone;

impl Backend<'static> for Gone {
    fn exists(&self) -> bool {
        false
    }
    fn open(self) -> pam_tap_base::error::Result<Opened<'static>> {
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
        store: SqliteStore::in_memory().unwrap(),
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
    /// The hosts the pass is scoped to.
    hosts: Option<&'static str>,
    /// The pass only enrolls an SSH key.
    enroll: bool,
}

const NORMAL: Put = Put {
    starts: T0,
    expires: T0 + 3600,
    one_time: true,
    reset: false,
    hosts: None,
    enroll: false,
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
            hosts: p.hosts.map(str::to_string),
            enroll_key: p.enroll,
        };
        let (id, _) = s
            .insert_pass(user, T0, &Context::default(), |_, _| Ok((new, None)), |_| Ok(()))
            .unwrap();
        (id, key)
    }

    fn auth(&mut self, now: i64, script: Vec<Call>) -> Outcome {
        let mut h = Fake::new(script);
        let mut env = env_at(&self.dir, &mut self.log, now, true);
        if self.store_gone {
            authenticate(&mut h, &self.policy, Gone, &mut env)
        } else {
            authenticate(&mut h, &self.policy, &mut self.store, &mut env)
        }
    }

    /// What the module does when its config does not load.
    fn auth_without_policy(&mut self, e: &Error) -> Outcome {
        let mut h = Fake::new(vec![]);
        let mut env = env_at(&self.dir, &mut self.log, T0, true);
        authenticate_without_policy(&mut h, e, &mut env)
    }

    fn chauthtok(&mut self, h: &mut Fake, phase: Phase, root: bool) -> ChangeOutcome {
        let mut env = env_at(&self.dir, &mut self.log, T0 + 60, root);
        chauthtok(h, Some(phase), Ok((&self.policy, &mut self.store)), &mut env)
    }

    fn record(&self, id: i64) -> PassRecord {
        self.store.get(id).unwrap().unwrap()
    }

    fn events(&self) -> Vec<String> {
        self.store.log(None).unwrap().into_iter().map(|e| e.event).collect()
    }
}

/// PRELIM of a password change; `expired`: the change an expiry forces.
const PRELIM: Phase = Phase::Prelim { expired: false };
const PRELIM_EXPIRED: Phase = Phase::Prelim { expired: true };

fn answer(user: &'static str, a: &[u8]) -> Vec<Call> {
    vec![Call::User(Ok(user)), Call::Authtok(Ok(a.to_vec()))]
}

fn accepted(user: &'static str, a: &[u8], derived: Option<String>) -> Vec<Call> {
    let mut s = answer(user, a);
    s.push(Call::Remember(derived));
    s
}

mod answer_shape;
mod change_paths;
mod enroll;
mod fleet;
mod handoff;
mod login;
mod settle;
