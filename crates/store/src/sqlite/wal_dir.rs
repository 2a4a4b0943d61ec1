//! The WAL's directory entry, made durable by pam_tap instead of by SQLite.
//!
//! A consumed pass is durable once its commit's WAL frames are fsynced, provided the WAL file
//! itself is still there after a power loss: when the WAL was created by this connection, its
//! directory entry must be synced before the first commit relies on it. SQLite does that with a
//! directory fsync at the first commit of every connection, since it opens the WAL with O_CREAT
//! each time; for a module that opens a connection per login that is one ext4 journal commit per
//! login for nothing, once the WAL persists (connections never checkpoint or delete it on close).
//! So SQLite is built with `SQLITE_DISABLE_DIRSYNC` (.cargo/config.toml) and pam_tap syncs the
//! directory when the WAL is new: missing or empty when the connection opens. A WAL that holds
//! frames was written after its creator synced the directory (every pam_tap connection syncs before
//! it can commit), or by a tool with SQLite's own directory sync (the sqlite3 shell).

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use pam_tap_base::error::{Error, Result};

/// Whether the WAL at `wal` is new to this connection: missing or empty.
pub(super) fn is_new(wal: &Path) -> bool {
    std::fs::symlink_metadata(wal).map_or(true, |m| m.len() == 0)
}

/// Syncs the directory holding the database (already checked trusted by the caller).
pub(super) fn sync_dir(db: &Path) -> Result<()> {
    let dir = db
        .parent()
        .ok_or_else(|| Error::Store(format!("{} has no directory", db.display())))?;
    let d = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    d.sync_all()
        .map_err(|e| Error::Io(format!("syncing {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundled_sqlite_leaves_the_directory_sync_to_pam_tap() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let used: bool = c
            .query_row("SELECT sqlite_compileoption_used('DISABLE_DIRSYNC')", [], |r| r.get(0))
            .unwrap();
        assert!(
            used,
            "build with LIBSQLITE3_FLAGS=-DSQLITE_DISABLE_DIRSYNC (.cargo/config.toml)"
        );
    }
}
