//! The back-off: anyone can make a pass rest, nobody can end it by guessing. After `max_failures`
//! consecutive wrong answers the pass rests for `lockout`, twice as long at each further rest; after
//! [`DEAD_AFTER`] wrong answers in all (NIST SP 800-63B's ceiling) it is locked for good.
//! `tapctl unlock` ends a rest.

use std::time::Duration;

use rusqlite::{params, TransactionBehavior};

use super::{add_clock, audit_in, Event, SqliteStore};
use crate::{Backoff, Touch};
use pam_tap_base::error::Result;

/// Wrong answers in all after which a pass is dead.
pub const DEAD_AFTER: u32 = 100;
/// Doubling stops here (2^16 times the lockout), so the arithmetic never overflows.
const MAX_DOUBLINGS: u32 = 16;

/// How long rest number `rests` (0 for the first) lasts.
pub fn rest_length(lockout: Duration, rests: u32) -> i64 {
    (lockout.as_secs() as i64).saturating_mul(1i64 << rests.min(MAX_DOUBLINGS))
}

impl SqliteStore {
    /// Counts one wrong answer; returns whether the pass now rests or is dead.
    pub(super) fn count_failure(&mut self, at: &Touch<'_>, rules: &Backoff) -> Result<bool> {
        let (id, now, ctx) = (at.id, at.now, at.ctx);
        let (max_failures, lockout) = (rules.max_failures, rules.lockout);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (user, failures, total, rests, locked): (String, u32, u32, u32, Option<i64>) = tx.query_row(
            "UPDATE passes SET failures = failures + 1, total_failures = total_failures + 1 WHERE id = ?1
             RETURNING user, failures, total_failures, rests, locked_at",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        audit_in(
            &tx,
            now,
            Event::Failed,
            Some(&user),
            Some(id),
            ctx,
            Some(&format!(
                "failure {failures} of {max_failures}, {total} of {DEAD_AFTER} in all"
            )),
        )?;
        let mut blocked = locked.is_some();
        if locked.is_none() && total >= DEAD_AFTER {
            tx.execute("UPDATE passes SET locked_at = ?2 WHERE id = ?1", params![id, now])?;
            let why = format!("{total} failures in all: the pass is dead");
            audit_in(&tx, now, Event::Locked, Some(&user), Some(id), ctx, Some(&why))?;
            blocked = true;
        } else if locked.is_none() && failures >= max_failures {
            let rest = rest_length(lockout, rests);
            tx.execute(
                "UPDATE passes SET rest_until = ?2, rests = rests + 1, failures = 0 WHERE id = ?1",
                params![id, now.saturating_add(rest)],
            )?;
            let why = format!("{failures} consecutive failures: resting {rest} s");
            audit_in(&tx, now, Event::Resting, Some(&user), Some(id), ctx, Some(&why))?;
            blocked = true;
        }
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(blocked)
    }

    /// Ends a pass's rest and clears its consecutive failures and doublings. A pass locked for
    /// good stays locked unless the lock predates the back-off (fewer than [`DEAD_AFTER`]
    /// failures in all).
    #[cfg(feature = "admin")]
    pub fn unlock(&mut self, at: &Touch<'_>) -> Result<()> {
        let (id, now, ctx) = (at.id, at.now, at.ctx);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (user, total, rest_until, locked, failures): (String, u32, Option<i64>, Option<i64>, u32) = tx.query_row(
            "SELECT user, total_failures, rest_until, locked_at, failures FROM passes WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        if locked.is_some() && total >= DEAD_AFTER {
            return Err(pam_tap_base::error::Error::Refused(format!(
                "pass {id} of {user} failed {total} times and is dead: issue a new one with --replace"
            )));
        }
        if locked.is_none() && rest_until.is_none_or(|t| t <= now) && failures == 0 {
            return Err(pam_tap_base::error::Error::Refused(format!(
                "pass {id} of {user} is neither resting nor locked"
            )));
        }
        tx.execute(
            "UPDATE passes SET rest_until = NULL, rests = 0, failures = 0, locked_at = NULL WHERE id = ?1",
            params![id],
        )?;
        audit_in(&tx, now, Event::Unlocked, Some(&user), Some(id), ctx, None)?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(())
    }
}
