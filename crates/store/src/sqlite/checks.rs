//! The store's rules about its own files, in one place: which side files SQLite keeps beside the
//! database, its schema version against this build's, and the clock high-water mark. The store's
//! `open` applies them, and `tapctl doctor` runs them without opening the store for writing.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::SCHEMA_VERSION;

/// The files SQLite keeps beside the database in WAL mode; each must be as trusted as the database.
pub fn side_files(db: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    })
}

/// Opens the database to read only: never created, never written, a symlink refused.
pub fn open_read_only(db: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    Connection::open_with_flags(db, flags)
}

/// How a database's schema stands against this build's [`SCHEMA_VERSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Current,
    /// Older: `tapctl init` upgrades it; until then every pass is refused.
    Older(i64),
    /// Newer: written by a later pam_tap; this one refuses it.
    Newer(i64),
}

/// The schema version of `conn`'s database, judged. An error means it is not a readable SQLite database.
pub fn schema(conn: &Connection) -> rusqlite::Result<Schema> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(match version.cmp(&SCHEMA_VERSION) {
        std::cmp::Ordering::Equal => Schema::Current,
        std::cmp::Ordering::Less => Schema::Older(version),
        std::cmp::Ordering::Greater => Schema::Newer(version),
    })
}

/// The latest time the store has seen (seconds since the epoch), if it has recorded one: a clock
/// behind it has been set back.
pub fn clock_high_water(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT value FROM meta WHERE key = 'clock'", [], |r| r.get(0))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_files_sit_beside_the_database() {
        let [wal, shm] = side_files(Path::new("/var/lib/pam_tap/tap.db"));
        assert_eq!(wal, Path::new("/var/lib/pam_tap/tap.db-wal"));
        assert_eq!(shm, Path::new("/var/lib/pam_tap/tap.db-shm"));
    }

    #[test]
    fn schema_and_clock_of_a_database() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER)")
            .unwrap();
        assert_eq!(schema(&conn).unwrap(), Schema::Older(0));
        assert_eq!(clock_high_water(&conn).unwrap(), None);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION).unwrap();
        assert_eq!(schema(&conn).unwrap(), Schema::Current);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        assert_eq!(schema(&conn).unwrap(), Schema::Newer(SCHEMA_VERSION + 1));
        conn.execute("INSERT INTO meta(key, value) VALUES('clock', 1800000000)", [])
            .unwrap();
        assert_eq!(clock_high_water(&conn).unwrap(), Some(1_800_000_000));
    }
}
