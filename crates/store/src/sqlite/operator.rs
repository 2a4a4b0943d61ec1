//! What tapctl writes and reads: issue (one pass or many in one transaction), revoke, purge,
//! and the audit log.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{add_clock, audit_in, clock_in, latest_in, Context, Event, PassRecord, SqliteStore};
use crate::admin::{Batch, BeforeCommit, IssuePlanner};
use crate::NewPass;
use crate::{AuditEntry, Touch, ISSUE};
use pam_tap_base::error::{Error, Result};

fn refuse_if_pending(tx: &rusqlite::Transaction<'_>, user: &str) -> Result<()> {
    let busy: Option<i64> = tx
        .query_row(
            "SELECT id FROM passes WHERE user = ?1 AND pending IS NOT NULL LIMIT 1",
            params![user],
            |r| r.get(0),
        )
        .optional()?;
    match busy {
        Some(id) => Err(Error::Refused(format!(
            "{user}'s password is being changed right now (pass {id}): try again in a moment"
        ))),
        None => Ok(()),
    }
}

/// The body of an insert: reads the user's newest pass and the clock, plans, revokes a replaced
/// pass, inserts the new one, and audits both.
pub(super) fn insert_in<P>(
    tx: &rusqlite::Transaction<'_>,
    user: &str,
    now: i64,
    ctx: &Context,
    plan: P,
) -> Result<(i64, NewPass)>
where
    P: FnOnce(Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>,
{
    let latest = latest_in(tx, user)?;
    let hw: i64 = clock_in(tx)?;
    let (new, replaced) = plan(latest.as_ref(), now.max(hw))?;
    if let Some(replaced) = replaced {
        tx.execute(
            "UPDATE passes SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![replaced, now],
        )?;
        audit_in(
            tx,
            now,
            Event::Revoked,
            Some(&new.user),
            Some(replaced),
            ctx,
            Some("replaced by a new pass"),
        )?;
    }
    tx.execute(
        "INSERT INTO passes(user, uid, hash, derive_key, created_at, starts_at, expires_at, one_time,
            reset_password, issued_by, reason, shadow_set, shadow_prev, shadow_prev_lastchg, issuer_role, services, hosts,
            enroll_key)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            new.user,
            new.uid,
            new.hash,
            new.derive_key,
            new.created_at,
            new.starts_at,
            new.expires_at,
            new.one_time,
            new.reset_password,
            new.issued_by,
            new.reason,
            new.shadow_set,
            new.shadow_prev,
            new.shadow_prev_lastchg,
            new.issuer_role,
            new.services,
            new.hosts,
            new.enroll_key
        ],
    )?;
    let id = tx.last_insert_rowid();
    audit_in(
        tx,
        now,
        Event::Issued,
        Some(&new.user),
        Some(id),
        ctx,
        new.reason.as_deref(),
    )?;
    Ok((id, new))
}

/// The body of [`SqliteStore::insert_pending`], inside the caller's transaction (a collection
/// runs it in the one that marks its request collected).
pub(super) fn insert_pending_in(
    tx: &rusqlite::Transaction<'_>,
    batch: &Batch<'_>,
    plan: &mut IssuePlanner<'_>,
) -> Result<Vec<(i64, NewPass)>> {
    let (users, now, ctx, owner) = (batch.users, batch.now, batch.ctx, batch.owner);
    let mut done = Vec::with_capacity(users.len());
    for (i, user) in users.iter().enumerate() {
        refuse_if_pending(tx, user)?;
        let (id, new) = insert_in(tx, user, now, ctx, |latest, eff_now| plan(i, latest, eff_now))?;
        if new.shadow_set.is_some() {
            tx.execute(
                "UPDATE passes SET pending = ?2, pending_owner = ?3 WHERE id = ?1",
                params![id, ISSUE, owner],
            )?;
        }
        done.push((id, new));
    }
    add_clock(tx, now)?;
    Ok(done)
}

impl SqliteStore {
    /// Passes whose shadow change is still to come, inserted in one `BEGIN IMMEDIATE` transaction: each reset row is
    /// inserted marked pending for `owner`, with its `issued` audit row, and committed before
    /// tapctl touches /etc/shadow. Refuses a user with a change under way.
    pub fn insert_pending(&mut self, batch: &Batch<'_>, plan: &mut IssuePlanner<'_>) -> Result<Vec<(i64, NewPass)>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = insert_pending_in(&tx, batch, plan)?;
        tx.commit()?;
        Ok(done)
    }

    /// Inserts a pass inside `BEGIN IMMEDIATE`: `plan` sees the user's newest pass and the
    /// effective time and returns the pass to insert and the id of a pass it replaces (revoked in the
    /// same transaction); `before_commit` (the shadow change) runs last. All or nothing.
    pub fn insert_pass<P, G>(
        &mut self,
        user: &str,
        now: i64,
        ctx: &Context,
        plan: P,
        before_commit: G,
    ) -> Result<(i64, NewPass)>
    where
        P: FnOnce(Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>,
        G: FnOnce(&NewPass) -> Result<()>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (id, new) = insert_in(&tx, user, now, ctx, plan)?;
        add_clock(&tx, now)?;
        before_commit(&new)?;
        tx.commit()?;
        Ok((id, new))
    }

    /// Revokes a pass; `before_commit` restores the account when it should.
    pub fn revoke(&mut self, at: &Touch<'_>, reason: Option<&str>, before_commit: &mut BeforeCommit<'_>) -> Result<()> {
        let (id, now, ctx) = (at.id, at.now, at.ctx);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rec = tx
            .query_row(
                "SELECT * FROM passes WHERE id = ?1 AND revoked_at IS NULL",
                params![id],
                PassRecord::from_row,
            )
            .optional()?
            .ok_or_else(|| Error::Refused(format!("pass {id} is already revoked")))?;
        tx.execute("UPDATE passes SET revoked_at = ?2 WHERE id = ?1", params![id, now])?;
        audit_in(&tx, now, Event::Revoked, Some(&rec.user), Some(id), ctx, reason)?;
        add_clock(&tx, now)?;
        before_commit(&rec)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes passes that can no longer be used (revoked, expired, used up) and whose end lies
    /// before `before`. Audit rows stay; one `purged` row per pass is added.
    pub fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let gone: Vec<(i64, String)> = {
            let mut st = tx.prepare(
                "DELETE FROM passes WHERE
                    ((revoked_at IS NOT NULL AND revoked_at < ?1)
                 OR (expires_at < ?1)
                 OR (one_time AND used_at IS NOT NULL AND used_at < ?1))
                 AND NOT (reset_password AND length(derive_key) > 0)
                 RETURNING id, user",
            )?;
            let rows = st.query_map(params![before], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (id, user) in &gone {
            audit_in(&tx, now, Event::Purged, Some(user), Some(*id), ctx, None)?;
        }
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(gone)
    }

    /// Audit rows, oldest first, optionally for one user.
    pub fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>> {
        let mut st = self
            .conn
            .prepare("SELECT * FROM audit WHERE ?1 IS NULL OR user = ?1 ORDER BY id")?;
        let rows = st.query_map(params![user], AuditEntry::from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

impl AuditEntry {
    /// One `audit` row (`SELECT *`). The SQLite store has one host, so rows name none.
    pub(super) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(AuditEntry {
            at: r.get("at")?,
            event: r.get("event")?,
            user: r.get("user")?,
            pass_id: r.get("pass_id")?,
            operator: r.get("operator")?,
            service: r.get("service")?,
            rhost: r.get("rhost")?,
            reason: r.get("reason")?,
            host: None,
            db_role: None,
        })
    }
}
