//! The SQLite store behind [`PassStore`]: each operation is the inherent method of the same name.

use super::SqliteStore;
use crate::{AuditRow, Backoff, Context, PassRecord, PassStore, Pending, Redeemed, SettleDecider, Touch};
use pam_tap_base::error::Result;

impl PassStore for SqliteStore {
    fn effective_now(&self, now: i64) -> Result<i64> {
        SqliteStore::effective_now(self, now)
    }
    fn latest_for(&self, user: &str) -> Result<Option<PassRecord>> {
        SqliteStore::latest_for(self, user)
    }
    fn redeem(&mut self, at: &Touch<'_>, enabled: bool) -> Result<Redeemed> {
        SqliteStore::redeem(self, at, enabled)
    }
    fn grace_login(&mut self, at: &Touch<'_>, gap: i64, user: &str) -> Result<bool> {
        SqliteStore::grace_login(self, at, gap, user)
    }
    fn record_failure(&mut self, at: &Touch<'_>, rules: &Backoff) -> Result<bool> {
        SqliteStore::record_failure(self, at, rules)
    }
    fn note_time(&mut self, now: i64) -> Result<()> {
        SqliteStore::note_time(self, now)
    }
    fn audit(&mut self, row: &AuditRow<'_>) -> Result<()> {
        SqliteStore::audit(self, row)
    }
    fn pending(&self, id: i64) -> Result<Option<Pending>> {
        SqliteStore::pending(self, id)
    }
    fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>> {
        SqliteStore::open_resets(self, user)
    }
    fn begin_settle(&mut self, at: &Touch<'_>, owner: &str, decide: &mut SettleDecider<'_>) -> Result<bool> {
        SqliteStore::begin_settle(self, at, owner, decide)
    }
    fn end_settle(&mut self, at: &Touch<'_>, revoke: bool, reason: &str) -> Result<()> {
        SqliteStore::end_settle(self, at, revoke, reason)
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
