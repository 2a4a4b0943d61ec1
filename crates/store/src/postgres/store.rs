//! The fleet store behind [`PassStore`], as a host's module uses it: only through the
//! `pam_tap.host_*` functions (all a `pam_tap_host` role may call). The database's clock decides:
//! the `now` the core passes in is ignored for writes, the functions read `host_now()`.
//!
//! One-time across hosts: `redeem` locks the pass's row (`host_lock`, `SELECT … FOR UPDATE`) in
//! its transaction, checks the status as the SQLite store does, then marks it used: racing redeems
//! from any number of hosts queue on the row lock, and each later one re-reads the committed row
//! (status used). A plain `UPDATE … WHERE used_at IS NULL RETURNING` would decide the race as well,
//! but the lock lets the loser audit the status it actually met, exactly as on SQLite.

use std::cell::RefCell;
use std::path::Path;

use super::conn::{ConnRole, PgConn, PgRow};
use crate::{
    AuditRow, Backoff, Context, Event, HostReset, PassRecord, PassStore, Pending, Redeemed, SettleDecider,
    ShadowWriter, Status, Touch,
};
use crate::{Conninfo, FleetTimeouts};
use pam_tap_base::error::{Error, Result};

#[cfg(feature = "admin")]
mod admin;
#[cfg(feature = "admin")]
mod admin_connect;
#[cfg(feature = "admin")]
mod admin_keys;
#[cfg(feature = "admin")]
mod approval;
mod host_side;
#[cfg(feature = "admin")]
mod hosts;
#[cfg(feature = "admin")]
mod import;
mod keys;
#[cfg(feature = "admin")]
mod sql_text;
mod tx;

#[cfg(feature = "admin")]
pub use hosts::HostBinding;

use host_side::HostSide;

/// The statements a host's session makes at least (its connection is padded to it when closed,
/// crates/store/src/postgres/conn/round_trips.rs): the longest way a login is refused, an acceptance
/// that loses a race — `host_now`, `host_latest`, then BEGIN (with the session's timeouts),
/// `host_accept` (refused, audited by the database), COMMIT. A pass accepted makes as many; a
/// wrong answer makes three (`host_count_failure` audits itself). Only settling a reset pass this
/// host accepted earlier makes more (docs/guide/src/design.md, "The fleet store").
const HOST_SESSION_STATEMENTS: u32 = 5;

/// How much longer than `statement_timeout` a host awaits an answer: time for the server's own
/// timeout to answer first.
const ANSWER_SLACK: std::time::Duration = std::time::Duration::from_secs(1);

pub struct PgStore {
    // `PassStore` reads through `&self`; one connection, used by one call at a time.
    conn: RefCell<PgConn>,
    /// A host's waits, set at the start of each of its transactions (none for tapctl's).
    timeouts: Option<FleetTimeouts>,
    /// A host's own store for the reset passes it accepts (none for tapctl's admin connection).
    host: Option<HostSide>,
    /// The host name tapctl's own audit rows carry (the config's `host_name`).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    admin_host: Option<String>,
}

fn count(r: &PgRow, col: &str) -> Result<u32> {
    u32::try_from(r.get_i64(col)?).map_err(|_| Error::Store(format!("column {col} is out of range")))
}

