//! The handoff in a fleet: a reset pass changes the shadow entry of the host that accepts it, at
//! that moment, so that host keeps what it did in its own SQLite store (`host_store`): a row per
//! accepted reset pass, under the fleet pass's id, with the hash it set and the state before it.
//! The shadow side (crates/core/src/reset.rs) runs on those rows exactly as on the local store's reset passes,
//! with the fleet row's status laid over them: a pass revoked, locked or expired in the fleet is
//! settled on this host at its next touch (a login attempt with a pass-shaped answer, or
//! `tapctl purge` run here). The previous password hash never leaves the host.

use std::path::{Path, PathBuf};

use super::PgStore;
use crate::{
    Context, Event, HostReset, PassRecord, Pending, Redeemed, SettleDecider, ShadowWriter, SqliteStore, Touch, ISSUE,
};
use pam_tap_base::error::{Error, Result};

/// A host's own store: the path from the config, opened (every trust check) if it exists, created
/// at the first reset pass accepted here.
pub(super) struct HostSide {
    path: PathBuf,
    store: Option<SqliteStore>,
}

impl HostSide {
    pub(super) fn at(path: &Path) -> Result<Self> {
        let store = match path.exists() {
            true => Some(SqliteStore::open(path)?),
            false => None,
        };
        Ok(HostSide {
            path: path.to_path_buf(),
            store,
        })
    }

    fn created(&mut self) -> Result<&mut SqliteStore> {
        if self.store.is_none() {
            self.store = Some(SqliteStore::create(&self.path)?);
        }
        self.store
            .as_mut()
            .ok_or_else(|| Error::Store("the host store could not be opened".into()))
    }
}

/// The fleet's row as this host sees it: the fleet decides status and window; what the reset did
/// here (the hashes), the pass's hash and derive key (which the database hands a host only when it
/// accepts the pass; the host row's key is wiped to mark it settled) and a local end (the change
/// made here ends the pass here) come from this host's row.
fn merged(fleet: PassRecord, local: &PassRecord) -> PassRecord {
    PassRecord {
        hash: local.hash.clone(),
        derive_key: local.derive_key.clone(),
        shadow_set: local.shadow_set.clone(),
        shadow_prev: local.shadow_prev.clone(),
        shadow_prev_lastchg: local.shadow_prev_lastchg,
        revoked_at: fleet.revoked_at.or(local.revoked_at),
        ..fleet
    }
}

/// A row the fleet no longer has (purged there): it ends now, so the reset is undone or the
/// account locked, never left working.
fn orphaned(local: &PassRecord, now: i64) -> PassRecord {
    PassRecord {
        expires_at: local.expires_at.min(now),
        ..local.clone()
    }
}

impl PgStore {
    fn local(&self) -> Option<&SqliteStore> {
        self.host.as_ref().and_then(|h| h.store.as_ref())
    }

    fn local_mut(&mut self) -> Option<&mut SqliteStore> {
        self.host.as_mut().and_then(|h| h.store.as_mut())
    }

    /// One fleet pass this host accepted, whatever its status (`None`: purged).
    fn fleet_pass(&self, id: i64) -> Result<Option<PassRecord>> {
        self.one("SELECT * FROM pam_tap.host_pass($1::bigint)", &[Some(&id.to_string())])?
            .map(|r| PassRecord::from_host_view(&r))
            .transpose()
    }

    /// The user's newest fleet pass, with this host's side of it when it accepted it.
    pub(super) fn latest_here(&self, user: &str) -> Result<Option<PassRecord>> {
        let Some(fleet) = self.latest_fleet(user)? else {
            return Ok(None);
        };
        Ok(Some(
            match self.local().map(|s| s.get(fleet.id)).transpose()?.flatten() {
                Some(local) => merged(fleet, &local),
                None => fleet,
            },
        ))
    }

