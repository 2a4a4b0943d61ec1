//! Opening the database: the module's open checks every file it will touch; tapctl's create
//! makes them root-only. Both set the same connection options.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::checks::{self, Schema};
use super::{wal_dir, SqliteStore, SCHEMA_VERSION};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::safefile::Trust;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const BUSY_POLL: Duration = Duration::from_millis(1);
/// WAL pages before a commit folds them into the database. Each login's first connection rebuilds
/// the WAL index by reading every page since the last fold, so a small WAL keeps that cheap; a
/// fold costs the login that triggers it two fsyncs, about once in 20 logins.
const WAL_PAGES: i64 = 100;

/// Waits for a lock another login holds, for up to [`BUSY_TIMEOUT`]. SQLite's own busy timeout
/// backs off to 100 ms sleeps while a commit holds the lock for a few ms; with many logins at once
/// most of the wait would be sleeping past a free lock. Polling every millisecond costs a lock
/// attempt, and keeps the write lock busy.
fn busy_wait(count: i32) -> bool {
    if (count as u128) * BUSY_POLL.as_micros() >= BUSY_TIMEOUT.as_micros() {
        return false;
    }
    std::thread::sleep(BUSY_POLL);
    true
}

impl SqliteStore {
    /// Opens an existing database the way the module must: every file checked (no symlink,
    /// root-owned, not group/world-writable, directory too), opened without following symlinks,
    /// never created, schema version checked.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_trusting(path, Trust::ROOT)
    }

    /// [`SqliteStore::open`] with the files of `trust`'s owner trusted (root's but in tests).
    pub fn open_trusting(path: &Path, trust: Trust) -> Result<Self> {
        if !path.is_absolute() {
            return Err(Error::Unsafe(format!(
                "database {} is not an absolute path",
                path.display()
            )));
        }
        trust.check_parent(path)?;
        trust.check(path, false)?;
        for s in checks::side_files(path) {
            trust.check(&s, true)?;
        }
        let wal_is_new = wal_dir::is_new(&checks::side_files(path)[0]);
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags)?;
        let store = Self::configure(conn, path)?;
        // The first read opens (and, if missing, creates) the WAL; nothing is committed before the
        // directory entry is durable.
        let schema = checks::schema(&store.conn)?;
        if wal_is_new {
            wal_dir::sync_dir(path)?;
        }
        if let Schema::Older(v) | Schema::Newer(v) = schema {
            return Err(Error::Store(format!(
                "{} has schema version {v}, this pam_tap needs {SCHEMA_VERSION}: run `tapctl init`",
                path.display()
            )));
        }
        Ok(store)
    }

    /// Creates (or upgrades) the database for tapctl: directory 0700 and file 0600, root-owned,
    /// then migrations. Idempotent.
    pub fn create(path: &Path) -> Result<Self> {
        Self::create_trusting(path, Trust::ROOT)
    }

    /// [`SqliteStore::create`] with the files of `trust`'s owner trusted (root's but in tests).
    pub fn create_trusting(path: &Path, trust: Trust) -> Result<Self> {
        if !path.is_absolute() {
            return Err(Error::Config(format!(
                "database {} is not an absolute path",
                path.display()
            )));
        }
        let dir = path
            .parent()
            .ok_or_else(|| Error::Config("database path has no directory".into()))?;
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::Io(format!("creating {}: {e}", dir.display())))?;
        }
        trust.check_parent(path)?;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::Io(format!("creating {}: {e}", path.display()))),
        }
        trust.check(path, false)?;
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let mut store = Self::configure(conn, path)?;
        store.migrate()?;
        // The database and its WAL are new or may be: their directory entries go to disk too.
        wal_dir::sync_dir(path)?;
        Ok(store)
    }

    pub(crate) fn configure(conn: Connection, path: &Path) -> Result<Self> {
        conn.busy_handler(Some(busy_wait))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The file may be shared by hostile writers only if root lets them; still refuse to trust
        // schema objects such as triggers from it beyond our own.
        conn.pragma_update(None, "trusted_schema", "OFF")?;
        // Every login is a new process whose connection closes at once: a checkpoint on close
        // would cost each login four more fsyncs and a WAL re-creation. The commit itself is still
        // synced (synchronous=FULL); SQLite's auto-checkpoint folds the WAL in every 1000 pages.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }
}
