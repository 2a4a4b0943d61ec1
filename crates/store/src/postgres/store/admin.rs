//! The fleet store as tapctl uses it, connected as a `pam_tap_admin` member: the tables directly
//! for issue, revoke, unlock, purge, list and the log; the module's `host_*` functions (which the
//! admin role owns) for everything [`PassStore`] does. Times are the database's, as for the hosts:
//! the admin host's clock is not the fleet's.
//!
//! Issues of the same user from two admin hosts are serialised by a transaction-level advisory
//! lock per user name (taken in name order, so two bulk issues cannot deadlock on each other).

use super::sql_text::{bytea, flag, insert_sql, opt, AUDIT_COLUMNS};
use super::PgStore;
use crate::admin::{AdminStore, Batch, BeforeCommit, IssuePlanner};
use crate::approval::{ApprovalRequest, Decision, NewRequest};
use crate::postgres::schema;
use crate::MAX_GRACE;
use crate::{AuditEntry, Context, Event, NewPass, PassRecord, Touch, DEAD_AFTER};
use pam_tap_base::error::{Error, Result};

/// The first key of the per-user issue lock (any constant; the second is the name's hash).
const ISSUE_LOCK: i32 = 0x7461_7049; // "tapI"

impl PgStore {
    /// Runs `head` (a DELETE or UPDATE of pam_tap.passes ending in its WHERE's first condition and
    /// AND) on the passes that ended before `before`; returns their ids and users.
    fn ended_rows(&mut self, head: &str, before: i64) -> Result<Vec<(i64, String)>> {
        self.conn
            .get_mut()
            .query(
                &format!(
                    "{head} ((revoked_at IS NOT NULL AND revoked_at < $1::bigint)
                      OR (expires_at < $1::bigint)
                      OR (one_time AND used_at IS NOT NULL AND used_at < $1::bigint))
                     RETURNING id, user_name"
                ),
                &[Some(&before.to_string())],
            )?
            .iter()
            .map(|r| Ok((r.get_i64("id")?, r.get_str("user_name")?)))
            .collect()
    }

    /// One audit row written by tapctl (the `host_audit` function takes only a login's events).
    pub(super) fn admin_audit(
        &mut self,
        at: i64,
        ev: Event,
        user: Option<&str>,
        pass_id: Option<i64>,
        ctx: &Context,
        reason: Option<&str>,
    ) -> Result<()> {
        let (at, id) = (at.to_string(), opt(pass_id));
        self.conn.get_mut().execute(
            &insert_sql("pam_tap.audit", &AUDIT_COLUMNS[1..], None),
            &[
                Some(&at),
                Some(ev.as_str()),
                user,
                id.as_deref(),
                ctx.operator.as_deref(),
                ctx.service.as_deref(),
                ctx.rhost.as_deref(),
                reason,
                ctx.host.as_deref().or(self.admin_host.as_deref()),
            ],
        )?;
        Ok(())
    }

    pub(super) fn raise_clock(&mut self, t: i64) -> Result<()> {
        self.conn
            .get_mut()
            .query("SELECT pam_tap.note_clock($1::bigint)", &[Some(&t.to_string())])?;
        Ok(())
    }

    fn rows(&self, sql: &str, params: &[Option<&str>]) -> Result<Vec<PassRecord>> {
        self.conn
            .borrow_mut()
            .query(sql, params)?
            .iter()
            .map(PassRecord::from_pg)
            .collect()
    }

    fn insert_new(&mut self, new: &NewPass) -> Result<i64> {
        // A fleet reset pass is put in place by the host that accepts it: nothing of any host's
        // shadow entry is ever stored here.
        if new.shadow_set.is_some() || new.shadow_prev.is_some() {
            return Err(Error::Store("a fleet pass cannot carry a shadow hash".into()));
        }
        let (uid, key) = (new.uid.to_string(), bytea(&new.derive_key));
        let (created, starts, expires) = (
            new.created_at.to_string(),
            new.starts_at.to_string(),
            new.expires_at.to_string(),
        );
        let row = self
            .one(
                &insert_sql(
                    "pam_tap.passes",
                    &[
                        "user_name",
                        "uid",
                        "hash",
                        "derive_key",
                        "created_at",
                        "starts_at",
                        "expires_at",
                        "one_time",
                        "reset_password",
                        "issued_by",
                        "reason",
                        "issuer_role",
                        "services",
                        "hosts",
                        "enroll_key",
                    ],
                    Some("id"),
                ),
                &[
                    Some(&new.user),
                    Some(&uid),
                    Some(&new.hash),
                    Some(&key),
                    Some(&created),
                    Some(&starts),
                    Some(&expires),
                    Some(flag(new.one_time)),
                    Some(flag(new.reset_password)),
                    Some(&new.issued_by),
                    new.reason.as_deref(),
                    new.issuer_role.as_deref(),
                    new.services.as_deref(),
                    new.hosts.as_deref(),
                    Some(flag(new.enroll_key)),
                ],
            )?
            .ok_or_else(|| Error::Store("the insert returned no id".into()))?;
        row.get_i64("id")
    }
}