    /// Marks a usable reset pass used and, inside the same transaction (the row locked), records
    /// it in this host's store and lets `put` write the shadow entry (the hash the reset sets,
    /// made from the derive key the acceptance returned): committed only once the reset is in
    /// place. A failure after the host row was written leaves it pending, for the caller
    /// (crates/core/src/reset.rs) to undo.
    pub(super) fn redeem_resetting(
        &mut self,
        id: i64,
        enabled: bool,
        ctx: &Context,
        reset: &HostReset<'_>,
        put: &mut ShadowWriter<'_>,
    ) -> Result<Redeemed> {
        let mut host = self
            .host
            .take()
            .ok_or_else(|| Error::Store("a reset pass on the fleet store needs host_store".into()))?;
        let owner = pam_tap_base::process::owner();
        // Set when a login of the same pass here put its reset in place while this one waited
        // for the row lock: this use joins it.
        let mut in_place = None;
        let mut set = None;
        let done = self.redeem_then(id, enabled, ctx, |rec| {
            let local = host.created()?;
            if let Some(row) = local.get(id)?.filter(|r| !r.derive_key.is_empty()) {
                in_place = Some(row);
                return Ok(());
            }
            let hash = (reset.set_for)(&rec.derive_key)?;
            local.insert_host_reset(rec, &hash, reset, rec.used_at.unwrap_or_default(), ctx, &owner)?;
            let put_in = put(rec, &hash);
            set = Some(hash);
            put_in
        });
        let cleared = match (&done, &in_place) {
            (Ok(Redeemed::Ok(_)), None) => host.created()?.clear_pending(&[id]),
            _ => Ok(()),
        };
        self.host = Some(host);
        cleared?;
        let (set, prev, prev_lastchg) = match in_place {
            Some(row) => (row.shadow_set, row.shadow_prev, row.shadow_prev_lastchg),
            None => (set, Some(reset.prev.to_string()), reset.prev_lastchg),
        };
        Ok(match done? {
            Redeemed::Ok(rec) => Redeemed::Ok(Box::new(PassRecord {
                shadow_set: set,
                shadow_prev: prev,
                shadow_prev_lastchg: prev_lastchg,
                ..*rec
            })),
            refused => refused,
        })
    }

    pub(super) fn host_pending(&self, id: i64) -> Result<Option<Pending>> {
        self.local().map_or(Ok(None), |s| s.pending(id))
    }

    pub(super) fn host_open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>> {
        self.local().map_or(Ok(Vec::new()), |s| s.open_resets(user))
    }

    /// [`SqliteStore::begin_settle`] on this host's row, the fleet's status laid over it. A host row
    /// still marked `issue` is this host's own acceptance cut short: deciding it needs nothing
    /// from the fleet (it is undone), so the database being down does not keep it in place. The
    /// settle keeps the `issue` mark (only its owner changes) until [`Self::host_end_settle`],
    /// which reads it there: the fact is decided here, before the change, and survives a settle
    /// that is itself cut short.
    pub(super) fn host_begin_settle(
        &mut self,
        at: &Touch<'_>,
        owner: &str,
        decide: &mut SettleDecider<'_>,
    ) -> Result<bool> {
        let id = at.id;
        let fleet = match self.host_pending(id)? {
            Some(p) if p.what == ISSUE => None,
            _ => Some(self.fleet_pass(id)?),
        };
        let Some(local) = self.local_mut() else {
            return Ok(false);
        };
        local.begin_settle(at, owner, &mut |rec, pending, eff_now| {
            let seen = match &fleet {
                None => rec.clone(),
                Some(Some(f)) => merged(f.clone(), rec),
                Some(None) => orphaned(rec, eff_now),
            };
            decide(&seen, pending, eff_now)
        })
    }

    /// Ends a shadow change on this host's row; the fleet's audit hears of it too (the host's own
    /// audit row is the record: the database may be down).
    pub(super) fn host_end_settle(&mut self, at: &Touch<'_>, revoke: bool, reason: &str) -> Result<()> {
        let (id, ctx) = (at.id, at.ctx);
        let local = self
            .local_mut()
            .ok_or_else(|| Error::Store(format!("pass {id}: no host store to settle")))?;
        // Still the mark begin_settle saw: `issue` stays `issue` through the settle.
        let cut_short = local.pending(id)?.is_some_and(|p| p.what == ISSUE);
        local.end_settle(at, revoke, reason)?;
        let user = local.get(id)?.map(|r| r.user);
        if cut_short {
            // This host's acceptance, undone: nothing ended the pass itself.
            local.forget_host_reset(id)?;
        }
        let _ = self.write_audit(Event::Reset, user.as_deref(), Some(id), ctx, Some(reason));
        Ok(())
    }

    pub(super) fn host_clear_pending(&mut self, ids: &[i64]) -> Result<()> {
        self.local_mut().map_or(Ok(()), |s| s.clear_pending(ids))
    }

    pub(super) fn host_release_pending(&mut self, ids: &[i64]) -> Result<()> {
        self.local_mut().map_or(Ok(()), |s| s.release_pending(ids))
    }

    pub(super) fn host_abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()> {
        self.local_mut().map_or(Ok(()), |s| s.abandon(ids, now, ctx, reason))
    }
}
