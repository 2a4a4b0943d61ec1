//! The shadow side of a reset pass, kept in step with the store.
//!
//! A reset pass sets the account's shadow hash to a secret derived from the pass. That secret is a
//! working pam_unix password on its own for whoever holds the pass and a copy of the database, so
//! the reset must not outlive the pass. Two rules:
//!
//! - **Pending first.** Every shadow change is preceded by a committed, audited mark on the pass
//!   row (`pending`, with the process doing it) and followed by a commit that clears it. A change
//!   cut short (SIGKILL, power loss) or failed half-way (the hash written, its day not) keeps its
//!   mark and is finished or undone at the next touch, judged by comparing the shadow entry with
//!   what the row says was set and what was there before ([`decide`]).
//! - **A dead pass is settled at the next touch** (a login attempt, any tapctl command on that
//!   user, `tapctl purge`): revoked → the previous shadow state comes back; expired, locked or
//!   used without a completed handoff → the account is locked (`!`); the shadow entry no longer
//!   holding the reset (the user set a password) → the handoff is complete and the pass ends. In
//!   every case the derive key is wiped, so the pass can no longer produce the secret.
//!
//! Decisions are made inside the store's `BEGIN IMMEDIATE` with the shadow entry read there.
//! Shadow is changed only through shadow's tools (`users::set_shadow`). Blocking signals during a
//! change is tapctl's business (its `Shield`); the module never does it.

use std::time::Duration;

use crate::config::Policy;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::process::{owner, owner_alive};
use pam_tap_base::users::{self, Directory};
use pam_tap_store::{Context, NewPass, PassRecord, PassStore, Touch};

/// A used pass whose handoff has not completed is left alone at least this long (or the grace
/// window, if longer): the same login is still on its way from authenticate to chauthtok.
pub const HANDOFF_MIN: Duration = Duration::from_secs(600);

/// The hash a dead reset leaves: locked, and `usermod -U` refuses to turn it into no password.
pub const LOCKED: &str = "!";

/// What settling one user did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    pub restored: bool,
    pub locked: bool,
    pub closed: usize,
}

/// Writes `user`'s shadow hash and last-change day through shadow's tools. That is the whole
/// entry as it was: `chpasswd -e` changes only the hash and the day (shadow 4.13), `chage -d`
/// only the day, so the other aging fields are never touched.
fn write_shadow(dir: &dyn Directory, user: &str, hash: &str, lastchg: Option<i64>) -> Result<()> {
    dir.set_shadow(user, hash, lastchg).or_else(|e| {
        // A host that reaps its children itself (SIGCHLD ignored) hides the tool's status:
        // what counts is whether the entry now says what was to be written.
        match dir.shadow(user)? {
            // (For a lock the hash is all that matters; chage may not have run.)
            Some(now) if now.hash == hash && (hash == LOCKED || now.lastchg == lastchg) => Ok(()),
            _ => Err(e),
        }
    })
}

fn settle_one(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    at: &Touch<'_>,
    me: &str,
) -> Result<Settled> {
    // What the decision inside the store's transaction saw and chose, for the change after it.
    let mut decided = None;
    store.begin_settle(at, me, &mut |rec, pending, eff_now| {
        if pending.is_some_and(|p| p.owner != me && owner_alive(&p.owner)) {
            return Ok(None);
        }
        // A change cut short may have left its tool running: read the entry once it is done.
        let sp = match pending {
            Some(_) => dir.shadow_after_tools(&rec.user)?,
            None => dir.shadow(&rec.user)?,
        };
        Ok(decide(rec, pending, sp.as_ref(), eff_now, policy).map(|d| {
            let mark = (d.step != Step::Close).then(|| d.why.to_string());
            decided = Some((d, rec.clone(), sp));
            mark
        }))
    })?;
    let Some((d, rec, sp)) = decided else {
        return Ok(Settled::default());
    };
    let target = match d.step {
        Step::Restore => Some((rec.shadow_prev.as_deref().unwrap_or(LOCKED), rec.shadow_prev_lastchg)),
        Step::Lock => Some((LOCKED, sp.and_then(|s| s.lastchg))),
        Step::Close => None,
    };
    let written = match target {
        Some((hash, lastchg)) => write_shadow(dir, &rec.user, hash, lastchg),
        None => Ok(()),
    };
    if let Err(e) = written {
        // The write may have stopped half-way (the hash written, its day not). The pass stays
        // unsettled (key kept) and its mark stays, so the next touch knows a settle was under
        // way (see `decide`); released, so that touch need not wait for this process to end.
        store.release_pending(&[at.id])?;
        return Err(e);
    }
    let done = match d.step {
        Step::Restore => "previous password restored",
        Step::Lock => "account locked",
        Step::Close => d.why,
    };
    store.end_settle(at, d.revoke, done)?;
    Ok(Settled {
        restored: d.step == Step::Restore,
        locked: d.step == Step::Lock,
        closed: 1,
    })
}