impl PgStore {
    /// The body of [`AdminStore::insert_pending`], inside the caller's transaction (a collection
    /// runs it in the one that marks its request collected).
    pub(super) fn insert_pending_in(
        &mut self,
        batch: &Batch<'_>,
        plan: &mut IssuePlanner<'_>,
    ) -> Result<Vec<(i64, NewPass)>> {
        let (users, ctx) = (batch.users, batch.ctx);
        let mut order: Vec<&str> = users.to_vec();
        order.sort_unstable();
        order.dedup();
        let s = self;
        for user in &order {
            s.conn.get_mut().query(
                "SELECT pg_advisory_xact_lock($1::integer, hashtext($2))",
                &[Some(&ISSUE_LOCK.to_string()), Some(user)],
            )?;
        }
        let now = s.db_now()?;
        let mut done = Vec::with_capacity(users.len());
        for (i, user) in users.iter().enumerate() {
            let latest = s
                .rows(
                    "SELECT * FROM pam_tap.passes WHERE user_name = $1 ORDER BY id DESC LIMIT 1",
                    &[Some(user)],
                )?
                .into_iter()
                .next();
            let (new, replaced) = plan(i, latest.as_ref(), now)?;
            if let Some(old) = replaced {
                s.conn.get_mut().execute(
                    "UPDATE pam_tap.passes SET revoked_at = $2::bigint WHERE id = $1::bigint AND revoked_at IS NULL",
                    &[Some(&old.to_string()), Some(&now.to_string())],
                )?;
                let why = Some("replaced by a new pass");
                s.admin_audit(now, Event::Revoked, Some(&new.user), Some(old), ctx, why)?;
            }
            let id = s.insert_new(&new)?;
            s.admin_audit(
                now,
                Event::Issued,
                Some(&new.user),
                Some(id),
                ctx,
                new.reason.as_deref(),
            )?;
            done.push((id, new));
        }
        s.raise_clock(now)?;
        Ok(done)
    }
}

impl AdminStore for PgStore {
    fn keys(&mut self, user: Option<&str>) -> Result<Vec<crate::keys::NewKey>> {
        self.list_keys(user)
    }
    fn revoke_key(
        &mut self,
        user: &str,
        fingerprint: &str,
        ctx: &Context,
        reason: &str,
    ) -> Result<Option<crate::keys::NewKey>> {
        self.remove_key(user, fingerprint, ctx, reason)
    }
    fn version(&mut self) -> Result<i64> {
        schema::version(self.conn.get_mut())
    }

    fn get(&self, id: i64) -> Result<Option<PassRecord>> {
        Ok(self
            .rows(
                "SELECT * FROM pam_tap.passes WHERE id = $1::bigint",
                &[Some(&id.to_string())],
            )?
            .into_iter()
            .next())
    }

    fn all(&self) -> Result<Vec<PassRecord>> {
        self.rows("SELECT * FROM pam_tap.passes ORDER BY id DESC", &[])
    }

    fn insert_pending(&mut self, batch: &Batch<'_>, plan: &mut IssuePlanner<'_>) -> Result<Vec<(i64, NewPass)>> {
        self.in_tx(|s| s.insert_pending_in(batch, plan))
    }

