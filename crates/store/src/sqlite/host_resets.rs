//! The SQLite store as a fleet host's own store (`host_store`): one row per fleet reset pass this
//! host accepted, under the fleet pass's id, holding what the reset did to this host's shadow entry
//! (crates/store/src/postgres/store/host_side.rs). The shadow side then runs on these rows exactly as on
//! the local store's own reset passes (crates/core/src/reset.rs).

use rusqlite::{params, TransactionBehavior};

use super::{add_clock, audit_in, Context, Event, PassRecord, SqliteStore};
use crate::ISSUE;
use pam_tap_base::error::Result;

/// The shadow change a fleet reset pass makes on the host that accepts it.
pub struct HostReset<'a> {
    /// The shadow entry's hash and last-change day before it.
    pub prev: &'a str,
    pub prev_lastchg: Option<i64>,
    /// The crypt hash of the derived secret to put into the shadow entry, from the pass's derive
    /// key (which a host learns only from the database's acceptance of the pass).
    pub set_for: &'a dyn Fn(&[u8]) -> Result<String>,
}

impl SqliteStore {
    /// Records fleet pass `rec` as accepted here, marked pending (`issue`) for `owner`, with an
    /// audit row, committed before the shadow entry is touched: a change cut short is undone at
    /// the next touch, as one cut short at issue is on the local store.
    pub fn insert_host_reset(
        &mut self,
        rec: &PassRecord,
        set: &str,
        reset: &HostReset<'_>,
        now: i64,
        ctx: &Context,
        owner: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // A row this host settled earlier (its derive key wiped) gives way to the new acceptance.
        tx.execute(
            "DELETE FROM passes WHERE id = ?1 AND length(derive_key) = 0 AND pending IS NULL",
            params![rec.id],
        )?;
        tx.execute(
            "INSERT INTO passes (id, user, uid, hash, derive_key, created_at, starts_at, expires_at,
                one_time, reset_password, used_at, use_count, issued_by, reason, shadow_set, shadow_prev,
                shadow_prev_lastchg, issuer_role, services, hosts, pending, pending_owner)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                ?19, ?20, ?21)",
            params![
                rec.id,
                rec.user,
                rec.uid,
                rec.hash,
                rec.derive_key,
                rec.created_at,
                rec.starts_at,
                rec.expires_at,
                rec.one_time,
                now,
                rec.use_count.saturating_add(1),
                rec.issued_by,
                rec.reason,
                set,
                reset.prev,
                reset.prev_lastchg,
                rec.issuer_role,
                rec.services,
                rec.hosts,
                ISSUE,
                owner,
            ],
        )?;
        let why = "fleet reset pass accepted on this host: password reset, change forced";
        audit_in(&tx, now, Event::Reset, Some(&rec.user), Some(rec.id), ctx, Some(why))?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Drops this host's row of a pass whose acceptance here was cut short and is now undone:
    /// the pass itself may still be good (the use was not committed), and a later acceptance here
    /// writes a fresh row. The audit rows stay.
    pub fn forget_host_reset(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM passes WHERE id = ?1 AND pending IS NULL", params![id])?;
        Ok(())
    }
}