impl PassRecord {
    /// A `pam_tap.passes` row.
    pub(crate) fn from_pg(r: &PgRow) -> Result<Self> {
        Ok(Self {
            id: r.get_i64("id")?,
            user: r.get_str("user_name")?,
            uid: count(r, "uid")?,
            hash: r.get_str("hash")?,
            derive_key: r.get_bytes("derive_key")?,
            created_at: r.get_i64("created_at")?,
            starts_at: r.get_i64("starts_at")?,
            expires_at: r.get_i64("expires_at")?,
            one_time: r.get_bool("one_time")?,
            reset_password: r.get_bool("reset_password")?,
            failures: count(r, "failures")?,
            locked_at: r.get_opt_i64("locked_at")?,
            used_at: r.get_opt_i64("used_at")?,
            use_count: count(r, "use_count")?,
            revoked_at: r.get_opt_i64("revoked_at")?,
            issued_by: r.get_str("issued_by")?,
            reason: r.get_opt_str("reason")?,
            shadow_set: r.get_opt_str("shadow_set")?,
            shadow_prev: r.get_opt_str("shadow_prev")?,
            shadow_prev_lastchg: r.get_opt_i64("shadow_prev_lastchg")?,
            issuer_role: r.get_opt_str("issuer_role")?,
            services: r.get_opt_str("services")?,
            rest_until: r.get_opt_i64("rest_until")?,
            rests: count(r, "rests")?,
            total_failures: count(r, "total_failures")?,
            hosts: r.get_opt_str("hosts")?,
            enroll_key: r.get_bool("enroll_key")?,
        })
    }
}

impl PassRecord {
    /// A `pam_tap.host_view` row: what a host sees of a pass (no derive key, reason or shadow
    /// state; the hash only when the pass is for this host, else empty).
    pub(crate) fn from_host_view(r: &PgRow) -> Result<Self> {
        Ok(Self {
            id: r.get_i64("id")?,
            user: r.get_str("user_name")?,
            uid: count(r, "uid")?,
            hash: r.get_opt_str("hash")?.unwrap_or_default(),
            derive_key: Vec::new(),
            created_at: r.get_i64("created_at")?,
            starts_at: r.get_i64("starts_at")?,
            expires_at: r.get_i64("expires_at")?,
            one_time: r.get_bool("one_time")?,
            reset_password: r.get_bool("reset_password")?,
            failures: count(r, "failures")?,
            locked_at: r.get_opt_i64("locked_at")?,
            used_at: r.get_opt_i64("used_at")?,
            use_count: count(r, "use_count")?,
            revoked_at: r.get_opt_i64("revoked_at")?,
            issued_by: String::new(),
            reason: None,
            shadow_set: None,
            shadow_prev: None,
            shadow_prev_lastchg: None,
            issuer_role: r.get_opt_str("issuer_role")?,
            services: r.get_opt_str("services")?,
            rest_until: r.get_opt_i64("rest_until")?,
            rests: count(r, "rests")?,
            total_failures: count(r, "total_failures")?,
            hosts: r.get_opt_str("hosts")?,
            enroll_key: r.get_bool("enroll_key")?,
        })
    }
}

impl PgStore {
    /// Connects as a host (the module's side), with the host's own store at `host_store`.
    pub fn open(conninfo: &Conninfo, host_store: &Path, timeouts: FleetTimeouts) -> Result<Self> {
        let host = HostSide::at(host_store)?;
        let mut conn = PgConn::connect(conninfo, ConnRole::Host)?;
        // Whatever the user holds, a session that logs no one in sends the same count.
        conn.pad_on_drop(HOST_SESSION_STATEMENTS);
        // A login never waits on the store for ever, nor trusts a commit the server warns about
        // (conn/answer.rs); the server's own statement_timeout answers first where it applies.
        conn.answer_within(timeouts.statement_timeout + ANSWER_SLACK);
        conn.refuse_warnings();
        Ok(PgStore {
            conn: RefCell::new(conn),
            timeouts: Some(timeouts),
            host: Some(host),
            admin_host: None,
        })
    }

    /// Over a connection already made (tapctl's, as a `pam_tap_admin` member).
    pub fn with_conn(conn: PgConn) -> Self {
        PgStore {
            conn: RefCell::new(conn),
            timeouts: None,
            host: None,
            admin_host: None,
        }
    }

    /// Whether this is tapctl's connection: it reads the tables, a host only calls functions.
    fn is_admin(&self) -> bool {
        self.timeouts.is_none()
    }

    #[cfg(feature = "admin")]
    /// tapctl's audit rows name `host` (where the operator ran it).
    pub fn on_host(self, host: &str) -> Self {
        PgStore {
            admin_host: Some(host.to_string()),
            ..self
        }
    }

