//! The SQLite store behind [`PassStore`]: each operation is the inherent method tapctl calls too.

use std::time::Duration;

use super::SqliteStore;
use crate::{Context, Event, PassRecord, PassStore, Pending, Redeemed};
use pam_tap_base::error::Result;

impl PassStore for SqliteStore {
    fn effective_now(&self, now: i64) -> Result<i64> {
        SqliteStore::effective_now(self, now)
    }
    fn latest_for(&self, user: &str) -> Result<Option<PassRecord>> {
        SqliteStore::latest_for(self, user)
    }
    fn redeem(&mut self, id: i64, now: i64, enabled: bool, ctx: &Context) -> Result<Redeemed> {
        SqliteStore::redeem(self, id, now, enabled, ctx)
    }
    fn grace_login(&mut self, id: i64, now: i64, gap: i64, user: &str, ctx: &Context) -> Result<bool> {
        SqliteStore::grace_login(self, id, now, gap, user, ctx)
    }
    fn record_failure(&mut self, id: i64, now: i64, max: u32, lockout: Duration, ctx: &Context) -> Result<bool> {
        SqliteStore::record_failure(self, id, now, max, lockout, ctx)
    }
    fn note_time(&mut self, now: i64) -> Result<()> {
        SqliteStore::note_time(self, now)
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
        SqliteStore::audit(self, at, ev, user, pass_id, ctx, reason)
    }
    fn pending(&self, id: i64) -> Result<Option<Pending>> {
        SqliteStore::pending(self, id)
    }
    fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>> {
        SqliteStore::open_resets(self, user)
    }
    fn begin_settle<T, D>(&mut self, id: i64, now: i64, ctx: &Context, owner: &str, decide: D) -> Result<Option<T>>
    where
        D: FnOnce(&PassRecord, Option<&Pending>, i64) -> Result<Option<(T, Option<String>)>>,
    {
        SqliteStore::begin_settle(self, id, now, ctx, owner, decide)
    }
    fn end_settle(&mut self, id: i64, now: i64, ctx: &Context, revoke: bool, reason: &str) -> Result<()> {
        SqliteStore::end_settle(self, id, now, ctx, revoke, reason)
    }
    fn clear_pending(&mut self, ids: &[i64]) -> Result<()> {
        SqliteStore::clear_pending(self, ids)
    }
    fn release_pending(&mut self, ids: &[i64]) -> Result<()> {
        SqliteStore::release_pending(self, ids)
    }
    fn abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()> {
        SqliteStore::abandon(self, ids, now, ctx, reason)
    }
}
