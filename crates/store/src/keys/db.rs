//! The keys database: a small SQLite file that sshd's keys command may read (root-owned, readable
//! by one group, rollback journal so a read-only reader needs no write access) and only root
//! writes. It holds public keys and pass windows, never a pass hash or derive key.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::PublicKey;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::safefile::Trust;

/// Where the keys database lives unless the policy says otherwise (`[enroll] keys_db`).
pub const DEFAULT_KEYS_DB: &str = "/var/lib/pam_tap_keys/keys.db";

/// How long a reader waits for a writer's commit (sshd waits on the keys command).
const BUSY: Duration = Duration::from_millis(2000);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS keys (
        id INTEGER PRIMARY KEY,
        user TEXT NOT NULL,
        key_type TEXT NOT NULL,
        blob TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        pass_id INTEGER,
        host TEXT,
        hosts TEXT,
        enrolled_at INTEGER NOT NULL,
        seen_at INTEGER NOT NULL,
        uid INTEGER,
        UNIQUE (user, fingerprint)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS keys_pass ON keys(pass_id);
    CREATE TABLE IF NOT EXISTS enrolling (
        pass_id INTEGER PRIMARY KEY,
        user TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        hosts TEXT
    );
    CREATE INDEX IF NOT EXISTS enrolling_user ON enrolling(user);";

/// An enrolled key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewKey {
    pub user: String,
    /// The account's uid when its pass enrolled the key: the key logs in as that account only, not
    /// as a later account given the same name. `None` for a key stored before keys were bound to
    /// a uid: it logs in as nobody.
    pub uid: Option<u32>,
    pub key: PublicKey,
    /// The pass that enrolled it (`None` for a key cached from the fleet store without one).
    pub pass_id: Option<i64>,
    /// The host it was enrolled on.
    pub host: Option<String>,
    /// The hosts it logs in on (the pass's host scope; `None`: any).
    pub hosts: Option<String>,
    #[serde(serialize_with = "pam_tap_base::timefmt::ser_time")]
    pub enrolled_at: i64,
}

/// What the keys command answers for one user on one host.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    pub keys: Vec<PublicKey>,
    /// Whether a live enrollment pass lets the user enroll the key offered.
    pub enrolling: bool,
}

/// A comma-separated host scope admits `host` (`None`: every host).
fn for_host(hosts: Option<&str>, host: &str) -> bool {
    hosts.is_none_or(|list| list.split(',').any(|h| h == host))
}

pub struct KeysDb {
    pub(super) conn: Connection,
}

impl KeysDb {
    /// The keys command's side: an existing file opened read-only, itself and its directory
    /// root-owned and not group- or world-writable, without following a symlink.
    pub fn open_read(path: &Path) -> Result<Self> {
        Self::open_read_trusting(path, Trust::ROOT)
    }

