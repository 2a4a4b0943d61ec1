//! What the PAM module needs from a store of passes, in terms any backend can meet: plain records,
//! Unix times and the base's own error, no database types. The SQLite store implements it; the
//! fleet backend (PostgreSQL) implements the same operations with the same guarantees: each write
//! is one transaction, and times never go below the store's clock high-water mark.
//!
//! The trait is object safe (callbacks are `dyn`), so a store is a `Box<dyn PassStore>` or a
//! `&mut dyn PassStore` wherever it goes; nothing forwards its methods by hand.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::keys::PublicKey;
use super::{Context, Event, HostReset, PassRecord, Pending, Redeemed};
use pam_tap_base::error::{Error, Result};

/// One pass, touched at one time for one login or command.
#[derive(Debug, Clone, Copy)]
pub struct Touch<'a> {
    pub id: i64,
    /// The caller's clock (a store raises it to its own high-water mark, or takes its own).
    pub now: i64,
    pub ctx: &'a Context,
}

/// One audit row as a caller writes it.
#[derive(Debug, Clone, Copy)]
pub struct AuditRow<'a> {
    pub at: i64,
    pub event: Event,
    pub user: Option<&'a str>,
    pub pass_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub ctx: &'a Context,
}

/// How wrong answers rest and lock a pass (the policy's `max_failures` and `lockout`).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub max_failures: u32,
    pub lockout: Duration,
}

/// Judges a reset pass inside the store's write transaction: given the pass as it is now, its
/// pending mark and the effective time, `None` leaves it alone, `Some(mark)` goes ahead (a mark
/// text makes the pass pending before the caller changes the shadow entry). What the caller needs
/// afterwards it keeps in its own state.
pub type SettleDecider<'a> = dyn FnMut(&PassRecord, Option<&Pending>, i64) -> Result<Option<Option<String>>> + 'a;

/// Writes the shadow entry of a reset accepted at login: the used pass and the hash to set.
pub type ShadowWriter<'a> = dyn FnMut(&PassRecord, &str) -> Result<()> + 'a;

pub trait PassStore {
    /// `now`, raised to the latest time any write recorded: a clock set back cannot revive a pass.
    fn effective_now(&self, now: i64) -> Result<i64>;
    /// The user's newest pass, whatever its status.
    fn latest_for(&self, user: &str) -> Result<Option<PassRecord>>;
    /// Marks a usable pass used; of racing redeems of a one-time pass exactly one succeeds.
    fn redeem(&mut self, at: &Touch<'_>, enabled: bool) -> Result<Redeemed>;
    /// Whether a reset pass changes the shadow entry when a host accepts it (the fleet store)
    /// rather than when it is issued (the local store, where tapctl runs on the host itself).
    fn resets_at_accept(&self) -> bool {
        false
    }
    /// [`PassStore::redeem`] for a reset pass of a store that resets at accept time: records
    /// `reset` and runs `put` (the shadow change) before the use is committed, so a pass is never
    /// used up without its reset in place. A failure may leave the reset pending, to be settled.
    fn redeem_with_reset(
        &mut self,
        _at: &Touch<'_>,
        _enabled: bool,
        _reset: &HostReset<'_>,
        _put: &mut ShadowWriter<'_>,
    ) -> Result<Redeemed> {
        Err(Error::Store(
            "this store puts a reset in place at issue, not at login".into(),
        ))
    }
    /// Whether this store keeps the enrolled SSH keys itself (the fleet store). The local store
    /// keeps them in the keys database beside it ([`crate::keys::KeysDb`]).
    fn keeps_keys(&self) -> bool {
        false
    }
    /// Whether `key` logs in as `user`, the account with uid `uid`, on this host (a store that
    /// [`PassStore::keeps_keys`]).
    fn key_known(&mut self, _user: &str, _uid: u32, _key: &PublicKey) -> Result<bool> {
        Err(Error::Store("this store keeps no keys".into()))
    }
    /// Enrolls `key` for the pass this host has just redeemed, audited as `enrolled`; `false` when
    /// the pass enrolled a key already (a store that [`PassStore::keeps_keys`]).
    fn enroll_key(&mut self, _at: &Touch<'_>, _key: &PublicKey) -> Result<bool> {
        Err(Error::Store("this store keeps no keys".into()))
    }
    /// Records a login of `user` inside the handoff grace window, unless the pass was used less
    /// than `gap` seconds ago.
    fn grace_login(&mut self, at: &Touch<'_>, gap: i64, user: &str) -> Result<bool>;
    /// Counts one wrong answer (resting or locking the pass); returns whether it is now locked.
    fn record_failure(&mut self, at: &Touch<'_>, rules: &Backoff) -> Result<bool>;
    /// Raises the clock mark to `now`.
    fn note_time(&mut self, now: i64) -> Result<()>;
    /// Writes one audit row.
    fn audit(&mut self, row: &AuditRow<'_>) -> Result<()>;

    // The shadow side of reset passes (crates/core/src/reset.rs).
    /// The pending shadow change of a pass, if any.
    fn pending(&self, id: i64) -> Result<Option<Pending>>;
    /// Reset passes whose shadow side is not settled yet, oldest first (of one user, or all).
    fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>>;
    /// Runs `decide` on the pass as it is now, inside one write transaction; a decision with a
    /// mark makes the pass pending for `owner` before the caller changes the shadow entry.
    /// Returns whether `decide` went ahead.
    fn begin_settle(&mut self, at: &Touch<'_>, owner: &str, decide: &mut SettleDecider<'_>) -> Result<bool>;
    /// Ends a shadow change: clears the mark, wipes the derive key, optionally revokes.
    fn end_settle(&mut self, at: &Touch<'_>, revoke: bool, reason: &str) -> Result<()>;
    /// Clears the pending mark of passes whose shadow change is done.
    fn clear_pending(&mut self, ids: &[i64]) -> Result<()>;
    /// Keeps the pending mark of passes whose shadow change failed, owned by no process, for the
    /// next touch to finish.
    fn release_pending(&mut self, ids: &[i64]) -> Result<()>;
    /// Revokes passes whose issue failed, clearing their pending mark.
    fn abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()>;
}

/// A store the core works on: one it opened (and drops at the end of the PAM call), or one a
/// caller lends it (tests, tools that hold one already).
pub enum Opened<'a> {
    Owned(Box<dyn PassStore + 'a>),
    Lent(&'a mut dyn PassStore),
}

impl<'a> Deref for Opened<'a> {
    type Target = dyn PassStore + 'a;
    fn deref(&self) -> &Self::Target {
        match self {
            Opened::Owned(s) => s.as_ref(),
            Opened::Lent(s) => &**s,
        }
    }
}

impl DerefMut for Opened<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Opened::Owned(s) => s.as_mut(),
            Opened::Lent(s) => &mut **s,
        }
    }
}

/// Where the module's store comes from. Opened only when a decision needs it, inside the paced
/// window, and dropped at the end of the PAM call (nothing kept across fork).
pub trait Backend<'a> {
    /// Whether the store was set up at all (`tapctl init`); without one nobody holds a pass.
    fn exists(&self) -> bool;
    /// Whether opening the store means a connection to a server: more time than the pace budget
    /// hides, so the module opens it for unknown users too.
    fn networked(&self) -> bool {
        false
    }
    fn open(self) -> Result<Opened<'a>>;
}

/// An open store: tests (and tools holding one already) hand it to the core as is.
impl<'a, S: PassStore + 'a> Backend<'a> for &'a mut S {
    fn exists(&self) -> bool {
        true
    }
    fn open(self) -> Result<Opened<'a>> {
        Ok(Opened::Lent(self))
    }
}
