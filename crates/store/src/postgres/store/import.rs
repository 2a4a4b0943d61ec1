//! `tapctl migrate`: a local store's rows copied into an empty fleet store, in one transaction.
//! Passes keep their ids (the audit rows name them), the identity sequences are set past the
//! copied ids, and the clock mark is raised to the local one, so a pass that was dead there cannot
//! come back on a fleet whose database clock lags.

use super::sql_text::{bytea, flag, insert_sql, opt, AUDIT_COLUMNS};
use super::PgStore;
use crate::{AuditEntry, PassRecord};
use pam_tap_base::error::{Error, Result};

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    pub passes: usize,
    pub audit_rows: usize,
    /// Enrolled SSH keys (the keys database's) copied into `pam_tap.keys`.
    pub keys: usize,
    /// The fleet store's clock mark afterwards.
    pub clock: i64,
    /// Settled reset passes whose shadow hashes (the account's password from before the pass)
    /// were left out: they stay in the local store only.
    pub shadow_left_out: usize,
}

const PASS_COLUMNS: [&str; 27] = [
    "id",
    "user_name",
    "uid",
    "hash",
    "derive_key",
    "created_at",
    "starts_at",
    "expires_at",
    "one_time",
    "reset_password",
    "failures",
    "locked_at",
    "used_at",
    "use_count",
    "revoked_at",
    "issued_by",
    "reason",
    "shadow_set",
    "shadow_prev",
    "shadow_prev_lastchg",
    "issuer_role",
    "services",
    "rest_until",
    "rests",
    "total_failures",
    "hosts",
    "enroll_key",
];

fn n<T: ToString>(v: T) -> Option<String> {
    Some(v.to_string())
}

/// A pass's values in [`PASS_COLUMNS`] order. A reset pass's shadow hashes are not copied: the
/// fleet store is readable by every host's role (through `host_latest`), and the previous hash is
/// the account's old password on this host. Only settled reset passes get here (no derive key).
fn pass_values(r: &PassRecord) -> [Option<String>; 27] {
    let local_only = r.reset_password;
    [
        n(r.id),
        n(&r.user),
        n(r.uid),
        n(&r.hash),
        n(bytea(&r.derive_key)),
        n(r.created_at),
        n(r.starts_at),
        n(r.expires_at),
        n(flag(r.one_time)),
        n(flag(r.reset_password)),
        n(r.failures),
        opt(r.locked_at),
        opt(r.used_at),
        n(r.use_count),
        opt(r.revoked_at),
        n(&r.issued_by),
        r.reason.clone(),
        r.shadow_set.clone().filter(|_| !local_only),
        r.shadow_prev.clone().filter(|_| !local_only),
        r.shadow_prev_lastchg.filter(|_| !local_only).map(|t| t.to_string()),
        r.issuer_role.clone(),
        r.services.clone(),
        opt(r.rest_until),
        n(r.rests),
        n(r.total_failures),
        r.hosts.clone(),
        n(flag(r.enroll_key)),
    ]
}