/// Settles every unsettled reset pass of `user`, oldest first: finishes or undoes a change cut
/// short, and closes the side door of a pass that ended. A change another live process is making
/// is left to it.
pub fn settle_user(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    user: &str,
    now: i64,
    ctx: &Context,
) -> Result<Settled> {
    let me = owner();
    let mut total = Settled::default();
    for rec in store.open_resets(Some(user))? {
        let s = settle_one(store, dir, policy, &Touch { id: rec.id, now, ctx }, &me)?;
        total.restored |= s.restored;
        total.locked |= s.locked;
        total.closed += s.closed;
    }
    Ok(total)
}

/// [`settle_user`] for every user with an unsettled reset pass (`tapctl purge`). Goes on past a
/// user that fails and reports the first failure at the end; returns how many passes it settled.
pub fn settle_all(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    now: i64,
    ctx: &Context,
) -> Result<usize> {
    let mut users: Vec<String> = store.open_resets(None)?.into_iter().map(|r| r.user).collect();
    users.dedup();
    let (mut n, mut first_err) = (0, None);
    for u in users {
        match settle_user(store, dir, policy, &u, now, ctx) {
            Ok(s) => n += s.closed,
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// Puts the shadow changes of passes just inserted by [`pam_tap_store::SqliteStore::insert_pending`] in place and
/// clears their marks. If that fails, the passes are revoked and every account whose shadow was
/// touched gets its previous state back; the operator never saw those passes.
pub fn put_in_place(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    rows: &[(i64, NewPass)],
    now: i64,
    ctx: &Context,
) -> Result<()> {
    let set: Vec<(&str, &str, Option<i64>)> = rows
        .iter()
        .filter_map(|(_, n)| n.shadow_set.as_deref().map(|s| (n.user.as_str(), s, Some(0))))
        .collect();
    let ids: Vec<i64> = rows
        .iter()
        .filter(|(_, n)| n.shadow_set.is_some())
        .map(|(id, _)| *id)
        .collect();
    if ids.is_empty() {
        // No reset among them: nothing to put in place (and a fleet store keeps no pending marks).
        return Ok(());
    }
    match users::set_shadow_many(&set) {
        Ok(()) => store.clear_pending(&ids),
        Err((_, e)) => {
            store.abandon(&ids, now, ctx, "issue failed at the shadow change")?;
            let mut undo_err = None;
            for (_, n) in rows.iter().filter(|(_, n)| n.shadow_set.is_some()) {
                if let Err(u) = settle_user(store, dir, policy, &n.user, now, ctx) {
                    undo_err.get_or_insert(u);
                }
            }
            Err(match undo_err {
                None => e,
                Some(u) => Error::Io(format!(
                    "{e}; putting the previous passwords back also failed ({u}): the next tapctl command on those users retries"
                )),
            })
        }
    }
}

/// The module's hook at a login attempt: settles the user's reset passes when one is unsettled,
/// and returns the newest pass as it is afterwards. Costs nothing for a user whose newest pass is
/// settled or not a reset; for a live reset pass one indexed read and one shadow look-up; a
/// shadow change (two tool runs) once per dead pass.
pub fn at_login(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    rec: PassRecord,
    now: i64,
    ctx: &Context,
) -> Result<PassRecord> {
    if store.resets_at_accept() {
        // A fleet host settles the resets it put in place itself, whichever pass is the newest
        // (a pass revoked in the fleet is undone here at this touch).
        return match settle_user(store, dir, policy, &rec.user, now, ctx)?.closed {
            0 => Ok(rec),
            _ => store
                .latest_for(&rec.user)?
                .ok_or_else(|| Error::Store(format!("pass {} vanished", rec.id))),
        };
    }
    if !rec.reset_password || rec.derive_key.is_empty() {
        return Ok(rec);
    }
    // The usual case, a live pass with its reset in place, takes no write lock.
    let pending = store.pending(rec.id)?;
    let eff_now = store.effective_now(now)?;
    if pending.is_none() && decide(&rec, None, dir.shadow(&rec.user)?.as_ref(), eff_now, policy).is_none() {
        return Ok(rec);
    }
    if settle_user(store, dir, policy, &rec.user, now, ctx)?.closed == 0 {
        return Ok(rec);
    }
    store
        .latest_for(&rec.user)?
        .ok_or_else(|| Error::Store(format!("pass {} vanished", rec.id)))
}

mod at_accept;
pub use at_accept::redeem_at_accept;
mod decide;
pub use decide::{decide, Decision, Step};

#[cfg(test)]
mod tests;