    /// The user's newest pass in the fleet, as the database shows it to this connection.
    fn latest_fleet(&self, user: &str) -> Result<Option<PassRecord>> {
        if self.is_admin() {
            return self
                .one(
                    "SELECT * FROM pam_tap.passes WHERE user_name = $1 ORDER BY id DESC LIMIT 1",
                    &[Some(user)],
                )?
                .map(|r| PassRecord::from_pg(&r))
                .transpose();
        }
        self.one("SELECT * FROM pam_tap.host_latest($1)", &[Some(user)])?
            .map(|r| PassRecord::from_host_view(&r))
            .transpose()
    }

    /// Accepts pass `id` at this host (`host_accept`: the row locked, its status judged by the
    /// database, marked used and audited there), running `then` on the used row before the commit
    /// (the row locked throughout): an error there rolls the use back. A run that loses a
    /// serialization conflict before `then` runs again; once `then` ran, its error is the caller's
    /// to undo (crates/core/src/reset.rs), never a second `then`.
    fn redeem_then(
        &mut self,
        id: i64,
        enabled: bool,
        ctx: &Context,
        then: impl FnOnce(&PassRecord) -> Result<()>,
    ) -> Result<Redeemed> {
        if !enabled {
            return Ok(Redeemed::Refused(Status::DisabledByPolicy));
        }
        let sid = id.to_string();
        let mut then = Some(then);
        let ran = std::cell::Cell::new(false);
        self.in_tx_while(&|| !ran.get(), |s| {
            let row = s
                .one(
                    "SELECT a.status, a.derive_key, (a.pass).* FROM pam_tap.host_accept($1::bigint, $2, $3) AS a",
                    &[Some(&sid), ctx.service.as_deref(), ctx.rhost.as_deref()],
                )?
                .ok_or_else(|| vanished(id))?;
            let status = row.get_str("status")?;
            let seen = Status::from_word(&status)
                .ok_or_else(|| Error::Store(format!("the store judged pass {id} {status:?}")))?;
            if seen != Status::Usable {
                return Ok(Redeemed::Refused(seen));
            }
            let used = PassRecord {
                derive_key: row.get_bytes("derive_key")?,
                ..PassRecord::from_host_view(&row)?
            };
            let then = then
                .take()
                .ok_or_else(|| Error::Store(format!("pass {id}'s acceptance ran twice")))?;
            ran.set(true);
            then(&used)?;
            Ok(Redeemed::Ok(Box::new(used)))
        })
    }

    fn one(&self, sql: &str, params: &[Option<&str>]) -> Result<Option<PgRow>> {
        Ok(self.conn.borrow_mut().query(sql, params)?.into_iter().next())
    }

    /// One audit row a host writes itself (a refusal, a reset, a grace answer); the database
    /// names the host and checks the pass is the user's (and, but for a refusal, this host's).
    fn write_audit(
        &mut self,
        ev: Event,
        user: Option<&str>,
        pass_id: Option<i64>,
        ctx: &Context,
        reason: Option<&str>,
    ) -> Result<()> {
        let id = pass_id.map(|i| i.to_string());
        self.rerunning(|s| {
            s.conn.get_mut().query(
                "SELECT pam_tap.host_audit($1, $2, $3::bigint, $4, $5, $6)",
                &[
                    Some(ev.as_str()),
                    user,
                    id.as_deref(),
                    ctx.service.as_deref(),
                    ctx.rhost.as_deref(),
                    reason,
                ],
            )
        })?;
        Ok(())
    }

    fn db_now(&self) -> Result<i64> {
        self.one("SELECT pam_tap.host_now() AS now", &[])?
            .ok_or_else(|| Error::Store("host_now() returned nothing".into()))?
            .get_i64("now")
    }
}

fn vanished(id: i64) -> Error {
    Error::Store(format!("pass {id} vanished"))
}

impl PassStore for PgStore {
    /// The database's clock (never below its clock mark), whatever the host's says.
    fn effective_now(&self, _now: i64) -> Result<i64> {
        self.db_now()
    }

    fn latest_for(&self, user: &str) -> Result<Option<PassRecord>> {
        self.latest_here(user)
    }

