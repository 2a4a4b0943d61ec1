//! Enrolled SSH keys as operators see and revoke them, and the enrollment windows tapctl opens
//! and closes in the local keys database (the fleet store answers those itself).

use super::{may_act_on, target, Operator};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::text;
use pam_tap_base::users::{group_id, Directory};
use pam_tap_core::config::Policy;
use pam_tap_store::admin::AdminStore;
use pam_tap_store::keys::{plausible_fingerprint, KeysDb, NewKey};
use pam_tap_store::{AuditRow, Event};

use super::Issued;

/// The keys database, created (with its group) when `create`; `None` when it does not exist.
fn local(policy: &Policy, create: bool) -> Result<Option<KeysDb>> {
    let path = &policy.enroll.keys_db;
    if create {
        let gid = group_id(&policy.enroll.keys_group)?;
        return KeysDb::open_write(path, gid).map(Some);
    }
    match path.exists() {
        true => KeysDb::open_write(path, None).map(Some),
        false => Ok(None),
    }
}

/// The keys of the local keys database (none when it does not exist), for `tapctl migrate`.
pub fn local_keys(policy: &Policy) -> Result<Vec<NewKey>> {
    match local(policy, false)? {
        Some(db) => db.list(None),
        None => Ok(vec![]),
    }
}

/// Every enrolled key (of one user, or all), oldest first.
pub fn list(store: &mut dyn AdminStore, policy: &Policy, user: Option<&str>) -> Result<Vec<NewKey>> {
    if let Some(u) = user {
        text::check_request(u, None)?;
    }
    if store.keeps_keys() {
        return store.keys(user);
    }
    match local(policy, false)? {
        Some(db) => db.list(user),
        None => Ok(vec![]),
    }
}

/// Removes `user`'s enrolled key `fingerprint` (roles as for revoke), audited as `key_revoked`.
/// It stops logging in at once: sshd's keys command no longer names it, and the enrollment step
/// no longer knows it.
#[allow(clippy::too_many_arguments)]
pub fn revoke(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    user: &str,
    fingerprint: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<NewKey> {
    text::check_request(user, reason)?;
    if !plausible_fingerprint(fingerprint) {
        return Err(Error::Refused(format!(
            "{:?} is not a key fingerprint (SHA256:… as ssh-keygen -l prints it)",
            text::shown(fingerprint)
        )));
    }
    let acct = target(dir, user)?;
    may_act_on(policy, op, &acct)?;
    let ctx = op.context();
    let why = match reason {
        Some(r) => format!("{fingerprint}: {r}"),
        None => fingerprint.to_string(),
    };
    let missing = || Error::Refused(format!("{} has no enrolled key {fingerprint}", acct.name));
    if store.keeps_keys() {
        return store
            .revoke_key(&acct.name, fingerprint, &ctx, &why)?
            .ok_or_else(missing);
    }
    let gone = match local(policy, false)? {
        Some(mut db) => db.revoke(&acct.name, fingerprint)?,
        None => None,
    }
    .ok_or_else(missing)?;
    store.audit(&AuditRow {
        at: store.effective_now(now)?,
        event: Event::KeyRevoked,
        user: Some(&acct.name),
        pass_id: gone.pass_id,
        reason: Some(&why),
        ctx: &ctx,
    })?;
    Ok(gone)
}

/// A new enrollment pass of the local store: sshd's keys command may now let its holder offer a
/// key. Other windows of the user close (a replaced pass enrolls nothing).
pub fn open_window(store: &dyn AdminStore, policy: &Policy, pass: &Issued) -> Result<()> {
    if store.keeps_keys() {
        return Ok(());
    }
    let mut db = local(policy, true)?.ok_or_else(|| Error::Store("no keys database".into()))?;
    db.close_windows(&pass.user)?;
    db.open_window(
        pass.pass_id,
        &pass.user,
        pass.starts_at,
        pass.expires_at,
        pass.hosts.as_deref(),
    )
}

/// A revoked pass enrolls nothing: its window closes.
pub fn close_windows(store: &dyn AdminStore, policy: &Policy, user: &str) -> Result<()> {
    if store.keeps_keys() {
        return Ok(());
    }
    match local(policy, false)? {
        Some(mut db) => db.close_windows(user),
        None => Ok(()),
    }
}
