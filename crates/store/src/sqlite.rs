//! The SQLite store: one file, root-only, WAL with `synchronous=FULL`, every read-then-write in
//! `BEGIN IMMEDIATE`, an audit table that purge never touches, and a clock high-water mark in
//! `meta` that every write raises.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{AuditRow, Backoff, Context, Event, PassRecord, Redeemed, Status, Touch};
use pam_tap_base::error::{Error, Result};

#[cfg(feature = "admin")]
mod approval;
mod backoff;
pub mod checks;
#[cfg(feature = "admin")]
pub(crate) mod export;
mod host_resets;
pub mod memory;
mod open;
#[cfg(feature = "admin")]
mod operator;
mod pass_store;
mod pending;
pub use host_resets::HostReset;
mod schema;
mod wal_dir;

pub use backoff::DEAD_AFTER;
pub use schema::SCHEMA_VERSION;

/// An open database: one connection, opened per PAM call and never kept across fork.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

fn clock_in(conn: &Connection) -> Result<i64> {
    Ok(checks::clock_high_water(conn)?.unwrap_or(i64::MIN))
}

fn latest_in(conn: &Connection, user: &str) -> Result<Option<PassRecord>> {
    Ok(conn
        .query_row(
            "SELECT * FROM passes WHERE user = ?1 ORDER BY id DESC LIMIT 1",
            params![user],
            PassRecord::from_row,
        )
        .optional()?)
}

fn add_clock(tx: &rusqlite::Transaction<'_>, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES('clock', ?1)
         ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
        params![now],
    )?;
    Ok(())
}

fn audit_in(
    tx: &rusqlite::Transaction<'_>,
    at: i64,
    ev: Event,
    user: Option<&str>,
    pass_id: Option<i64>,
    ctx: &Context,
    reason: Option<&str>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit(at, event, user, pass_id, operator, service, rhost, reason)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            at,
            ev.as_str(),
            user,
            pass_id,
            ctx.operator,
            ctx.service,
            ctx.rhost,
            reason
        ],
    )?;
    Ok(())
}

