//! The store's side of a shadow change: a row is marked `pending` (with the process doing the
//! change) and audited before /etc/shadow is touched, and unmarked once the change is done, so a
//! change cut short by SIGKILL or a power loss is visible, and undone, at the next touch.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{add_clock, audit_in, Context, Event, PassRecord, SqliteStore};
use crate::{Pending, SettleDecider, Touch, ISSUE, SETTLE};
use pam_tap_base::error::Result;

impl SqliteStore {
    /// The pending mark of a pass, if any.
    pub fn pending(&self, id: i64) -> Result<Option<Pending>> {
        Ok(self
            .conn
            .query_row(
                "SELECT pending, pending_owner FROM passes WHERE id = ?1 AND pending IS NOT NULL",
                params![id],
                |r| {
                    Ok(Pending {
                        what: r.get(0)?,
                        owner: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    })
                },
            )
            .optional()?)
    }

    /// Reset passes whose shadow state is not settled yet (derive key kept), oldest first, of one
    /// user or of everyone.
    pub fn open_resets(&self, user: Option<&str>) -> Result<Vec<PassRecord>> {
        let mut st = self.conn.prepare(
            "SELECT * FROM passes WHERE reset_password AND length(derive_key) > 0
             AND (?1 IS NULL OR user = ?1) ORDER BY id",
        )?;
        let rows = st
            .query_map(params![user], PassRecord::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Runs `decide` inside `BEGIN IMMEDIATE` on the pass as it is now (skipped if it is gone or
    /// settled); when it returns a decision with a reason, marks the pass pending for `owner` and
    /// audits the reason, all committed before the shadow change the caller makes next. An `issue`
    /// mark stays `issue` (only its owner changes): the settle undoes an issue cut short, and if it
    /// is cut short itself, the next touch must still see it as that (crates/core/src/reset.rs `decide`), as
    /// must `end_settle`'s caller on a fleet host (host_side.rs forgets that row).
    pub fn begin_settle(&mut self, at: &Touch<'_>, owner: &str, decide: &mut SettleDecider<'_>) -> Result<bool> {
        let (id, now, ctx) = (at.id, at.now, at.ctx);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(rec) = tx
            .query_row(
                "SELECT * FROM passes WHERE id = ?1 AND length(derive_key) > 0",
                params![id],
                PassRecord::from_row,
            )
            .optional()?
        else {
            return Ok(false);
        };
        let pending: Option<Pending> = tx
            .query_row(
                "SELECT pending, pending_owner FROM passes WHERE id = ?1 AND pending IS NOT NULL",
                params![id],
                |r| {
                    Ok(Pending {
                        what: r.get(0)?,
                        owner: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    })
                },
            )
            .optional()?;
        let eff_now = now.max(super::clock_in(&tx)?);
        let Some(mark) = decide(&rec, pending.as_ref(), eff_now)? else {
            return Ok(false);
        };
        let Some(reason) = mark else {
            return Ok(true);
        };
        tx.execute(
            "UPDATE passes SET pending = CASE pending WHEN ?4 THEN ?4 ELSE ?2 END, pending_owner = ?3
             WHERE id = ?1",
            params![id, SETTLE, owner, ISSUE],
        )?;
        audit_in(&tx, now, Event::Reset, Some(&rec.user), Some(id), ctx, Some(&reason))?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(true)
    }

    /// Ends a shadow change: clears the pending mark, wipes the derive key (the pass can no longer
    /// produce the shadow secret), optionally revokes the pass, and audits `reason`. `shadow_set`
    /// and `shadow_prev` stay: they tell what the pass did to the account.
    pub fn end_settle(&mut self, at: &Touch<'_>, revoke: bool, reason: &str) -> Result<()> {
        let (id, now, ctx) = (at.id, at.now, at.ctx);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user: String = tx.query_row(
            "UPDATE passes SET pending = NULL, pending_owner = NULL, derive_key = x'',
                revoked_at = CASE WHEN ?2 AND revoked_at IS NULL THEN ?3 ELSE revoked_at END
             WHERE id = ?1 RETURNING user",
            params![id, revoke, now],
            |r| r.get(0),
        )?;
        audit_in(&tx, now, Event::Reset, Some(&user), Some(id), ctx, Some(reason))?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Clears the pending mark of passes whose shadow change is done.
    pub fn clear_pending(&mut self, ids: &[i64]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in ids {
            tx.execute(
                "UPDATE passes SET pending = NULL, pending_owner = NULL WHERE id = ?1",
                params![id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Leaves the pending mark of passes whose shadow change failed, perhaps half-way, to the next
    /// touch, owned by no process: whichever process touches them next finishes the change, without
    /// waiting for this one to end (a login process may live as long as its session).
    pub fn release_pending(&mut self, ids: &[i64]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in ids {
            tx.execute(
                "UPDATE passes SET pending_owner = NULL WHERE id = ?1 AND pending IS NOT NULL",
                params![id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Revokes passes whose issue failed or was cut short, clearing their pending mark, with an
    /// audit row each; their shadow state is settled next.
    pub fn abandon(&mut self, ids: &[i64], now: i64, ctx: &Context, reason: &str) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in ids {
            let user: Option<String> = tx
                .query_row(
                    "UPDATE passes SET pending = NULL, pending_owner = NULL,
                        revoked_at = coalesce(revoked_at, ?2)
                     WHERE id = ?1 RETURNING user",
                    params![id, now],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(user) = user {
                audit_in(&tx, now, Event::Revoked, Some(&user), Some(*id), ctx, Some(reason))?;
            }
        }
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(())
    }
}