    /// [`KeysDb::open_read`] trusting `trust`'s files (root's but in tests).
    pub fn open_read_trusting(path: &Path, trust: Trust) -> Result<Self> {
        trust.check(path, false)?;
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY)?;
        Ok(KeysDb { conn })
    }

    /// Root's side: opens the file, creating it and its directory when missing. The directory is
    /// 0750 and the file 0640, both root-owned with group `gid` (the keys command's), so the keys
    /// command can read it and nobody else.
    pub fn open_write(path: &Path, gid: Option<u32>) -> Result<Self> {
        Self::open_write_trusting(path, gid, Trust::ROOT)
    }

    /// [`KeysDb::open_write`] trusting `trust`'s files (root's but in tests).
    pub fn open_write_trusting(path: &Path, gid: Option<u32>, trust: Trust) -> Result<Self> {
        if !path.is_absolute() {
            return Err(Error::Config(format!(
                "keys database {} is not an absolute path",
                path.display()
            )));
        }
        let dir = path
            .parent()
            .ok_or_else(|| Error::Config("keys database path has no directory".into()))?;
        let io = |what: &Path, e: std::io::Error| Error::Io(format!("{}: {e}", what.display()));
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)
                .map_err(|e| io(dir, e))?;
            if let Some(gid) = gid {
                std::os::unix::fs::chown(dir, None, Some(gid)).map_err(|e| io(dir, e))?;
            }
        }
        trust.check_parent(path)?;
        if !path.exists() {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o640)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
                .map_err(|e| io(path, e))?;
            if let Some(gid) = gid {
                std::os::unix::fs::fchown(&f, None, Some(gid)).map_err(|e| io(path, e))?;
            }
            f.set_permissions(std::fs::Permissions::from_mode(0o640))
                .map_err(|e| io(path, e))?;
        }
        trust.check(path, false)?;
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY)?;
        // A rollback journal, not WAL: a WAL reader must write the -shm file, and the keys
        // command may not write here.
        conn.pragma_update(None, "journal_mode", "DELETE")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        add_uid_column(&conn)?;
        Ok(KeysDb { conn })
    }

    /// The keys that log in as `user` (the account with uid `uid`) on `host`, and whether a pass
    /// lets the user enroll one now.
    pub fn lookup(&self, user: &str, uid: u32, host: &str, now: i64) -> Result<Lookup> {
        self.lookup_seen_since(user, uid, host, now, i64::MIN)
    }

    /// [`KeysDb::lookup`] of the keys seen at or after `fresh_since` only (a fleet host's cache).
    pub fn lookup_seen_since(&self, user: &str, uid: u32, host: &str, now: i64, fresh_since: i64) -> Result<Lookup> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key_type, blob, hosts FROM keys WHERE user = ?1 AND uid = ?2 AND seen_at >= ?3 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![user, uid, fresh_since], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut keys = Vec::new();
        for row in rows {
            let (t, b, hosts) = row?;
            if for_host(hosts.as_deref(), host) {
                if let Ok(k) = PublicKey::parse(&t, &b) {
                    keys.push(k);
                }
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hosts FROM enrolling WHERE user = ?1 AND starts_at <= ?2 AND ?2 < expires_at")?;
        let windows = stmt.query_map(params![user, now], |r| r.get::<_, Option<String>>(0))?;
        let mut enrolling = false;
        for hosts in windows {
            enrolling |= for_host(hosts?.as_deref(), host);
        }
        Ok(Lookup { keys, enrolling })
    }

    /// Whether `key` is enrolled for `user` (the account with uid `uid`) and logs in on `host`; a
    /// cached key only when it was seen at or after `fresh_since`.
    pub fn is_enrolled(&self, user: &str, uid: u32, key: &PublicKey, host: &str, fresh_since: i64) -> Result<bool> {
        let hosts: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT hosts FROM keys WHERE user = ?1 AND fingerprint = ?2 AND key_type = ?3 AND blob = ?4
                   AND seen_at >= ?5 AND uid = ?6",
                params![user, key.fingerprint(), key.key_type, key.blob, fresh_since, uid],
                |r| r.get(0),
            )
            .optional()?;
        Ok(hosts.is_some_and(|h| for_host(h.as_deref(), host)))
    }

    /// Enrolls a key. A pass enrolls one key only: a second key for the same pass is refused. A key
    /// the user holds already stays as it was; one stored for another account of the same name
    /// (another uid) is bound to this one, whose pass has just proven it.
    pub fn enroll(&mut self, new: &NewKey) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(id) = new.pass_id {
            let taken: Option<i64> = tx
                .query_row("SELECT id FROM keys WHERE pass_id = ?1", params![id], |r| r.get(0))
                .optional()?;
            if taken.is_some() {
                return Err(Error::Refused(format!("pass {id} has enrolled a key already")));
            }
        }
        tx.execute(
            "INSERT INTO keys (user, key_type, blob, fingerprint, pass_id, host, hosts, enrolled_at, seen_at, uid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)
             ON CONFLICT (user, fingerprint) DO UPDATE SET pass_id = excluded.pass_id, host = excluded.host,
                 hosts = excluded.hosts, enrolled_at = excluded.enrolled_at, seen_at = excluded.seen_at,
                 uid = excluded.uid
               WHERE keys.uid IS NOT excluded.uid",
            params![
                new.user,
                new.key.key_type,
                new.key.blob,
                new.key.fingerprint(),
                new.pass_id,
                new.host,
                new.hosts,
                new.enrolled_at,
                new.uid
            ],
        )?;
        if let Some(id) = new.pass_id {
            tx.execute("DELETE FROM enrolling WHERE pass_id = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Keeps a key the fleet store vouched for at `seen_at`, for lookups while it cannot be reached.
    /// The store's word replaces the cache's: a key cached for another uid is now this one's.
    pub fn cache(&mut self, new: &NewKey, seen_at: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO keys (user, key_type, blob, fingerprint, pass_id, host, hosts, enrolled_at, seen_at, uid)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (user, fingerprint) DO UPDATE SET
                 seen_at = CASE WHEN keys.uid IS excluded.uid THEN max(keys.seen_at, excluded.seen_at)
                                ELSE excluded.seen_at END,
                 hosts = excluded.hosts, uid = excluded.uid",
            params![
                new.user,
                new.key.key_type,
                new.key.blob,
                new.key.fingerprint(),
                new.host,
                new.hosts,
                new.enrolled_at,
                seen_at,
                new.uid
            ],
        )?;
        Ok(())
    }

    /// Lets `user` enroll a key while the pass `pass_id` is valid (on `hosts`, `None`: any).
    pub fn open_window(
        &mut self,
        pass_id: i64,
        user: &str,
        starts_at: i64,
        expires_at: i64,
        hosts: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO enrolling (pass_id, user, starts_at, expires_at, hosts) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![pass_id, user, starts_at, expires_at, hosts],
        )?;
        Ok(())
    }

    /// Ends the enrollment windows of `user`'s passes (revoked, replaced, used up).
    pub fn close_windows(&mut self, user: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM enrolling WHERE user = ?1", params![user])?;
        Ok(())
    }

    /// Removes an enrolled key; whether there was one.
    pub fn revoke(&mut self, user: &str, fingerprint: &str) -> Result<Option<NewKey>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = tx
            .query_row(
                "SELECT user, key_type, blob, pass_id, host, hosts, enrolled_at, uid FROM keys
                  WHERE user = ?1 AND fingerprint = ?2",
                params![user, fingerprint],
                row_key,
            )
            .optional()?;
        tx.execute(
            "DELETE FROM keys WHERE user = ?1 AND fingerprint = ?2",
            params![user, fingerprint],
        )?;
        tx.commit()?;
        found.transpose()
    }

    /// Every enrolled key (of one user, or all), oldest first.
    pub fn list(&self, user: Option<&str>) -> Result<Vec<NewKey>> {
        let mut stmt = self.conn.prepare(
            "SELECT user, key_type, blob, pass_id, host, hosts, enrolled_at, uid FROM keys
              WHERE ?1 IS NULL OR user = ?1 ORDER BY enrolled_at, id",
        )?;
        let rows = stmt.query_map(params![user], row_key)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }
}

fn row_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<NewKey>> {
    let (t, b): (String, String) = (r.get(1)?, r.get(2)?);
    let user: String = r.get(0)?;
    let (pass_id, host, hosts, enrolled_at, uid) = (r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
    Ok(PublicKey::parse(&t, &b).map(|key| NewKey {
        user,
        uid,
        key,
        pass_id,
        host,
        hosts,
        enrolled_at,
    }))
}

/// A keys database made before keys were bound to a uid gets the column; its keys, bound to none,
/// log in as nobody until a pass enrolls them again.
fn add_uid_column(conn: &Connection) -> Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('keys')")?;
    let has_uid = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .iter()
        .any(|c| c == "uid");
    if !has_uid {
        conn.execute_batch("ALTER TABLE keys ADD COLUMN uid INTEGER")?;
    }
    Ok(())
}