    fn revoke(&mut self, at: &Touch<'_>, reason: Option<&str>, before_commit: &mut BeforeCommit<'_>) -> Result<()> {
        let (id, ctx) = (at.id, at.ctx);
        let sid = id.to_string();
        // `before_commit` may act outside the database: a run that lost a conflict after it ran
        // is not run again.
        let called = std::cell::Cell::new(false);
        self.in_tx_while(&|| !called.get(), |s| {
            let now = s.db_now()?;
            let rec = s
                .rows(
                    "SELECT * FROM pam_tap.passes WHERE id = $1::bigint AND revoked_at IS NULL FOR UPDATE",
                    &[Some(&sid)],
                )?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Refused(format!("pass {id} is already revoked")))?;
            s.conn.get_mut().execute(
                "UPDATE pam_tap.passes SET revoked_at = $2::bigint WHERE id = $1::bigint",
                &[Some(&sid), Some(&now.to_string())],
            )?;
            s.admin_audit(now, Event::Revoked, Some(&rec.user), Some(id), ctx, reason)?;
            s.raise_clock(now)?;
            called.set(true);
            before_commit(&rec)
        })
    }

    fn unlock(&mut self, at: &Touch<'_>) -> Result<()> {
        let (id, ctx) = (at.id, at.ctx);
        let sid = id.to_string();
        self.in_tx(|s| {
            let now = s.db_now()?;
            let rec = s
                .rows(
                    "SELECT * FROM pam_tap.passes WHERE id = $1::bigint FOR UPDATE",
                    &[Some(&sid)],
                )?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Store(format!("pass {id} vanished")))?;
            let user = &rec.user;
            if rec.locked_at.is_some() && rec.total_failures >= DEAD_AFTER {
                return Err(Error::Refused(format!(
                    "pass {id} of {user} failed {} times and is dead: issue a new one with --replace",
                    rec.total_failures
                )));
            }
            if rec.locked_at.is_none() && rec.rest_until.is_none_or(|t| t <= now) && rec.failures == 0 {
                return Err(Error::Refused(format!(
                    "pass {id} of {user} is neither resting nor locked"
                )));
            }
            s.conn.get_mut().execute(
                "UPDATE pam_tap.passes SET rest_until = NULL, rests = 0, failures = 0, locked_at = NULL
                 WHERE id = $1::bigint",
                &[Some(&sid)],
            )?;
            s.admin_audit(now, Event::Unlocked, Some(user), Some(id), ctx, None)?;
            s.raise_clock(now)
        })
    }

    fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>> {
        self.in_tx(|s| {
            // "Older than" counted back from the database's clock, as every validity window is.
            let db_now = s.db_now()?;
            let before = db_now.saturating_sub(now.saturating_sub(before));
            let gone = s.ended_rows("DELETE FROM pam_tap.passes WHERE NOT reset_password AND", before)?;
            for (id, user) in &gone {
                s.admin_audit(db_now, Event::Purged, Some(user), Some(*id), ctx, None)?;
            }
            // A reset pass stays: its row tells each host that reset for it how to settle
            // (revoked: the previous password back; ended: the account locked), whenever that host
            // is next touched. Its derive key goes once no grace prompt can need it: nobody can
            // derive its secret from the database any more.
            let keyless_before = before.min(db_now.saturating_sub(MAX_GRACE.as_secs() as i64));
            let wiped = s.ended_rows(
                "UPDATE pam_tap.passes SET derive_key = ''::bytea WHERE reset_password AND length(derive_key) > 0 AND",
                keyless_before,
            )?;
            let why = "derive key wiped; the row stays for the hosts that reset for it";
            for (id, user) in &wiped {
                s.admin_audit(db_now, Event::Purged, Some(user), Some(*id), ctx, Some(why))?;
            }
            s.raise_clock(db_now)?;
            Ok(gone)
        })
    }

    fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>> {
        self.conn
            .borrow_mut()
            .query(
                "SELECT at, event, user_name, pass_id, operator, service, rhost, reason, host, db_role FROM pam_tap.audit
                 WHERE $1::text IS NULL OR user_name = $1::text ORDER BY id",
                &[user],
            )?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.get_i64("at")?,
                    event: r.get_str("event")?,
                    user: r.get_opt_str("user_name")?,
                    pass_id: r.get_opt_i64("pass_id")?,
                    operator: r.get_opt_str("operator")?,
                    service: r.get_opt_str("service")?,
                    rhost: r.get_opt_str("rhost")?,
                    reason: r.get_opt_str("reason")?,
                    host: r.get_opt_str("host")?,
                    db_role: r.get_opt_str("db_role")?,
                })
            })
            .collect()
    }

    fn lapse_requests(&mut self, _now: i64, ctx: &Context) -> Result<Vec<ApprovalRequest>> {
        self.pg_lapse_requests(ctx)
    }
    fn add_request(&mut self, new: &NewRequest<'_>, _now: i64, ctx: &Context) -> Result<ApprovalRequest> {
        self.pg_add_request(new, ctx)
    }
    fn request(&self, id: i64) -> Result<Option<ApprovalRequest>> {
        self.pg_request(id)
    }
    fn open_requests(&self) -> Result<Vec<ApprovalRequest>> {
        self.pg_open_requests()
    }
    fn decide_request(&mut self, d: &Decision<'_>, _now: i64, ctx: &Context) -> Result<ApprovalRequest> {
        self.pg_decide_request(d, ctx)
    }
    fn collect_pending(
        &mut self,
        id: i64,
        by: &str,
        batch: &Batch<'_>,
        plan: &mut IssuePlanner<'_>,
    ) -> Result<Vec<(i64, NewPass)>> {
        self.pg_collect_pending(id, by, batch, plan)
    }

    fn fleet(&mut self) -> Option<&mut PgStore> {
        Some(self)
    }
}
