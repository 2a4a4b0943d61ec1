//! Reading the whole store out for `tapctl migrate`: passes, audit rows with their ids, and the
//! clock mark, from one snapshot that no login can change until the copy is done.

use rusqlite::TransactionBehavior;

use super::{clock_in, PassRecord, SqliteStore};
use crate::AuditEntry;
use pam_tap_base::error::Result;

/// Everything a store holds, as one snapshot.
pub struct Exported {
    /// Passes, oldest first.
    pub passes: Vec<PassRecord>,
    /// Audit rows with their ids, oldest first.
    pub audit: Vec<(i64, AuditEntry)>,
    /// The clock high-water mark (`None`: nothing was ever written).
    pub clock: Option<i64>,
}

impl SqliteStore {
    /// Reads every row inside a write transaction and hands them to `copy`: logins wait until
    /// `copy` returns (the busy timeout), so no pass is used on this host between the read and the
    /// copy's commit. Nothing here is written; the transaction is rolled back.
    pub fn export<T>(&mut self, copy: impl FnOnce(&Exported) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let passes = {
            let mut st = tx.prepare("SELECT * FROM passes ORDER BY id")?;
            let rows = st.query_map([], PassRecord::from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let audit = {
            let mut st = tx.prepare("SELECT * FROM audit ORDER BY id")?;
            let rows = st.query_map([], |r| Ok((r.get("id")?, AuditEntry::from_row(r)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let clock = Some(clock_in(&tx)?).filter(|&c| c != i64::MIN);
        let out = copy(&Exported { passes, audit, clock });
        tx.rollback()?;
        out
    }
}
