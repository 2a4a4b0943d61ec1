//! Whether the key sshd accepted is enrolled for this account (its name and uid): the fleet store's
//! answer (kept in this host's cache for when the store cannot be reached, at most `[enroll]
//! cache_for`), or the local keys database.

use pam_tap_base::error::Error;
use pam_tap_base::users::group_id;
use pam_tap_store::keys::{KeysDb, NewKey};
use pam_tap_store::Database;

use super::Attempt;
use crate::config::Policy;

/// A cached key's `seen_at` is refreshed at most this often (each refresh is a durable write).
const REFRESH_AFTER: i64 = 60;

pub(super) fn enrolled(policy: &Policy, at: &mut Attempt<'_>, now: i64) -> Result<bool, Error> {
    let host = &policy.host_name;
    let fleet = matches!(policy.database, Database::Postgres(_));
    if let Some(store) = at.store.as_mut().filter(|s| s.keeps_keys()) {
        return match store.key_known(&at.acct.name, at.acct.uid, &at.key) {
            Ok(true) => {
                remember(policy, at, now);
                Ok(true)
            }
            Ok(false) => Ok(false),
            // The store failed mid-call: the cache answers for keys it vouched for lately.
            Err(e) => match cached(policy, at, now)? {
                true => Ok(true),
                false => Err(e),
            },
        };
    }
    if fleet {
        return cached(policy, at, now);
    }
    match keys_db(policy)? {
        Some(db) => db.is_enrolled(&at.acct.name, at.acct.uid, &at.key, host, i64::MIN),
        None => Ok(false),
    }
}

/// The keys database, `None` when none was made yet (no key enrolled, no window opened).
fn keys_db(policy: &Policy) -> Result<Option<KeysDb>, Error> {
    match policy.enroll.keys_db.exists() {
        true => KeysDb::open_read(&policy.enroll.keys_db).map(Some),
        false => Ok(None),
    }
}

/// A fleet key this host's cache saw vouched for within `cache_for`.
fn cached(policy: &Policy, at: &Attempt<'_>, now: i64) -> Result<bool, Error> {
    let window = policy.enroll.cache_for.as_secs() as i64;
    if window == 0 {
        return Ok(false);
    }
    match keys_db(policy)? {
        Some(db) => db.is_enrolled(&at.acct.name, at.acct.uid, &at.key, &policy.host_name, now - window),
        None => Ok(false),
    }
}

/// Keeps a key the fleet store vouched for in this host's cache. Best effort: a cache that cannot
/// be written costs only the logins during a later outage.
pub(super) fn remember(policy: &Policy, at: &Attempt<'_>, now: i64) {
    if policy.enroll.cache_for.is_zero() {
        return;
    }
    let fresh = keys_db(policy).ok().flatten().is_some_and(|db| {
        db.is_enrolled(
            &at.acct.name,
            at.acct.uid,
            &at.key,
            &policy.host_name,
            now - REFRESH_AFTER,
        )
        .unwrap_or(false)
    });
    if fresh {
        return;
    }
    let gid = group_id(&policy.enroll.keys_group).ok().flatten();
    let key = NewKey {
        user: at.acct.name.clone(),
        uid: Some(at.acct.uid),
        key: at.key.clone(),
        pass_id: None,
        host: Some(policy.host_name.clone()),
        hosts: None,
        enrolled_at: now,
    };
    let _ = KeysDb::open_write(&policy.enroll.keys_db, gid).and_then(|mut db| db.cache(&key, now));
}