impl PgStore {
    /// Copies `passes` (ids kept) and `audit` (oldest first, after any host binding's rows) into
    /// this store, which must hold no pass and no audit row but host bindings', and raises its
    /// clock mark to `clock`. Audit rows are marked as written on
    /// `host` (a local store serves one host). All or nothing.
    pub fn import(
        &mut self,
        passes: &[PassRecord],
        audit: &[(i64, AuditEntry)],
        keys: &[crate::keys::NewKey],
        clock: Option<i64>,
        host: &str,
    ) -> Result<Copied> {
        if let Some(r) = passes.iter().find(|r| r.reset_password && !r.derive_key.is_empty()) {
            return Err(Error::Refused(format!(
                "pass {} of {} is a reset pass whose password change still matters",
                r.id, r.user
            )));
        }
        self.in_tx(|s| {
            let conn = s.conn.get_mut();
            // Nobody else writes while the copy runs; a second migrate waits and then finds rows.
            conn.batch("LOCK TABLE pam_tap.passes, pam_tap.audit, pam_tap.keys IN EXCLUSIVE MODE")?;
            // Host bindings may come first (tapctl hosts bind): their audit rows stay, and the
            // copied rows follow them in their own order.
            let count = conn.query(
                "SELECT (SELECT count(*) FROM pam_tap.passes) AS passes, (SELECT count(*) FROM pam_tap.keys) AS keys,
                        (SELECT count(*) FROM pam_tap.audit WHERE event NOT IN ('host_bound', 'host_unbound')) AS audit,
                        (SELECT coalesce(max(id), 0) FROM pam_tap.audit) AS last",
                &[],
            )?;
            let row = count.first().ok_or_else(|| Error::Store("count returned nothing".into()))?;
            let (p, a, last) = (row.get_i64("passes")?, row.get_i64("audit")?, row.get_i64("last")?);
            let k = row.get_i64("keys")?;
            if p > 0 || a > 0 || k > 0 {
                return Err(Error::Refused(format!(
                    "the PostgreSQL store is not empty ({p} passes, {a} audit rows, {k} keys): migrate copies into an empty store only"
                )));
            }
            let pass_sql = insert_sql("pam_tap.passes", &PASS_COLUMNS, None);
            for r in passes {
                let vals = pass_values(r);
                let params: Vec<Option<&str>> = vals.iter().map(|v| v.as_deref()).collect();
                conn.execute(&pass_sql, &params)?;
            }
            let audit_sql = insert_sql("pam_tap.audit", &AUDIT_COLUMNS, None);
            for (id, e) in audit {
                let vals = [
                    n(id + last),
                    n(e.at),
                    n(&e.event),
                    e.user.clone(),
                    opt(e.pass_id),
                    e.operator.clone(),
                    e.service.clone(),
                    e.rhost.clone(),
                    e.reason.clone(),
                    n(host),
                ];
                let params: Vec<Option<&str>> = vals.iter().map(|v| v.as_deref()).collect();
                conn.execute(&audit_sql, &params)?;
            }
            // The keys passes enrolled on this host, with the host they were enrolled on (the local
            // store serves one).
            for k in keys {
                let enrolled = k.enrolled_at.to_string();
                let (pass, uid) = (k.pass_id.map(|i| i.to_string()), k.uid.map(|u| u.to_string()));
                conn.execute(
                    "INSERT INTO pam_tap.keys (user_name, key_type, blob, fingerprint, pass_id, host, hosts, enrolled_at, uid)
                     VALUES ($1, $2, $3, $4, $5::bigint, $6, $7, $8::bigint, $9::bigint)",
                    &[
                        Some(&k.user),
                        Some(&k.key.key_type),
                        Some(&k.key.blob),
                        Some(&k.key.fingerprint()),
                        pass.as_deref(),
                        Some(k.host.as_deref().unwrap_or(host)),
                        k.hosts.as_deref(),
                        Some(&enrolled),
                        uid.as_deref(),
                    ],
                )?;
            }
            for table in ["pam_tap.passes", "pam_tap.audit"] {
                // The next id is past every copied one (1 when nothing was copied).
                conn.query(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                coalesce((SELECT max(id) FROM {table}), 1),
                                (SELECT max(id) FROM {table}) IS NOT NULL)"
                    ),
                    &[],
                )?;
            }
            if let Some(c) = clock {
                s.raise_clock(c)?;
            }
            let clock = s
                .one("SELECT value FROM pam_tap.meta WHERE key = 'clock'", &[])?
                .ok_or_else(|| Error::Store("the store has no clock mark".into()))?
                .get_i64("value")?;
            Ok(Copied {
                passes: passes.len(),
                audit_rows: audit.len(),
                keys: keys.len(),
                clock,
                shadow_left_out: passes.iter().filter(|r| r.reset_password && r.shadow_prev.is_some()).count(),
            })
        })
    }
}
