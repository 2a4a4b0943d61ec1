//! Two-person approval in the SQLite store: each step one `BEGIN IMMEDIATE` transaction that
//! re-reads the request, so a request is decided once and collected once.

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::operator::insert_pending_in;
use super::{add_clock, audit_in, clock_in, Context, Event, SqliteStore};
use crate::admin::{Batch, IssuePlanner};
use crate::approval::{
    audit_reason, refuse_collection, refuse_decision, ApprovalRequest, Decision, NewRequest, RequestState, APPROVED,
    DENIED,
};
use crate::NewPass;
use pam_tap_base::error::{Error, Result};

fn request_in(tx: &rusqlite::Connection, id: i64) -> Result<ApprovalRequest> {
    tx.query_row("SELECT * FROM requests WHERE id = ?1", params![id], from_row)
        .optional()?
        .ok_or_else(|| Error::Refused(format!("there is no request {id}")))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<ApprovalRequest> {
    Ok(ApprovalRequest {
        id: r.get("id")?,
        user: r.get("user")?,
        params: r.get("params")?,
        reason: r.get("reason")?,
        requested_by: r.get("requested_by")?,
        requester_role: r.get("requester_role")?,
        requested_at: r.get("requested_at")?,
        decide_by: r.get("decide_by")?,
        decided_by: r.get("decided_by")?,
        decided_at: r.get("decided_at")?,
        decision: r.get("decision")?,
        deny_reason: r.get("deny_reason")?,
        collect_by: r.get("collect_by")?,
        collected_at: r.get("collected_at")?,
        pass_id: r.get("pass_id")?,
        lapsed_at: r.get("lapsed_at")?,
    })
}

impl SqliteStore {
    /// Marks every request whose decision or collection is overdue lapsed, each with its audit row.
    pub fn lapse_requests(&mut self, now: i64, ctx: &Context) -> Result<Vec<ApprovalRequest>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now.max(clock_in(&tx)?);
        let open: Vec<ApprovalRequest> = {
            let mut st = tx.prepare("SELECT * FROM requests WHERE collected_at IS NULL AND lapsed_at IS NULL")?;
            let rows = st.query_map([], from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut lapsed = Vec::new();
        for r in open.into_iter().filter(|r| r.state(now) == RequestState::Lapsed) {
            tx.execute("UPDATE requests SET lapsed_at = ?2 WHERE id = ?1", params![r.id, now])?;
            let why = if r.decision.is_some() {
                "approved but not collected in time"
            } else {
                "not decided in time"
            };
            let text = audit_reason(r.id, Some(why));
            audit_in(&tx, now, Event::Lapsed, Some(&r.user), None, ctx, Some(&text))?;
            lapsed.push(ApprovalRequest {
                lapsed_at: Some(now),
                ..r
            });
        }
        if !lapsed.is_empty() {
            add_clock(&tx, now)?;
        }
        tx.commit()?;
        Ok(lapsed)
    }

    /// Records a request and its `requested` audit row.
    pub fn add_request(&mut self, new: &NewRequest<'_>, now: i64, ctx: &Context) -> Result<ApprovalRequest> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now.max(clock_in(&tx)?);
        tx.execute(
            "INSERT INTO requests(user, params, reason, requested_by, requester_role, requested_at, decide_by)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.user,
                new.params,
                new.reason,
                new.requested_by,
                new.requester_role,
                now,
                now.saturating_add(new.decide_within)
            ],
        )?;
        let id = tx.last_insert_rowid();
        let text = audit_reason(id, new.reason);
        audit_in(&tx, now, Event::Requested, Some(new.user), None, ctx, Some(&text))?;
        add_clock(&tx, now)?;
        let r = request_in(&tx, id)?;
        tx.commit()?;
        Ok(r)
    }

    pub fn request(&self, id: i64) -> Result<Option<ApprovalRequest>> {
        match request_in(&self.conn, id) {
            Ok(r) => Ok(Some(r)),
            Err(Error::Refused(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Requests neither collected, denied nor lapsed, oldest first.
    pub fn open_requests(&self) -> Result<Vec<ApprovalRequest>> {
        let mut st = self.conn.prepare(
            "SELECT * FROM requests WHERE collected_at IS NULL AND lapsed_at IS NULL
                 AND (decision IS NULL OR decision = 'approved') ORDER BY id",
        )?;
        let rows = st.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Approves or denies a pending request that is not the decider's own, with its audit row.
    pub fn decide_request(&mut self, d: &Decision<'_>, now: i64, ctx: &Context) -> Result<ApprovalRequest> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now.max(clock_in(&tx)?);
        let r = request_in(&tx, d.id)?;
        if let Some(why) = refuse_decision(&r, d.by, now) {
            return Err(Error::Refused(why));
        }
        let (word, collect_by, event) = if d.approve {
            (APPROVED, Some(now.saturating_add(d.collect_within)), Event::Approved)
        } else {
            (DENIED, None, Event::Denied)
        };
        tx.execute(
            "UPDATE requests SET decision = ?2, decided_by = ?3, decided_at = ?4, deny_reason = ?5, collect_by = ?6
             WHERE id = ?1 AND decision IS NULL",
            params![d.id, word, d.by, now, d.deny_reason, collect_by],
        )?;
        let text = audit_reason(d.id, d.deny_reason);
        audit_in(&tx, now, event, Some(&r.user), None, ctx, Some(&text))?;
        add_clock(&tx, now)?;
        let r = request_in(&tx, d.id)?;
        tx.commit()?;
        Ok(r)
    }

    /// Collects approved request `id` for its requester `by`: the pass `plan` makes is inserted as
    /// [`SqliteStore::insert_pending`] does, in the transaction that marks the request collected.
    pub fn collect_pending(
        &mut self,
        id: i64,
        by: &str,
        batch: &Batch<'_>,
        plan: &mut IssuePlanner<'_>,
    ) -> Result<Vec<(i64, NewPass)>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = batch.now.max(clock_in(&tx)?);
        let r = request_in(&tx, id)?;
        if let Some(why) = refuse_collection(&r, by, now) {
            return Err(Error::Refused(why));
        }
        if batch.users != [r.user.as_str()] {
            return Err(Error::Refused(format!("request {id} is for {}", r.user)));
        }
        let done = insert_pending_in(&tx, batch, plan)?;
        let pass_id = done.first().map(|(p, _)| *p);
        tx.execute(
            "UPDATE requests SET collected_at = ?2, pass_id = ?3 WHERE id = ?1 AND collected_at IS NULL",
            params![id, now, pass_id],
        )?;
        let text = audit_reason(id, None);
        audit_in(&tx, now, Event::Collected, Some(&r.user), pass_id, batch.ctx, Some(&text))?;
        tx.commit()?;
        Ok(done)
    }
}
