//! The policy's store, whichever backend its `database` names: what the module opens.

use std::path::Path;
use std::time::Duration;

use super::postgres::PgStore;
use super::{Backend, Context, Event, HostReset, PassRecord, PassStore, Pending, Redeemed, SqliteStore};
use crate::database::Database;
use crate::fleet::FleetTimeouts;
use pam_tap_base::error::Result;

pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// The stores a policy names for the module: its `database`, and with a PostgreSQL one this
/// host's own store (`host_store`).
pub struct Site<'a> {
    pub database: &'a Database,
    pub host_store: &'a Path,
    pub fleet: FleetTimeouts,
}

/// The SQLite file (with every trust check) or the PostgreSQL store (connected as a host). A
/// PostgreSQL store always "exists": only connecting would tell.
impl Backend for Site<'_> {
    type Store = AnyStore;
    fn exists(&self) -> bool {
        match self.database {
            Database::Sqlite(p) => p.exists(),
            Database::Postgres(_) => true,
        }
    }
    fn networked(&self) -> bool {
        matches!(self.database, Database::Postgres(_))
    }
    fn open(self) -> Result<AnyStore> {
        Ok(match self.database {
            Database::Sqlite(p) => AnyStore::Sqlite(SqliteStore::open(p)?),
            Database::Postgres(c) => AnyStore::Postgres(PgStore::open(c, self.host_store, self.fleet)?),
        })
    }
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

impl PassStore for AnyStore {
    fn effective_now(&self, now: i64) -> Result<i64> {
        each!(self, s => s.effective_now(now))
    }
    fn latest_for(&self, user: &str) -> Result<Option<PassRecord>> {
        each!(self, s => PassStore::latest_for(s, user))
    }
    fn redeem(&mut self, id: i64, now: i64, enabled: bool, ctx: &Context) -> Result<Redeemed> {
        each!(self, s => PassStore::redeem(s, id, now, enabled, ctx))
    }
    fn resets_at_accept(&self) -> bool {
        each!(self, s => PassStore::resets_at_accept(s))
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
        each!(self, s => PassStore::redeem_with_reset(s, id, now, enabled, ctx, reset, put))
    }
    fn grace_login(&mut self, id: i64, now: i64, gap: i64, user: &str, ctx: &Context) -> Result<bool> {
        each!(self, s => PassStore::grace_login(s, id, now, gap, user, ctx))
    }
    fn record_failure(&mut self, id: i64, now: i64, max: u32, lockout: Duration, ctx: &Context) -> Result<bool> {
        each!(self, s => PassStore::record_failure(s, id, now, max, lockout, ctx))
    }
    fn note_time(&mut self, now: i64) -> Result<()> {
        each!(self, s => PassStore::note_time(s, now))
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
        each!(self, s => PassStore::audit(s, at, ev, user, pass_id, ctx, reason))
    }
    fn pending(&self, id: i64) -> Result<Option<Pending>> {
        each!(self, s => PassStore::pending(s, id))
    }
    fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>> {
        each!(self, s => PassStore::open_resets(s, user))
    }
    fn begin_settle<T, D>(&mut self, id: i64, now: i64, ctx: &Context, owner: &str, decide: D) -> Result<Option<T>>
    where
        D: FnOnce(&PassRecord, Option<&Pending>, i64) -> Result<Option<(T, Option<String>)>>,
    {
        each!(self, s => PassStore::begin_settle(s, id, now, ctx, owner, decide))
    }
    fn end_settle(&mut self, id: i64, now: i64, ctx: &Context, revoke: bool, reason: &str) -> Result<()> {
        each!(self, s => PassStore::end_settle(s, id, now, ctx, revoke, reason))
    }
    fn clear_pending(&mut self, ids: &[i64]) -> Result<()> {
        each!(self, s => PassStore::clear_pending(s, ids))
    }
    fn release_pending(&mut self, ids: &[i64]) -> Result<()> {
        each!(self, s => PassStore::release_pending(s, ids))
    }
    fn abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()> {
        each!(self, s => PassStore::abandon(s, ids, now, ctx, reason))
    }
}
