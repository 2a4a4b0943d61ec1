//! What tapctl needs from a store beyond the module's [`PassStore`]: issue, revoke, unlock, purge,
//! list and the audit log. The SQLite store and the PostgreSQL store (connected as a
//! `pam_tap_admin` member) both implement it; tapctl opens whichever the policy's `database` names
//! ([`open_admin`]) and runs the same code against either, as a `Box<dyn AdminStore>`.

use super::keys::NewKey;
use super::postgres::PgStore;
use super::{AuditEntry, Context, NewPass, PassRecord, PassStore, SqliteStore, Touch};
use crate::approval::{ApprovalRequest, Decision, NewRequest};
use crate::database::Database;

mod door;
pub use door::{admit, least_role, may_run, rule_for, table_markdown, Admission, CommandRule, Request};
use pam_tap_base::error::Result;

/// Passes to insert in one transaction: one per user, planned in order.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub users: &'a [&'a str],
    pub now: i64,
    pub ctx: &'a Context,
    /// The process that makes the reset passes' shadow changes (their pending mark).
    pub owner: &'a str,
}

/// Plans the row of the `i`th user of a [`Batch`]: given their newest pass and the effective
/// time, the pass to insert and the id of the live pass it replaces.
pub type IssuePlanner<'a> = dyn FnMut(usize, Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)> + 'a;

/// Runs inside a revoke's transaction, last: the account put back when it should be.
pub type BeforeCommit<'a> = dyn FnMut(&PassRecord) -> Result<()> + 'a;