impl SqliteStore {
    /// The connection itself, for tests (here and in the core's) that tamper with rows the way an
    /// attacker with the file would. Nothing of pam_tap's own goes around the store's methods.
    #[doc(hidden)]
    pub fn raw_connection(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest time any write has recorded: a clock set back cannot go below it.
    pub fn clock_high_water(&self) -> Result<i64> {
        clock_in(&self.conn)
    }

    /// `now`, raised to the high-water mark.
    pub fn effective_now(&self, now: i64) -> Result<i64> {
        Ok(now.max(self.clock_high_water()?))
    }

    /// The user's newest pass, whatever its status.
    pub fn latest_for(&self, user: &str) -> Result<Option<PassRecord>> {
        latest_in(&self.conn, user)
    }

    pub fn get(&self, id: i64) -> Result<Option<PassRecord>> {
        Ok(self
            .conn
            .query_row("SELECT * FROM passes WHERE id = ?1", params![id], PassRecord::from_row)
            .optional()?)
    }

    /// Every pass, newest first.
    #[cfg(feature = "admin")]
    pub fn all(&self) -> Result<Vec<PassRecord>> {
        let mut st = self.conn.prepare("SELECT * FROM passes ORDER BY id DESC")?;
        let rows = st
            .query_map([], PassRecord::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks a pass used, in one `BEGIN IMMEDIATE` transaction that re-reads it first: of N
    /// processes racing one one-time pass exactly one gets `Redeemed::Ok`.
    pub fn redeem(&mut self, at: &Touch<'_>, enabled: bool) -> Result<Redeemed> {
        let (id, now, ctx) = (at.id, at.now, at.ctx);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let hw: i64 = clock_in(&tx)?;
        let now = now.max(hw);
        let rec = tx
            .query_row("SELECT * FROM passes WHERE id = ?1", params![id], PassRecord::from_row)
            .optional()?
            .ok_or_else(|| Error::Store(format!("pass {id} vanished")))?;
        let status = rec.status(now, enabled);
        if status != Status::Usable {
            audit_in(
                &tx,
                now,
                Event::Refused,
                Some(&rec.user),
                Some(id),
                ctx,
                Some(status.as_str()),
            )?;
            add_clock(&tx, now)?;
            tx.commit()?;
            return Ok(Redeemed::Refused(status));
        }
        tx.execute(
            "UPDATE passes SET used_at = ?2, use_count = use_count + 1, failures = 0 WHERE id = ?1",
            params![id, now],
        )?;
        audit_in(&tx, now, Event::Used, Some(&rec.user), Some(id), ctx, None)?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(Redeemed::Ok(Box::new(PassRecord {
            used_at: Some(now),
            use_count: rec.use_count.saturating_add(1),
            failures: 0,
            ..rec
        })))
    }

    /// Records a login with a used pass inside its handoff grace window, unless the pass was used
    /// less than `gap` seconds ago: logins racing a one-time pass never get a second success.
    pub fn grace_login(&mut self, at: &Touch<'_>, gap: i64, user: &str) -> Result<bool> {
        let (id, now, ctx) = (at.id, at.now, at.ctx);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: Option<i64> = tx.query_row(
            "SELECT max(at) FROM audit WHERE pass_id = ?1 AND event IN ('used', 'grace_used')",
            params![id],
            |r| r.get(0),
        )?;
        if last.is_some_and(|t| now < t.saturating_add(gap)) {
            audit_in(
                &tx,
                now,
                Event::Refused,
                Some(user),
                Some(id),
                ctx,
                Some("used moments ago"),
            )?;
            tx.commit()?;
            return Ok(false);
        }
        audit_in(
            &tx,
            now,
            Event::GraceUsed,
            Some(user),
            Some(id),
            ctx,
            Some("login while the forced change is pending"),
        )?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(true)
    }

    /// Counts one wrong answer against a pass, locking it at `max_failures`; returns whether it is
    /// now locked. One transaction: N racing wrong answers count exactly N.
    ///
    /// The commit is not fsynced (`synchronous=NORMAL`, still atomic and safe against a crash of the
    /// process): a power loss may forget the last failure counts, but a wrong answer then costs what
    /// a wrong answer for a user without a pass costs, so the time taken does not tell who holds one.
    pub fn record_failure(&mut self, at: &Touch<'_>, rules: &Backoff) -> Result<bool> {
        self.unsynced(|s| s.count_failure(at, rules))
    }

    /// Raises the clock mark to `now` without an fsync: a wrong answer for an unusable pass leaves
    /// the time it was seen, so a clock set back later cannot revive the pass.
    pub fn note_time(&mut self, now: i64) -> Result<()> {
        self.unsynced(|s| {
            let tx = s.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            add_clock(&tx, now)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn unsynced<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let r = f(self);
        let restored = self.conn.pragma_update(None, "synchronous", "FULL");
        let v = r?;
        restored?;
        Ok(v)
    }

    /// Writes one audit row on its own.
    pub fn audit(&mut self, row: &AuditRow<'_>) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        audit_in(&tx, row.at, row.event, row.user, row.pass_id, row.ctx, row.reason)?;
        add_clock(&tx, row.at)?;
        tx.commit()?;
        Ok(())
    }
}

impl PassRecord {
    pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            user: r.get("user")?,
            uid: r.get("uid")?,
            hash: r.get("hash")?,
            derive_key: r.get("derive_key")?,
            created_at: r.get("created_at")?,
            starts_at: r.get("starts_at")?,
            expires_at: r.get("expires_at")?,
            one_time: r.get("one_time")?,
            reset_password: r.get("reset_password")?,
            failures: r.get("failures")?,
            locked_at: r.get("locked_at")?,
            used_at: r.get("used_at")?,
            use_count: r.get("use_count")?,
            revoked_at: r.get("revoked_at")?,
            issued_by: r.get("issued_by")?,
            reason: r.get("reason")?,
            shadow_set: r.get("shadow_set")?,
            shadow_prev: r.get("shadow_prev")?,
            shadow_prev_lastchg: r.get("shadow_prev_lastchg")?,
            issuer_role: r.get("issuer_role")?,
            services: r.get("services")?,
            rest_until: r.get("rest_until")?,
            rests: r.get("rests")?,
            total_failures: r.get("total_failures")?,
            hosts: r.get("hosts")?,
            enroll_key: r.get("enroll_key")?,
        })
    }
}

#[cfg(test)]
mod tests;
