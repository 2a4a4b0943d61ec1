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
        audit_in(
            &tx,
            now,
            Event::Collected,
            Some(&r.user),
            pass_id,
            batch.ctx,
            Some(&text),
        )?;
        tx.commit()?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::tests::new_pass;

    const T: i64 = 1_800_000_000;

    fn requested(s: &mut SqliteStore) -> ApprovalRequest {
        let new = NewRequest {
            user: "bob",
            params: "{}",
            reason: Some("locked out"),
            requested_by: "ann",
            requester_role: "privileged_issuer",
            decide_within: 600,
        };
        s.add_request(&new, T, &Context::default()).unwrap()
    }

    fn collect(s: &mut SqliteStore, id: i64, by: &str, now: i64) -> Result<Vec<(i64, NewPass)>> {
        let ctx = Context::default();
        let batch = Batch {
            users: &["bob"],
            now,
            ctx: &ctx,
            owner: "test",
        };
        s.collect_pending(id, by, &batch, &mut |_, _, _| Ok((new_pass("bob", now, true), None)))
    }

    fn approve<'a>(id: i64, by: &'a str) -> Decision<'a> {
        Decision {
            id,
            approve: true,
            by,
            deny_reason: None,
            collect_within: 300,
        }
    }

    #[test]
    fn a_request_is_decided_once_and_collected_once_by_its_requester() {
        let mut s = SqliteStore::in_memory().unwrap();
        let ctx = Context::default();
        let r = requested(&mut s);
        assert_eq!((r.requested_at, r.decide_by), (T, T + 600));
        let own = s.decide_request(&approve(r.id, "ann"), T + 1, &ctx).unwrap_err();
        assert!(own.to_string().contains("own"), "{own}");
        assert!(collect(&mut s, r.id, "ann", T + 1)
            .unwrap_err()
            .to_string()
            .contains("pending"));
        let d = s.decide_request(&approve(r.id, "cy"), T + 2, &ctx).unwrap();
        assert_eq!((d.decision.as_deref(), d.collect_by), (Some(APPROVED), Some(T + 302)));
        assert!(s.decide_request(&approve(r.id, "dee"), T + 3, &ctx).is_err());
        assert!(collect(&mut s, r.id, "cy", T + 3)
            .unwrap_err()
            .to_string()
            .contains("requester"));
        let rows = collect(&mut s, r.id, "ann", T + 4).unwrap();
        let again = collect(&mut s, r.id, "ann", T + 5).unwrap_err();
        assert!(again.to_string().contains("collected"), "{again}");
        let r = s.request(r.id).unwrap().unwrap();
        assert_eq!((r.collected_at, r.pass_id), (Some(T + 4), Some(rows[0].0)));
        assert_eq!(s.all().unwrap().len(), 1, "one pass, whatever was asked twice");
        let events: Vec<String> = s.log(Some("bob")).unwrap().into_iter().map(|e| e.event).collect();
        assert_eq!(events, ["requested", "approved", "issued", "collected"]);
        assert!(s.open_requests().unwrap().is_empty());
    }

    #[test]
    fn a_refused_collection_leaves_no_pass_and_late_requests_lapse() {
        let mut s = SqliteStore::in_memory().unwrap();
        let ctx = Context::default();
        let undecided = requested(&mut s);
        let approved = requested(&mut s);
        s.decide_request(&approve(approved.id, "cy"), T + 10, &ctx).unwrap();
        // The plan refuses inside the collection: the request stays uncollected, no pass is kept.
        let batch = Batch {
            users: &["bob"],
            now: T + 11,
            ctx: &ctx,
            owner: "test",
        };
        let refused = s.collect_pending(approved.id, "ann", &batch, &mut |_, _, _| {
            Err(pam_tap_base::error::Error::Refused("no".into()))
        });
        assert!(refused.is_err());
        assert_eq!(s.request(approved.id).unwrap().unwrap().collected_at, None);
        assert!(s.all().unwrap().is_empty());
        assert_eq!(s.open_requests().unwrap().len(), 2);
        assert!(s.lapse_requests(T + 309, &ctx).unwrap().is_empty());
        let lapsed = s.lapse_requests(T + 310, &ctx).unwrap();
        assert_eq!(lapsed.iter().map(|r| r.id).collect::<Vec<_>>(), [approved.id]);
        // A clock set back does not revive it, nor keep the other from lapsing when it is due.
        assert!(s.lapse_requests(T, &ctx).unwrap().is_empty());
        let lapsed = s.lapse_requests(T + 600, &ctx).unwrap();
        assert_eq!(lapsed.iter().map(|r| r.id).collect::<Vec<_>>(), [undecided.id]);
        assert!(collect(&mut s, approved.id, "ann", T + 700)
            .unwrap_err()
            .to_string()
            .contains("lapsed"));
        let late = s
            .decide_request(&approve(undecided.id, "cy"), T + 700, &ctx)
            .unwrap_err();
        assert!(late.to_string().contains("lapsed"), "{late}");
        assert!(s.open_requests().unwrap().is_empty());
    }
}
