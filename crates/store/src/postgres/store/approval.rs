//! Two-person approval in the fleet store (sql/postgresql/006_approval.sql), as tapctl's admin
//! connection keeps it: each step one transaction that locks the request's row, so a request is
//! decided once and collected once, whichever admin host asks. Times are the database's.

use super::PgStore;
use crate::admin::{Batch, IssuePlanner};
use crate::approval::{
    audit_reason, refuse_collection, refuse_decision, ApprovalRequest, Decision, NewRequest, RequestState, APPROVED,
    DENIED,
};
use crate::postgres::conn::PgRow;
use crate::{Context, Event, NewPass};
use pam_tap_base::error::{Error, Result};

fn from_pg(r: &PgRow) -> Result<ApprovalRequest> {
    Ok(ApprovalRequest {
        id: r.get_i64("id")?,
        user: r.get_str("user_name")?,
        params: r.get_str("params")?,
        reason: r.get_opt_str("reason")?,
        requested_by: r.get_str("requested_by")?,
        requester_role: r.get_str("requester_role")?,
        requested_at: r.get_i64("requested_at")?,
        decide_by: r.get_i64("decide_by")?,
        decided_by: r.get_opt_str("decided_by")?,
        decided_at: r.get_opt_i64("decided_at")?,
        decision: r.get_opt_str("decision")?,
        deny_reason: r.get_opt_str("deny_reason")?,
        collect_by: r.get_opt_i64("collect_by")?,
        collected_at: r.get_opt_i64("collected_at")?,
        pass_id: r.get_opt_i64("pass_id")?,
        lapsed_at: r.get_opt_i64("lapsed_at")?,
    })
}

impl PgStore {
    fn requests_where(&self, sql: &str, params: &[Option<&str>]) -> Result<Vec<ApprovalRequest>> {
        self.conn.borrow_mut().query(sql, params)?.iter().map(from_pg).collect()
    }

    /// Request `id`, its row locked until the transaction ends.
    fn request_for_update(&mut self, id: i64) -> Result<ApprovalRequest> {
        self.requests_where(
            "SELECT * FROM pam_tap.requests WHERE id = $1::bigint FOR UPDATE",
            &[Some(&id.to_string())],
        )?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Refused(format!("there is no request {id}")))
    }

    pub(super) fn pg_lapse_requests(&mut self, ctx: &Context) -> Result<Vec<ApprovalRequest>> {
        self.in_tx(|s| {
            let now = s.db_now()?;
            let open = s.requests_where(
                "SELECT * FROM pam_tap.requests WHERE collected_at IS NULL AND lapsed_at IS NULL FOR UPDATE",
                &[],
            )?;
            let mut lapsed = Vec::new();
            for r in open.into_iter().filter(|r| r.state(now) == RequestState::Lapsed) {
                s.conn.get_mut().execute(
                    "UPDATE pam_tap.requests SET lapsed_at = $2::bigint WHERE id = $1::bigint",
                    &[Some(&r.id.to_string()), Some(&now.to_string())],
                )?;
                let why = if r.decision.is_some() {
                    "approved but not collected in time"
                } else {
                    "not decided in time"
                };
                let text = audit_reason(r.id, Some(why));
                s.admin_audit(now, Event::Lapsed, Some(&r.user), None, ctx, Some(&text))?;
                lapsed.push(ApprovalRequest {
                    lapsed_at: Some(now),
                    ..r
                });
            }
            Ok(lapsed)
        })
    }

    pub(super) fn pg_add_request(&mut self, new: &NewRequest<'_>, ctx: &Context) -> Result<ApprovalRequest> {
        self.in_tx(|s| {
            let now = s.db_now()?;
            let (at, by) = (now.to_string(), now.saturating_add(new.decide_within).to_string());
            let r = s
                .requests_where(
                    "INSERT INTO pam_tap.requests (user_name, params, reason, requested_by, requester_role,
                         requested_at, decide_by)
                     VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint) RETURNING *",
                    &[
                        Some(new.user),
                        Some(new.params),
                        new.reason,
                        Some(new.requested_by),
                        Some(new.requester_role),
                        Some(&at),
                        Some(&by),
                    ],
                )?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Store("the insert returned no request".into()))?;
            let text = audit_reason(r.id, new.reason);
            s.admin_audit(now, Event::Requested, Some(new.user), None, ctx, Some(&text))?;
            Ok(r)
        })
    }

    pub(super) fn pg_request(&self, id: i64) -> Result<Option<ApprovalRequest>> {
        Ok(self
            .requests_where(
                "SELECT * FROM pam_tap.requests WHERE id = $1::bigint",
                &[Some(&id.to_string())],
            )?
            .into_iter()
            .next())
    }

    pub(super) fn pg_open_requests(&self) -> Result<Vec<ApprovalRequest>> {
        self.requests_where(
            "SELECT * FROM pam_tap.requests WHERE collected_at IS NULL AND lapsed_at IS NULL
                 AND (decision IS NULL OR decision = 'approved') ORDER BY id",
            &[],
        )
    }

    pub(super) fn pg_decide_request(&mut self, d: &Decision<'_>, ctx: &Context) -> Result<ApprovalRequest> {
        self.in_tx(|s| {
            let now = s.db_now()?;
            let r = s.request_for_update(d.id)?;
            if let Some(why) = refuse_decision(&r, d.by, now) {
                return Err(Error::Refused(why));
            }
            let (word, collect_by, event) = if d.approve {
                (APPROVED, Some(now.saturating_add(d.collect_within)), Event::Approved)
            } else {
                (DENIED, None, Event::Denied)
            };
            let collect_by = collect_by.map(|t| t.to_string());
            let r = s
                .requests_where(
                    "UPDATE pam_tap.requests SET decision = $2, decided_by = $3, decided_at = $4::bigint,
                         deny_reason = $5, collect_by = $6::bigint
                     WHERE id = $1::bigint AND decision IS NULL RETURNING *",
                    &[
                        Some(&d.id.to_string()),
                        Some(word),
                        Some(d.by),
                        Some(&now.to_string()),
                        d.deny_reason,
                        collect_by.as_deref(),
                    ],
                )?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Refused(format!("request {} was decided meanwhile", d.id)))?;
            let text = audit_reason(d.id, d.deny_reason);
            s.admin_audit(now, event, Some(&r.user), None, ctx, Some(&text))?;
            Ok(r)
        })
    }

    pub(super) fn pg_collect_pending(
        &mut self,
        id: i64,
        by: &str,
        batch: &Batch<'_>,
        plan: &mut IssuePlanner<'_>,
    ) -> Result<Vec<(i64, NewPass)>> {
        self.in_tx(|s| {
            let now = s.db_now()?;
            let r = s.request_for_update(id)?;
            if let Some(why) = refuse_collection(&r, by, now) {
                return Err(Error::Refused(why));
            }
            if batch.users != [r.user.as_str()] {
                return Err(Error::Refused(format!("request {id} is for {}", r.user)));
            }
            let done = s.insert_pending_in(batch, plan)?;
            let pass_id = done.first().map(|(p, _)| *p);
            s.conn.get_mut().execute(
                "UPDATE pam_tap.requests SET collected_at = $2::bigint, pass_id = $3::bigint
                 WHERE id = $1::bigint AND collected_at IS NULL",
                &[
                    Some(&id.to_string()),
                    Some(&now.to_string()),
                    pass_id.map(|p| p.to_string()).as_deref(),
                ],
            )?;
            let text = audit_reason(id, None);
            s.admin_audit(now, Event::Collected, Some(&r.user), pass_id, batch.ctx, Some(&text))?;
            Ok(done)
        })
    }
}
