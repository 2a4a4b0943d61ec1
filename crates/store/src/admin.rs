//! What tapctl needs from a store beyond the module's [`PassStore`]: issue, revoke, unlock, purge,
//! list and the audit log. The SQLite store and the PostgreSQL store (connected as a
//! `pam_tap_admin` member) both implement it; tapctl opens whichever the policy's `database` names
//! ([`AnyStore::open_admin`]) and runs the same code against either.

use super::postgres::PgStore;
use super::{AnyStore, AuditEntry, Context, NewPass, PassRecord, PassStore, SqliteStore};
use crate::database::Database;

mod door;
pub use door::{admit, least_role, rule_for, table_markdown, Admission, CommandRule, Request};
use pam_tap_base::error::Result;

pub trait AdminStore: PassStore {
    /// The schema version in place.
    fn version(&mut self) -> Result<i64>;
    fn get(&self, id: i64) -> Result<Option<PassRecord>>;
    /// Every pass, newest first.
    fn all(&self) -> Result<Vec<PassRecord>>;
    /// Inserts one pass per user in one transaction (see [`SqliteStore::insert_pending`]): `plan` sees
    /// each user's newest pass and the effective time and returns the row and the id of the live
    /// pass it replaces; reset rows are marked pending for `owner` before any shadow change.
    fn insert_pending<P>(
        &mut self,
        users: &[&str],
        now: i64,
        ctx: &Context,
        owner: &str,
        plan: P,
    ) -> Result<Vec<(i64, NewPass)>>
    where
        P: FnMut(usize, Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>;
    /// Revokes a pass; `before_commit` runs inside the transaction.
    fn revoke<G>(&mut self, id: i64, now: i64, ctx: &Context, reason: Option<&str>, before_commit: G) -> Result<()>
    where
        G: FnOnce(&PassRecord) -> Result<()>;
    /// Ends a pass's rest or lock after wrong answers.
    fn unlock(&mut self, id: i64, now: i64, ctx: &Context) -> Result<()>;
    /// Deletes passes that ended before `before`; returns their ids and users. Audit rows stay.
    fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>>;
    /// Audit rows, oldest first, optionally of one user.
    fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>>;
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
    fn insert_pending<P>(
        &mut self,
        users: &[&str],
        now: i64,
        ctx: &Context,
        owner: &str,
        plan: P,
    ) -> Result<Vec<(i64, NewPass)>>
    where
        P: FnMut(usize, Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>,
    {
        SqliteStore::insert_pending(self, users, now, ctx, owner, plan)
    }
    fn revoke<G>(&mut self, id: i64, now: i64, ctx: &Context, reason: Option<&str>, before_commit: G) -> Result<()>
    where
        G: FnOnce(&PassRecord) -> Result<()>,
    {
        SqliteStore::revoke(self, id, now, ctx, reason, before_commit)
    }
    fn unlock(&mut self, id: i64, now: i64, ctx: &Context) -> Result<()> {
        SqliteStore::unlock(self, id, now, ctx)
    }
    fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>> {
        SqliteStore::purge(self, now, before, ctx)
    }
    fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>> {
        SqliteStore::log(self, user)
    }
}

impl AnyStore {
    /// The store the policy's `database` names, as tapctl opens it: the SQLite file with every
    /// trust check, or the PostgreSQL store as a `pam_tap_admin` member; schema version checked.
    /// Its audit rows name the policy's `host_name` (the fleet store records it).
    /// Only a command the command table admitted reaches it ([`Admission`]).
    pub fn open_admin(database: &Database, host_name: &str, admitted: &Admission) -> Result<Self> {
        Ok(match database {
            Database::Sqlite(p) => AnyStore::Sqlite(SqliteStore::open(p)?),
            Database::Postgres(c) => AnyStore::Postgres(PgStore::open_admin(c, admitted)?.on_host(host_name)),
        })
    }

    /// `tapctl init`: creates or migrates the store's schema (and, for SQLite, the file).
    pub fn create_admin(database: &Database, host_name: &str, admitted: &Admission) -> Result<Self> {
        Ok(match database {
            Database::Sqlite(p) => AnyStore::Sqlite(SqliteStore::create(p)?),
            Database::Postgres(c) => AnyStore::Postgres(PgStore::create_admin(c, admitted)?.on_host(host_name)),
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

impl AdminStore for AnyStore {
    fn version(&mut self) -> Result<i64> {
        each!(self, s => AdminStore::version(s))
    }
    fn get(&self, id: i64) -> Result<Option<PassRecord>> {
        each!(self, s => AdminStore::get(s, id))
    }
    fn all(&self) -> Result<Vec<PassRecord>> {
        each!(self, s => AdminStore::all(s))
    }
    fn insert_pending<P>(
        &mut self,
        users: &[&str],
        now: i64,
        ctx: &Context,
        owner: &str,
        plan: P,
    ) -> Result<Vec<(i64, NewPass)>>
    where
        P: FnMut(usize, Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>,
    {
        each!(self, s => AdminStore::insert_pending(s, users, now, ctx, owner, plan))
    }
    fn revoke<G>(&mut self, id: i64, now: i64, ctx: &Context, reason: Option<&str>, before_commit: G) -> Result<()>
    where
        G: FnOnce(&PassRecord) -> Result<()>,
    {
        each!(self, s => AdminStore::revoke(s, id, now, ctx, reason, before_commit))
    }
    fn unlock(&mut self, id: i64, now: i64, ctx: &Context) -> Result<()> {
        each!(self, s => AdminStore::unlock(s, id, now, ctx))
    }
    fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>> {
        each!(self, s => AdminStore::purge(s, now, before, ctx))
    }
    fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>> {
        each!(self, s => AdminStore::log(s, user))
    }
}
