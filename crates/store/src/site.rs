//! The policy's store, whichever backend its `database` names: what the module opens.

use std::path::Path;

use super::postgres::PgStore;
use super::{Backend, Opened, SqliteStore};
use crate::database::Database;
use crate::fleet::FleetTimeouts;
use pam_tap_base::error::Result;

/// The stores a policy names for the module: its `database`, and with a PostgreSQL one this
/// host's own store (`host_store`) and its waits (`[fleet]`).
pub struct Site<'a> {
    pub database: &'a Database,
    pub host_store: &'a Path,
    pub fleet: FleetTimeouts,
}

/// The SQLite file (with every trust check) or the PostgreSQL store (connected as a host). A
/// PostgreSQL store always "exists": only connecting would tell.
impl<'a> Backend<'a> for Site<'_> {
    fn exists(&self) -> bool {
        match self.database {
            Database::Sqlite(p) => p.exists(),
            Database::Postgres(_) => true,
        }
    }
    fn networked(&self) -> bool {
        matches!(self.database, Database::Postgres(_))
    }
    fn open(self) -> Result<Opened<'a>> {
        Ok(Opened::Owned(match self.database {
            Database::Sqlite(p) => Box::new(SqliteStore::open(p)?),
            Database::Postgres(c) => Box::new(PgStore::open(c, self.host_store, self.fleet)?),
        }))
    }
}