pub trait AdminStore: PassStore {
    /// The schema version in place.
    fn version(&mut self) -> Result<i64>;
    fn get(&self, id: i64) -> Result<Option<PassRecord>>;
    /// Every pass, newest first.
    fn all(&self) -> Result<Vec<PassRecord>>;
    /// Inserts one pass per user of `batch` in one transaction: `plan` sees each user's newest
    /// pass and the effective time and returns the row and the id of the live pass it replaces;
    /// reset rows are marked pending for the batch's owner before any shadow change.
    fn insert_pending(&mut self, batch: &Batch<'_>, plan: &mut IssuePlanner<'_>) -> Result<Vec<(i64, NewPass)>>;
    /// Revokes a pass; `before_commit` runs inside the transaction.
    fn revoke(&mut self, at: &Touch<'_>, reason: Option<&str>, before_commit: &mut BeforeCommit<'_>) -> Result<()>;
    /// Ends a pass's rest or lock after wrong answers.
    fn unlock(&mut self, at: &Touch<'_>) -> Result<()>;
    /// Deletes passes that ended before `before`; returns their ids and users. Audit rows stay.
    fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>>;
    /// Audit rows, oldest first, optionally of one user.
    fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>>;
    /// The enrolled SSH keys (of one user, or all), oldest first, of a store that
    /// [`PassStore::keeps_keys`]; the local store's are in the keys database.
    fn keys(&mut self, _user: Option<&str>) -> Result<Vec<NewKey>> {
        Err(pam_tap_base::error::Error::Store("this store keeps no keys".into()))
    }
    /// Removes an enrolled key and audits it as `key_revoked` (`reason`), of a store that
    /// [`PassStore::keeps_keys`]; `None` when there was no such key.
    fn revoke_key(&mut self, _user: &str, _fingerprint: &str, _ctx: &Context, _reason: &str) -> Result<Option<NewKey>> {
        Err(pam_tap_base::error::Error::Store("this store keeps no keys".into()))
    }
    /// Two-person approval ([`crate::approval`]): marks overdue requests lapsed (audited).
    fn lapse_requests(&mut self, now: i64, ctx: &Context) -> Result<Vec<ApprovalRequest>>;
    /// Records a request for a pass, audited `requested`.
    fn add_request(&mut self, new: &NewRequest<'_>, now: i64, ctx: &Context) -> Result<ApprovalRequest>;
    fn request(&self, id: i64) -> Result<Option<ApprovalRequest>>;
    /// Requests still pending or approved and not collected, oldest first.
    fn open_requests(&self) -> Result<Vec<ApprovalRequest>>;
    /// Approves or denies a pending request (never the decider's own) in one transaction.
    fn decide_request(&mut self, d: &Decision<'_>, now: i64, ctx: &Context) -> Result<ApprovalRequest>;
    /// Inserts the pass of approved request `id` for its requester `by` in the transaction that
    /// marks it collected, as [`AdminStore::insert_pending`] inserts one.
    fn collect_pending(
        &mut self,
        id: i64,
        by: &str,
        batch: &Batch<'_>,
        plan: &mut IssuePlanner<'_>,
    ) -> Result<Vec<(i64, NewPass)>>;
    /// The fleet store, for what only it has (host bindings); `None` for a SQLite store.
    fn fleet(&mut self) -> Option<&mut PgStore> {
        None
    }
}

impl AdminStore for SqliteStore {
    fn version(&mut self) -> Result<i64> {
        SqliteStore::version(self)
    }
    fn get(&self, id: i64) -> Result<Option<PassRecord>> {
        SqliteStore::get(self, id)
    }
    fn all(&self) -> Result<Vec<PassRecord>> {
        SqliteStore::all(self)
    }
    fn insert_pending(&mut self, batch: &Batch<'_>, plan: &mut IssuePlanner<'_>) -> Result<Vec<(i64, NewPass)>> {
        SqliteStore::insert_pending(self, batch, plan)
    }
    fn revoke(&mut self, at: &Touch<'_>, reason: Option<&str>, before_commit: &mut BeforeCommit<'_>) -> Result<()> {
        SqliteStore::revoke(self, at, reason, before_commit)
    }
    fn unlock(&mut self, at: &Touch<'_>) -> Result<()> {
        SqliteStore::unlock(self, at)
    }
    fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>> {
        SqliteStore::purge(self, now, before, ctx)
    }
    fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>> {
        SqliteStore::log(self, user)
    }
    fn lapse_requests(&mut self, now: i64, ctx: &Context) -> Result<Vec<ApprovalRequest>> {
        SqliteStore::lapse_requests(self, now, ctx)
    }
    fn add_request(&mut self, new: &NewRequest<'_>, now: i64, ctx: &Context) -> Result<ApprovalRequest> {
        SqliteStore::add_request(self, new, now, ctx)
    }
    fn request(&self, id: i64) -> Result<Option<ApprovalRequest>> {
        SqliteStore::request(self, id)
    }
    fn open_requests(&self) -> Result<Vec<ApprovalRequest>> {
        SqliteStore::open_requests(self)
    }
    fn decide_request(&mut self, d: &Decision<'_>, now: i64, ctx: &Context) -> Result<ApprovalRequest> {
        SqliteStore::decide_request(self, d, now, ctx)
    }
    fn collect_pending(
        &mut self,
        id: i64,
        by: &str,
        batch: &Batch<'_>,
        plan: &mut IssuePlanner<'_>,
    ) -> Result<Vec<(i64, NewPass)>> {
        SqliteStore::collect_pending(self, id, by, batch, plan)
    }
}

/// The store `database` names, as tapctl opens it: the SQLite file with every trust check, or the
/// PostgreSQL store as a `pam_tap_admin` member; schema version checked. Its audit rows name
/// `host_name` (the fleet store records it). Only a command the command table admitted reaches it
/// ([`Admission`]).
pub fn open_admin(database: &Database, host_name: &str, admitted: &Admission) -> Result<Box<dyn AdminStore>> {
    Ok(match database {
        Database::Sqlite(p) => Box::new(SqliteStore::open(p)?),
        Database::Postgres(c) => Box::new(PgStore::open_admin(c, admitted)?.on_host(host_name)),
    })
}

/// `tapctl init`: creates or migrates the store's schema (and, for SQLite, the file).
pub fn create_admin(database: &Database, host_name: &str, admitted: &Admission) -> Result<Box<dyn AdminStore>> {
    Ok(match database {
        Database::Sqlite(p) => Box::new(SqliteStore::create(p)?),
        Database::Postgres(c) => Box::new(PgStore::create_admin(c, admitted)?.on_host(host_name)),
    })
}
