//! What the PAM module needs from a store of passes, in terms any backend can meet: plain records,
//! Unix times and the crate's own error, no database types. The SQLite store implements it; a
//! fleet backend (PostgreSQL) implements the same operations with the same guarantees: each write
//! is one transaction, and times never go below the store's clock high-water mark.

use std::time::Duration;

use super::{Context, Event, HostReset, PassRecord, Pending, Redeemed};
use pam_tap_base::error::{Error, Result};

pub trait PassStore {
    /// `now`, raised to the latest time any write recorded: a clock set back cannot revive a pass.
    fn effective_now(&self, now: i64) -> Result<i64>;
    /// The user's newest pass, whatever its status.
    fn latest_for(&self, user: &str) -> Result<Option<PassRecord>>;
    /// Marks a usable pass used; of racing redeems of a one-time pass exactly one succeeds.
    fn redeem(&mut self, id: i64, now: i64, enabled: bool, ctx: &Context) -> Result<Redeemed>;
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
        _id: i64,
        _now: i64,
        _enabled: bool,
        _ctx: &Context,
        _reset: &HostReset<'_>,
        _put: &mut dyn FnMut(&PassRecord, &str) -> Result<()>,
    ) -> Result<Redeemed> {
        Err(Error::Store(
            "this store puts a reset in place at issue, not at login".into(),
        ))
    }
    /// Records a login inside the handoff grace window, unless the pass was used less than `gap`
    /// seconds ago.
    fn grace_login(&mut self, id: i64, now: i64, gap: i64, user: &str, ctx: &Context) -> Result<bool>;
    /// Counts one wrong answer (resting or locking the pass); returns whether it is now locked.
    fn record_failure(
        &mut self,
        id: i64,
        now: i64,
        max_failures: u32,
        lockout: Duration,
        ctx: &Context,
    ) -> Result<bool>;
    /// Raises the clock mark to `now`.
    fn note_time(&mut self, now: i64) -> Result<()>;
    /// Writes one audit row.
    fn audit(
        &mut self,
        at: i64,
        ev: Event,
        user: Option<&str>,
        pass_id: Option<i64>,
        ctx: &Context,
        reason: Option<&str>,
    ) -> Result<()>;

    // The shadow side of reset passes (crates/core/src/reset.rs).
    /// The pending shadow change of a pass, if any.
    fn pending(&self, id: i64) -> Result<Option<Pending>>;
    /// Reset passes whose shadow side is not settled yet, oldest first (of one user, or all).
    fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>>;
    /// Runs `decide` on the pass as it is now, inside one write transaction; a decision with a
    /// reason marks the pass pending for `owner` before the caller changes the shadow entry.
    fn begin_settle<T, D>(&mut self, id: i64, now: i64, ctx: &Context, owner: &str, decide: D) -> Result<Option<T>>
    where
        D: FnOnce(&PassRecord, Option<&Pending>, i64) -> Result<Option<(T, Option<String>)>>;
    /// Ends a shadow change: clears the mark, wipes the derive key, optionally revokes.
    fn end_settle(&mut self, id: i64, now: i64, ctx: &Context, revoke: bool, reason: &str) -> Result<()>;
    /// Clears the pending mark of passes whose shadow change is done.
    fn clear_pending(&mut self, ids: &[i64]) -> Result<()>;
    /// Keeps the pending mark of passes whose shadow change failed, owned by no process, for the
    /// next touch to finish.
    fn release_pending(&mut self, ids: &[i64]) -> Result<()>;
    /// Revokes passes whose issue failed, clearing their pending mark.
    fn abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()>;
}

/// Where the module's store comes from. Opened only when a decision needs it, inside the paced
/// window, and dropped at the end of the PAM call (nothing kept across fork).
pub trait Backend {
    type Store: PassStore;
    /// Whether the store was set up at all (`tapctl init`); without one nobody holds a pass.
    fn exists(&self) -> bool;
    /// Whether opening the store means a connection to a server: more time than the pace budget
    /// hides, so the module opens it for unknown users too.
    fn networked(&self) -> bool {
        false
    }
    fn open(self) -> Result<Self::Store>;
}

/// An open store: tests (and tools holding one already) hand it to the core as is.
impl<S: PassStore> Backend for &mut S {
    type Store = Self;
    fn exists(&self) -> bool {
        true
    }
    fn open(self) -> Result<Self> {
        Ok(self)
    }
}

impl<S: PassStore> PassStore for &mut S {
    fn effective_now(&self, now: i64) -> Result<i64> {
        (**self).effective_now(now)
    }
    fn latest_for(&self, user: &str) -> Result<Option<PassRecord>> {
        (**self).latest_for(user)
    }
    fn redeem(&mut self, id: i64, now: i64, enabled: bool, ctx: &Context) -> Result<Redeemed> {
        (**self).redeem(id, now, enabled, ctx)
    }
    fn resets_at_accept(&self) -> bool {
        (**self).resets_at_accept()
    }
    fn redeem_with_reset(
        &mut self,
        id: i64,
        now: i64,
        enabled: bool,
        ctx: &Context,
        reset: &HostReset<'_>,
        put: &mut dyn FnMut(&PassRecord, &str) -> Result<()>,
    ) -> Result<Redeemed> {
        (**self).redeem_with_reset(id, now, enabled, ctx, reset, put)
    }
    fn grace_login(&mut self, id: i64, now: i64, gap: i64, user: &str, ctx: &Context) -> Result<bool> {
        (**self).grace_login(id, now, gap, user, ctx)
    }
    fn record_failure(&mut self, id: i64, now: i64, max: u32, lockout: Duration, ctx: &Context) -> Result<bool> {
        (**self).record_failure(id, now, max, lockout, ctx)
    }
    fn note_time(&mut self, now: i64) -> Result<()> {
        (**self).note_time(now)
    }
    fn audit(
        &mut self,
        at: i64,
        ev: Event,
        user: Option<&str>,
        pass_id: Option<i64>,
        ctx: &Context,
        reason: Option<&str>,
    ) -> Result<()> {
        (**self).audit(at, ev, user, pass_id, ctx, reason)
    }
    fn pending(&self, id: i64) -> Result<Option<Pending>> {
        (**self).pending(id)
    }
    fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>> {
        (**self).open_resets(user)
    }
    fn begin_settle<T, D>(&mut self, id: i64, now: i64, ctx: &Context, owner: &str, decide: D) -> Result<Option<T>>
    where
        D: FnOnce(&PassRecord, Option<&Pending>, i64) -> Result<Option<(T, Option<String>)>>,
    {
        (**self).begin_settle(id, now, ctx, owner, decide)
    }
    fn end_settle(&mut self, id: i64, now: i64, ctx: &Context, revoke: bool, reason: &str) -> Result<()> {
        (**self).end_settle(id, now, ctx, revoke, reason)
    }
    fn clear_pending(&mut self, ids: &[i64]) -> Result<()> {
        (**self).clear_pending(ids)
    }
    fn release_pending(&mut self, ids: &[i64]) -> Result<()> {
        (**self).release_pending(ids)
    }
    fn abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()> {
        (**self).abandon(ids, now, ctx, reason)
    }
}
