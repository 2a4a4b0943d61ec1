//! sshd's keys command for key-only servers. sshd runs it as `AuthorizedKeysCommandUser` with the
//! user and the key the client offers; it prints the authorized_keys lines that log in as that user:
//! the keys enrolled with a pass, and, while the user holds a live enrollment pass, the offered key
//! itself, so that sshd goes on to the keyboard-interactive step where pam_tap asks for the pass.
//! It only reads: the keys database (local store) or `pam_tap.keys_for` (fleet store, as a member
//! of pam_tap_keys, with this host's cache when the store cannot be reached). It never runs as
//! root, writes nothing, and derives no key.

use std::io::Write;
use std::path::{Path, PathBuf};

use pam_tap_base::error::{Error, Result};
use pam_tap_base::safefile::Trust;
use pam_tap_base::users::{plausible_name, uid_of};
use pam_tap_core::config::{Policy, DEFAULT_CONFIG};
use pam_tap_store::keys::{self, KeysDb, Lookup, PublicKey};
use pam_tap_store::Database;

/// What sshd asked.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub config: PathBuf,
    pub user: String,
    pub key_type: String,
    pub blob: String,
}

pub fn parse_args(args: &[String]) -> Result<Request> {
    let usage = || Error::Config("usage: pam_tap_keys [--config FILE] USER KEYTYPE KEY (sshd's %u %t %k)".into());
    let (config, rest) = match args {
        [flag, file, rest @ ..] if flag == "--config" => (PathBuf::from(file), rest),
        rest => (PathBuf::from(DEFAULT_CONFIG), rest),
    };
    match rest {
        [user, key_type, blob] => Ok(Request {
            config,
            user: user.clone(),
            key_type: key_type.clone(),
            blob: blob.clone(),
        }),
        _ => Err(usage()),
    }
}

/// Runs one lookup for sshd, writing the lines to `out`.
pub fn run(args: &[String], euid: u32, now: i64, out: &mut dyn Write) -> Result<()> {
    let req = parse_args(args)?;
    if euid == 0 {
        return Err(Error::Refused(
            "refusing to run as root: set AuthorizedKeysCommandUser to the keys user (_pam_tap_keys)".into(),
        ));
    }
    let policy = Policy::load_for_keys(&req.config)?;
    // Keys are bound to the account's uid: none log in as a name nobody holds.
    let Some(uid) = uid_of(&req.user)? else {
        return Ok(());
    };
    let lines = answer(&policy, &req, uid, now, &|c, u, id, h| keys::fleet::lookup(c, u, id, h))?;
    for l in lines {
        writeln!(out, "{l}").map_err(|e| Error::Io(format!("writing to sshd: {e}")))?;
    }
    Ok(())
}

/// The fleet store's answer (a seam for tests: a store that cannot be reached).
pub type FleetLookup<'a> = dyn Fn(&pam_tap_store::Conninfo, &str, u32, &str) -> Result<Lookup> + 'a;

/// The authorized_keys lines for `req` (its user's account has uid `uid`) under `policy` at `now`.
pub fn answer(policy: &Policy, req: &Request, uid: u32, now: i64, fleet: &FleetLookup<'_>) -> Result<Vec<String>> {
    answer_trusting(policy, req, uid, now, fleet, Trust::ROOT)
}

/// [`answer`] with the keys database trusted when `trust`'s owner owns it (root's but in tests).
pub fn answer_trusting(
    policy: &Policy,
    req: &Request,
    uid: u32,
    now: i64,
    fleet: &FleetLookup<'_>,
    trust: Trust,
) -> Result<Vec<String>> {
    if !plausible_name(&req.user) {
        return Ok(vec![]);
    }
    let host = &policy.host_name;
    let found = match &policy.database {
        Database::Sqlite(_) => match open(&policy.enroll.keys_db, trust)? {
            Some(db) => db.lookup(&req.user, uid, host, now)?,
            None => Lookup::default(),
        },
        Database::Postgres(c) => match fleet(c, &req.user, uid, host) {
            Ok(l) => l,
            Err(e) => {
                // The store is out of reach: keys it vouched for lately still log in; nobody
                // enrolls a key until it is back.
                eprintln!("pam_tap_keys: the fleet store cannot be reached ({e}); answering from this host's cache");
                let window = policy.enroll.cache_for.as_secs() as i64;
                match (window > 0)
                    .then(|| open(&policy.enroll.keys_db, trust))
                    .transpose()?
                    .flatten()
                {
                    Some(db) => Lookup {
                        enrolling: false,
                        ..db.lookup_seen_since(&req.user, uid, host, now, now - window)?
                    },
                    None => Lookup::default(),
                }
            }
        },
    };
    let line = |k: &PublicKey| match policy.enroll.verify_required && k.is_security_key() {
        true => format!("verify-required {}", k.line()),
        false => k.line(),
    };
    let mut lines: Vec<String> = found.keys.iter().map(line).collect();
    if found.enrolling {
        if let Ok(offered) = PublicKey::parse(&req.key_type, &req.blob) {
            if policy.enroll.key_types.contains(&offered.key_type) && !found.keys.contains(&offered) {
                lines.push(line(&offered));
            }
        }
    }
    Ok(lines)
}

fn open(path: &Path, trust: Trust) -> Result<Option<KeysDb>> {
    match path.exists() {
        true => KeysDb::open_read_trusting(path, trust).map(Some),
        false => Ok(None),
    }
}

#[cfg(test)]
mod tests;
