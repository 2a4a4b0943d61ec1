//! A fleet store transaction: its waits and commit level set in its BEGIN, run again when the
//! server rolls it back for a serialization conflict or a deadlock, after a short random pause.

use std::time::Duration;

use super::PgStore;
use pam_tap_base::error::{Error, Result};

/// How many times a transaction runs at most when the server rolls it back for a serialization
/// conflict or a deadlock. A serializable engine (CockroachDB, YugabyteDB, or PostgreSQL with
/// `default_transaction_isolation = serializable`) answers the loser of a race for one pass with
/// SQLSTATE 40001 where PostgreSQL's default re-reads the row; run again, the loser sees the
/// winner's commit (the pass used) and is refused as it would be there.
const MAX_RUNS: u32 = 6;

/// The pause before run `n + 1` is random within `PAUSE_STEP_MS << (n - 1)` ms (8, 16, 32, 64 and
/// 128: under a quarter of a second in all). Sessions that lost to the same commit and ran again at
/// once would meet each other again; spread out, one after another wins. Measured with 60 wrong
/// answers racing one pass under SERIALIZABLE (tests/fleet/serializable.rs): without the pause a
/// session met up to 3 conflicts in a row.
const PAUSE_STEP_MS: u64 = 8;

/// The window of the pause before run `next` (2..=MAX_RUNS), in microseconds.
fn window_us(next: u32) -> u64 {
    (PAUSE_STEP_MS * 1000) << next.saturating_sub(2).min(MAX_RUNS)
}

/// How long to wait before run `next`, from `random` (uniform): somewhere in its window.
fn pause(next: u32, random: u64) -> Duration {
    Duration::from_micros(random % window_us(next))
}

/// Sleeps before run `next`; without randomness (getrandom failing), the longest of its window.
fn pause_before(next: u32) {
    let mut b = [0u8; 8];
    let random = match getrandom::getrandom(&mut b) {
        Ok(()) => u64::from_ne_bytes(b),
        Err(_) => window_us(next) - 1,
    };
    std::thread::sleep(pause(next, random));
}

/// Raises the commit level of a host's transaction to `on` (the commit waits for the WAL to be
/// flushed on the synchronous standbys, where `synchronous_standby_names` names any) when the
/// session's is lower; `remote_apply` stays. A commit no standby confirms is given up after the
/// host's `statement_timeout` and a second, a login refused (conn/answer.rs).
const DURABLE_COMMIT: &str = "SELECT set_config('synchronous_commit', 'on', true) \
     WHERE current_setting('synchronous_commit') IN ('off', 'local', 'remote_write')";

impl PgStore {
    /// Runs `f` in one transaction: committed if it returns Ok, rolled back otherwise. A commit
    /// that fails (the server gone) is an error: the caller never reports a success it did not
    /// keep. A run the server rolled back for a serialization conflict or a deadlock runs again.
    pub(super) fn in_tx<T>(&mut self, f: impl FnMut(&mut Self) -> Result<T>) -> Result<T> {
        self.in_tx_while(&|| true, f)
    }

    /// [`PgStore::in_tx`], running again after a conflict only while `rerun` says so (not once `f`
    /// did what the rollback cannot undo), [`MAX_RUNS`] times at most.
    pub(super) fn in_tx_while<T>(
        &mut self,
        rerun: &dyn Fn() -> bool,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let mut runs = 1;
        loop {
            match self.in_tx_once(&mut f) {
                Err((_, true)) if runs < MAX_RUNS && rerun() => {
                    runs += 1;
                    pause_before(runs);
                }
                done => return done.map_err(|(e, _)| e),
            }
        }
    }

    /// One run of a transaction; an error says whether the server rolled it back for a conflict.
    fn in_tx_once<T>(&mut self, f: &mut impl FnMut(&mut Self) -> Result<T>) -> std::result::Result<T, (Error, bool)> {
        let conflicted = |s: &mut Self, e: Error| {
            let lost = s.conn.get_mut().conflicted();
            let _ = s.conn.get_mut().rollback();
            (e, lost)
        };
        let began = match self.timeouts {
            // In the BEGIN's own round trip, and for this transaction only (a pooler's server
            // connection is shared). The commit waits for a synchronous standby where the server
            // has one, whatever the role's or database's default: a use it acknowledges survives
            // a failover (docs/guide/src/design.md, "The fleet store").
            Some(t) => self.conn.get_mut().batch(&format!(
                "BEGIN; SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {}; {DURABLE_COMMIT}",
                t.lock_timeout.as_millis(),
                t.statement_timeout.as_millis()
            )),
            None => self.conn.get_mut().begin(),
        };
        if let Err(e) = began {
            return Err(conflicted(self, e));
        }
        match f(self) {
            Ok(v) => match self.conn.get_mut().commit() {
                Ok(()) => Ok(v),
                Err(e) => Err(conflicted(self, e)),
            },
            Err(e) => Err(conflicted(self, e)),
        }
    }

    /// Runs one statement of its own (autocommit), again after a conflict, [`MAX_RUNS`] times at most.
    pub(super) fn rerunning<T>(&mut self, mut f: impl FnMut(&mut Self) -> Result<T>) -> Result<T> {
        let mut runs = 1;
        loop {
            match f(self) {
                Err(_) if runs < MAX_RUNS && self.conn.get_mut().conflicted() => {
                    runs += 1;
                    pause_before(runs);
                }
                done => return done,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pauses_before_reruns_double_and_stay_under_a_quarter_of_a_second_in_all() {
        let windows: Vec<u64> = (2..=MAX_RUNS).map(|n| window_us(n) / 1000).collect();
        assert_eq!(windows, [8, 16, 32, 64, 128]);
        assert!(windows.iter().sum::<u64>() < 250);
        for n in 2..=MAX_RUNS {
            assert_eq!(pause(n, 0), Duration::ZERO);
            assert_eq!(pause(n, window_us(n)), Duration::ZERO);
            assert_eq!(pause(n, window_us(n) - 1).as_micros() as u64, window_us(n) - 1);
            assert!(pause(n, u64::MAX).as_micros() < u128::from(window_us(n)));
        }
    }
}
