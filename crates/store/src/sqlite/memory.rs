//! A store that lives in memory: the SQLite store's own schema and statements on a private
//! in-memory database, so tests drive the core through every rule of the real store, as an
//! ordinary user (no file, so no root-owned file to trust), and nothing is written twice.

use std::path::Path;

use rusqlite::Connection;

use super::SqliteStore;
use pam_tap_base::error::Result;

impl SqliteStore {
    /// A fresh store at the current schema version, gone when dropped.
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        let mut store = Self::configure(conn, Path::new(":memory:"))?;
        store.migrate()?;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SCHEMA_VERSION;

    #[test]
    fn an_in_memory_store_has_the_current_schema() {
        let s = SqliteStore::in_memory().unwrap();
        assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
        assert!(s.latest_for("alice").unwrap().is_none());
    }
}