    fn redeem(&mut self, at: &Touch<'_>, enabled: bool) -> Result<Redeemed> {
        self.redeem_then(at.id, enabled, at.ctx, |_| Ok(()))
    }

    fn resets_at_accept(&self) -> bool {
        true
    }

    fn keeps_keys(&self) -> bool {
        true
    }

    fn key_known(&mut self, user: &str, uid: u32, key: &crate::keys::PublicKey) -> Result<bool> {
        self.key_known_here(user, uid, key)
    }

    fn enroll_key(&mut self, at: &Touch<'_>, key: &crate::keys::PublicKey) -> Result<bool> {
        self.enroll_here(at, key)
    }

    fn redeem_with_reset(
        &mut self,
        at: &Touch<'_>,
        enabled: bool,
        reset: &HostReset<'_>,
        put: &mut ShadowWriter<'_>,
    ) -> Result<Redeemed> {
        self.redeem_resetting(at.id, enabled, at.ctx, reset, put)
    }

    fn grace_login(&mut self, at: &Touch<'_>, gap: i64, _user: &str) -> Result<bool> {
        let (id, ctx) = (at.id, at.ctx);
        let (sid, gap) = (id.to_string(), gap.to_string());
        self.in_tx(|s| {
            // The row lock serialises logins racing the same pass, as BEGIN IMMEDIATE does on SQLite.
            s.one(
                "SELECT pam_tap.host_grace($1::bigint, $2::bigint, $3, $4) AS ok",
                &[Some(&sid), Some(&gap), ctx.service.as_deref(), ctx.rhost.as_deref()],
            )?
            .and_then(|r| r.get_opt_str("ok").transpose())
            .transpose()?
            .map(|ok| ok == "t")
            .ok_or_else(|| vanished(id))
        })
    }

    fn record_failure(&mut self, at: &Touch<'_>, rules: &Backoff) -> Result<bool> {
        let (id, ctx) = (at.id, at.ctx);
        let (sid, max, secs) = (
            id.to_string(),
            rules.max_failures.to_string(),
            rules.lockout.as_secs().to_string(),
        );
        // One statement: the count, the rest or lock and their audit rows, in the database.
        let state = self
            .rerunning(|s| {
                s.one(
                    "SELECT * FROM pam_tap.host_count_failure($1::bigint, $2, $3, $4::integer, $5::bigint)",
                    &[
                        Some(&sid),
                        ctx.service.as_deref(),
                        ctx.rhost.as_deref(),
                        Some(&max),
                        Some(&secs),
                    ],
                )
            })?
            .ok_or_else(|| vanished(id))?
            .get_str("state")?;
        Ok(state != "failed")
    }

    fn note_time(&mut self, _now: i64) -> Result<()> {
        self.rerunning(|s| s.one("SELECT pam_tap.host_note_time()", &[]))?;
        Ok(())
    }

    fn audit(&mut self, row: &AuditRow<'_>) -> Result<()> {
        self.write_audit(row.event, row.user, row.pass_id, row.ctx, row.reason)
    }

    // The shadow side of the reset passes this host accepted (host_side.rs).
    fn pending(&self, id: i64) -> Result<Option<Pending>> {
        self.host_pending(id)
    }
    fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>> {
        self.host_open_resets(user)
    }
    fn begin_settle(&mut self, at: &Touch<'_>, owner: &str, decide: &mut SettleDecider<'_>) -> Result<bool> {
        self.host_begin_settle(at, owner, decide)
    }
    fn end_settle(&mut self, at: &Touch<'_>, revoke: bool, reason: &str) -> Result<()> {
        self.host_end_settle(at, revoke, reason)
    }
    fn clear_pending(&mut self, ids: &[i64]) -> Result<()> {
        self.host_clear_pending(ids)
    }
    fn release_pending(&mut self, ids: &[i64]) -> Result<()> {
        self.host_release_pending(ids)
    }
    fn abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()> {
        self.host_abandon(ids, now, ctx, reason)
    }
}
