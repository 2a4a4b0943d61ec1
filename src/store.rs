//! The pass store: one SQLite file, root-only, WAL with `synchronous=FULL`, every read-then-write
//! in `BEGIN IMMEDIATE`, an audit table that purge never touches.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::safefile;

mod memory;
mod pass_store;
pub mod pending;
mod sqlite_impl;

pub use pass_store::{Backend, PassStore, Sqlite};

/// The schema version this build writes and reads. Older files are migrated by `tapctl init`
/// (and by any tapctl command); the module refuses a version it does not know.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
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

const MIGRATIONS: &[&str] = &[
    // 1: passes, audit, meta (the clock high-water mark).
    "CREATE TABLE passes (
        id INTEGER PRIMARY KEY,
        user TEXT NOT NULL,
        uid INTEGER NOT NULL,
        hash TEXT NOT NULL,
        derive_key BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        starts_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        one_time INTEGER NOT NULL,
        reset_password INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_at INTEGER,
        used_at INTEGER,
        use_count INTEGER NOT NULL DEFAULT 0,
        revoked_at INTEGER,
        issued_by TEXT NOT NULL,
        reason TEXT,
        shadow_set TEXT,
        shadow_prev TEXT,
        shadow_prev_lastchg INTEGER
    );
    CREATE INDEX passes_user ON passes(user, id);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        user TEXT,
        pass_id INTEGER,
        operator TEXT,
        service TEXT,
        rhost TEXT,
        reason TEXT
    );
    CREATE INDEX audit_user ON audit(user, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    // The helpdesk boundary: the issuer's role, the services a pass is narrowed to (comma-separated,
    // NULL: the policy's), and the back-off (a rest until, rests so far, failures in all).
    "ALTER TABLE passes ADD COLUMN issuer_role TEXT;
    ALTER TABLE passes ADD COLUMN services TEXT;
    ALTER TABLE passes ADD COLUMN rest_until INTEGER;
    ALTER TABLE passes ADD COLUMN rests INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE passes ADD COLUMN total_failures INTEGER NOT NULL DEFAULT 0;",
    // 3: a shadow change under way: what (`issue`, `settle`) and which process ("pid:start").
    "ALTER TABLE passes ADD COLUMN pending TEXT;
    ALTER TABLE passes ADD COLUMN pending_owner TEXT;",
];

mod backoff;
pub use backoff::DEAD_AFTER;

/// Why a pass can or cannot be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Usable,
    NotYetValid,
    Expired,
    Used,
    Revoked,
    Locked,
    /// Resting after `max_failures` consecutive failures (the back-off).
    Resting,
    DisabledByPolicy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Usable => "usable",
            Status::NotYetValid => "not_yet_valid",
            Status::Expired => "expired",
            Status::Used => "used",
            Status::Revoked => "revoked",
            Status::Locked => "locked",
            Status::Resting => "resting",
            Status::DisabledByPolicy => "disabled_by_policy",
        }
    }
}

/// One pass as stored. `hash` and `derive_key` never leave the library in output.
#[derive(Debug, Clone, Serialize)]
pub struct PassRecord {
    pub id: i64,
    pub user: String,
    pub uid: u32,
    #[serde(skip)]
    pub hash: String,
    #[serde(skip)]
    pub derive_key: Vec<u8>,
    pub created_at: i64,
    pub starts_at: i64,
    pub expires_at: i64,
    pub one_time: bool,
    pub reset_password: bool,
    pub failures: u32,
    pub locked_at: Option<i64>,
    pub used_at: Option<i64>,
    pub use_count: u32,
    pub revoked_at: Option<i64>,
    pub issued_by: String,
    pub reason: Option<String>,
    #[serde(skip)]
    pub shadow_set: Option<String>,
    #[serde(skip)]
    pub shadow_prev: Option<String>,
    #[serde(skip)]
    pub shadow_prev_lastchg: Option<i64>,
    /// root, privileged_issuer or issuer; `None` for rows from before it was stored.
    pub issuer_role: Option<String>,
    /// The services the pass is narrowed to, comma-separated; `None`: the policy's.
    pub services: Option<String>,
    pub rest_until: Option<i64>,
    pub rests: u32,
    pub total_failures: u32,
}

impl PassRecord {
    /// The status at `now` (already raised to the store's clock high-water mark).
    pub fn status(&self, now: i64, enabled: bool) -> Status {
        if self.revoked_at.is_some() {
            Status::Revoked
        } else if self.one_time && self.used_at.is_some() {
            Status::Used
        } else if self.locked_at.is_some() {
            Status::Locked
        } else if now >= self.expires_at {
            Status::Expired
        } else if now < self.starts_at {
            Status::NotYetValid
        } else if self.rest_until.is_some_and(|t| now < t) {
            Status::Resting
        } else if !enabled {
            Status::DisabledByPolicy
        } else {
            Status::Usable
        }
    }

    /// Live: would block a new pass for the same user (not revoked, not expired, not used up).
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && !(self.one_time && self.used_at.is_some())
    }

    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            user: r.get("user")?,
            uid: r.get("uid")?,
            hash: r.get("hash")?,
            derive_key: r.get("derive_key")?,
            created_at: r.get("created_at")?,
            starts_at: r.get("starts_at")?,
            expires_at: r.get("expires_at")?,
            one_time: r.get("one_time")?,
            reset_password: r.get("reset_password")?,
            failures: r.get("failures")?,
            locked_at: r.get("locked_at")?,
            used_at: r.get("used_at")?,
            use_count: r.get("use_count")?,
            revoked_at: r.get("revoked_at")?,
            issued_by: r.get("issued_by")?,
            reason: r.get("reason")?,
            shadow_set: r.get("shadow_set")?,
            shadow_prev: r.get("shadow_prev")?,
            shadow_prev_lastchg: r.get("shadow_prev_lastchg")?,
            issuer_role: r.get("issuer_role")?,
            services: r.get("services")?,
            rest_until: r.get("rest_until")?,
            rests: r.get("rests")?,
            total_failures: r.get("total_failures")?,
        })
    }
}

/// A new pass to insert.
#[derive(Debug, Clone)]
pub struct NewPass {
    pub user: String,
    pub uid: u32,
    pub hash: String,
    pub derive_key: Vec<u8>,
    pub created_at: i64,
    pub starts_at: i64,
    pub expires_at: i64,
    pub one_time: bool,
    pub reset_password: bool,
    pub issued_by: String,
    pub reason: Option<String>,
    pub shadow_set: Option<String>,
    pub shadow_prev: Option<String>,
    pub shadow_prev_lastchg: Option<i64>,
    pub issuer_role: Option<String>,
    pub services: Option<String>,
}

/// Audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Issued,
    Used,
    Failed,
    Locked,
    Revoked,
    Purged,
    Refused,
    GraceUsed,
    Resting,
    Unlocked,
    /// A reset pass's shadow state: put in place, restored, locked or handed over.
    Reset,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Issued => "issued",
            Event::Used => "used",
            Event::Failed => "failed",
            Event::Locked => "locked",
            Event::Revoked => "revoked",
            Event::Purged => "purged",
            Event::Refused => "refused",
            Event::GraceUsed => "grace_used",
            Event::Resting => "resting",
            Event::Unlocked => "unlocked",
            Event::Reset => "reset",
        }
    }
}

/// Who and where, for the audit row.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub operator: Option<String>,
    pub service: Option<String>,
    pub rhost: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    #[serde(serialize_with = "crate::timefmt::ser_time")]
    pub at: i64,
    pub event: String,
    pub user: Option<String>,
    pub pass_id: Option<i64>,
    pub operator: Option<String>,
    pub service: Option<String>,
    pub rhost: Option<String>,
    pub reason: Option<String>,
}

/// The result of a redeem transaction.
#[derive(Debug)]
pub enum Redeemed {
    /// The pass was usable and is now marked used (consumed if one-time).
    Ok(Box<PassRecord>),
    /// Between the read and the write the pass stopped being usable (another login won the race).
    Refused(Status),
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn sidecars(path: &Path) -> [PathBuf; 2] {
    let s = path.as_os_str().to_owned();
    let mut wal = s.clone();
    wal.push("-wal");
    let mut shm = s;
    shm.push("-shm");
    [PathBuf::from(wal), PathBuf::from(shm)]
}

fn clock_in(conn: &Connection) -> Result<i64> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = 'clock'", [], |r| r.get(0))
        .optional()?
        .unwrap_or(i64::MIN))
}

fn latest_in(conn: &Connection, user: &str) -> Result<Option<PassRecord>> {
    Ok(conn
        .query_row(
            "SELECT * FROM passes WHERE user = ?1 ORDER BY id DESC LIMIT 1",
            params![user],
            PassRecord::from_row,
        )
        .optional()?)
}

fn add_clock(tx: &rusqlite::Transaction<'_>, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES('clock', ?1)
         ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
        params![now],
    )?;
    Ok(())
}

fn audit_in(
    tx: &rusqlite::Transaction<'_>,
    at: i64,
    ev: Event,
    user: Option<&str>,
    pass_id: Option<i64>,
    ctx: &Context,
    reason: Option<&str>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit(at, event, user, pass_id, operator, service, rhost, reason)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            at,
            ev.as_str(),
            user,
            pass_id,
            ctx.operator,
            ctx.service,
            ctx.rhost,
            reason
        ],
    )?;
    Ok(())
}

/// The body of an insert: reads the user's newest pass and the clock, plans, revokes a replaced
/// pass, inserts the new one, and audits both.
fn insert_in<P>(tx: &rusqlite::Transaction<'_>, user: &str, now: i64, ctx: &Context, plan: P) -> Result<(i64, NewPass)>
where
    P: FnOnce(Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>,
{
    let latest = latest_in(tx, user)?;
    let hw: i64 = clock_in(tx)?;
    let (new, replaced) = plan(latest.as_ref(), now.max(hw))?;
    if let Some(replaced) = replaced {
        tx.execute(
            "UPDATE passes SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![replaced, now],
        )?;
        audit_in(
            tx,
            now,
            Event::Revoked,
            Some(&new.user),
            Some(replaced),
            ctx,
            Some("replaced by a new pass"),
        )?;
    }
    tx.execute(
        "INSERT INTO passes(user, uid, hash, derive_key, created_at, starts_at, expires_at, one_time,
            reset_password, issued_by, reason, shadow_set, shadow_prev, shadow_prev_lastchg, issuer_role, services)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            new.user,
            new.uid,
            new.hash,
            new.derive_key,
            new.created_at,
            new.starts_at,
            new.expires_at,
            new.one_time,
            new.reset_password,
            new.issued_by,
            new.reason,
            new.shadow_set,
            new.shadow_prev,
            new.shadow_prev_lastchg,
            new.issuer_role,
            new.services
        ],
    )?;
    let id = tx.last_insert_rowid();
    audit_in(
        tx,
        now,
        Event::Issued,
        Some(&new.user),
        Some(id),
        ctx,
        new.reason.as_deref(),
    )?;
    Ok((id, new))
}

impl Store {
    /// Opens an existing database the way the module must: every file checked (no symlink,
    /// root-owned, not group/world-writable, directory too), opened without following symlinks,
    /// never created, schema version checked.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.is_absolute() {
            return Err(Error::Unsafe(format!(
                "database {} is not an absolute path",
                path.display()
            )));
        }
        safefile::check_parent(path)?;
        safefile::check_trusted(path, false)?;
        for s in sidecars(path) {
            safefile::check_trusted(&s, true)?;
        }
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags)?;
        let store = Self::configure(conn, path)?;
        let v = store.version()?;
        if v != SCHEMA_VERSION {
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
        safefile::check_parent(path)?;
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
        safefile::check_trusted(path, false)?;
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let mut store = Self::configure(conn, path)?;
        store.migrate()?;
        Ok(store)
    }

    fn configure(conn: Connection, path: &Path) -> Result<Self> {
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v > SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "schema version {v} is newer than this pam_tap ({SCHEMA_VERSION})"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The latest time any write has recorded: a clock set back cannot go below it.
    pub fn clock_high_water(&self) -> Result<i64> {
        clock_in(&self.conn)
    }

    /// `now`, raised to the high-water mark.
    pub fn effective_now(&self, now: i64) -> Result<i64> {
        Ok(now.max(self.clock_high_water()?))
    }

    /// The user's newest pass, whatever its status.
    pub fn latest_for(&self, user: &str) -> Result<Option<PassRecord>> {
        latest_in(&self.conn, user)
    }

    pub fn get(&self, id: i64) -> Result<Option<PassRecord>> {
        Ok(self
            .conn
            .query_row("SELECT * FROM passes WHERE id = ?1", params![id], PassRecord::from_row)
            .optional()?)
    }

    /// Every pass, newest first.
    pub fn all(&self) -> Result<Vec<PassRecord>> {
        let mut st = self.conn.prepare("SELECT * FROM passes ORDER BY id DESC")?;
        let rows = st
            .query_map([], PassRecord::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks a pass used, in one `BEGIN IMMEDIATE` transaction that re-reads it first: of N
    /// processes racing one one-time pass exactly one gets `Redeemed::Ok`.
    pub fn redeem(&mut self, id: i64, now: i64, enabled: bool, ctx: &Context) -> Result<Redeemed> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let hw: i64 = clock_in(&tx)?;
        let now = now.max(hw);
        let rec = tx
            .query_row("SELECT * FROM passes WHERE id = ?1", params![id], PassRecord::from_row)
            .optional()?
            .ok_or_else(|| Error::Store(format!("pass {id} vanished")))?;
        let status = rec.status(now, enabled);
        if status != Status::Usable {
            audit_in(
                &tx,
                now,
                Event::Refused,
                Some(&rec.user),
                Some(id),
                ctx,
                Some(status.as_str()),
            )?;
            add_clock(&tx, now)?;
            tx.commit()?;
            return Ok(Redeemed::Refused(status));
        }
        tx.execute(
            "UPDATE passes SET used_at = ?2, use_count = use_count + 1, failures = 0 WHERE id = ?1",
            params![id, now],
        )?;
        audit_in(&tx, now, Event::Used, Some(&rec.user), Some(id), ctx, None)?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(Redeemed::Ok(Box::new(PassRecord {
            used_at: Some(now),
            use_count: rec.use_count.saturating_add(1),
            failures: 0,
            ..rec
        })))
    }

    /// Records a login with a used pass inside its handoff grace window, unless the pass was used
    /// less than `gap` seconds ago: logins racing a one-time pass never get a second success.
    pub fn grace_login(&mut self, id: i64, now: i64, gap: i64, user: &str, ctx: &Context) -> Result<bool> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: Option<i64> = tx.query_row(
            "SELECT max(at) FROM audit WHERE pass_id = ?1 AND event IN ('used', 'grace_used')",
            params![id],
            |r| r.get(0),
        )?;
        if last.is_some_and(|t| now < t.saturating_add(gap)) {
            audit_in(
                &tx,
                now,
                Event::Refused,
                Some(user),
                Some(id),
                ctx,
                Some("used moments ago"),
            )?;
            tx.commit()?;
            return Ok(false);
        }
        audit_in(
            &tx,
            now,
            Event::GraceUsed,
            Some(user),
            Some(id),
            ctx,
            Some("login while the forced change is pending"),
        )?;
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(true)
    }

    /// Counts one wrong answer against a pass, locking it at `max_failures`; returns whether it is
    /// now locked. One transaction: N racing wrong answers count exactly N.
    ///
    /// The commit is not fsynced (`synchronous=NORMAL`, still atomic and safe against a crash of the
    /// process): a power loss may forget the last failure counts, but a wrong answer then costs what
    /// a wrong answer for a user without a pass costs, so the time taken does not tell who holds one.
    pub fn record_failure(
        &mut self,
        id: i64,
        now: i64,
        max_failures: u32,
        lockout: Duration,
        ctx: &Context,
    ) -> Result<bool> {
        self.unsynced(|s| s.count_failure(id, now, max_failures, lockout, ctx))
    }

    /// Raises the clock mark to `now` without an fsync: a wrong answer for an unusable pass leaves
    /// the time it was seen, so a clock set back later cannot revive the pass.
    pub fn note_time(&mut self, now: i64) -> Result<()> {
        self.unsynced(|s| {
            let tx = s.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            add_clock(&tx, now)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn unsynced<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let r = f(self);
        let restored = self.conn.pragma_update(None, "synchronous", "FULL");
        let v = r?;
        restored?;
        Ok(v)
    }

    /// Writes one audit row on its own.
    pub fn audit(
        &mut self,
        at: i64,
        ev: Event,
        user: Option<&str>,
        pass_id: Option<i64>,
        ctx: &Context,
        reason: Option<&str>,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        audit_in(&tx, at, ev, user, pass_id, ctx, reason)?;
        add_clock(&tx, at)?;
        tx.commit()?;
        Ok(())
    }

    /// Inserts a pass inside `BEGIN IMMEDIATE`: `plan` sees the user's newest pass and the
    /// effective time and returns the pass to insert and the id of a pass it replaces (revoked in the
    /// same transaction); `before_commit` (the shadow change) runs last. All or nothing.
    pub fn insert_pass<P, G>(
        &mut self,
        user: &str,
        now: i64,
        ctx: &Context,
        plan: P,
        before_commit: G,
    ) -> Result<(i64, NewPass)>
    where
        P: FnOnce(Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>,
        G: FnOnce(&NewPass) -> Result<()>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (id, new) = insert_in(&tx, user, now, ctx, plan)?;
        add_clock(&tx, now)?;
        before_commit(&new)?;
        tx.commit()?;
        Ok((id, new))
    }

    /// [`Store::insert_pass`] for many users in one `BEGIN IMMEDIATE` transaction: `plan` is called
    /// with each user's index, in order, and sees the rows inserted before it; `before_commit` sees
    /// every inserted row. Any error leaves the store as it was.
    pub fn insert_passes<P, G>(
        &mut self,
        users: &[&str],
        now: i64,
        ctx: &Context,
        mut plan: P,
        before_commit: G,
    ) -> Result<Vec<(i64, NewPass)>>
    where
        P: FnMut(usize, Option<&PassRecord>, i64) -> Result<(NewPass, Option<i64>)>,
        G: FnOnce(&[(i64, NewPass)]) -> Result<()>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut done = Vec::with_capacity(users.len());
        for (i, user) in users.iter().enumerate() {
            done.push(insert_in(&tx, user, now, ctx, |latest, eff_now| {
                plan(i, latest, eff_now)
            })?);
        }
        add_clock(&tx, now)?;
        before_commit(&done)?;
        tx.commit()?;
        Ok(done)
    }

    /// Revokes a pass; `before_commit` restores the account when it should.
    pub fn revoke<G>(&mut self, id: i64, now: i64, ctx: &Context, reason: Option<&str>, before_commit: G) -> Result<()>
    where
        G: FnOnce(&PassRecord) -> Result<()>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rec = tx
            .query_row(
                "SELECT * FROM passes WHERE id = ?1 AND revoked_at IS NULL",
                params![id],
                PassRecord::from_row,
            )
            .optional()?
            .ok_or_else(|| Error::Refused(format!("pass {id} is already revoked")))?;
        tx.execute("UPDATE passes SET revoked_at = ?2 WHERE id = ?1", params![id, now])?;
        audit_in(&tx, now, Event::Revoked, Some(&rec.user), Some(id), ctx, reason)?;
        add_clock(&tx, now)?;
        before_commit(&rec)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes passes that can no longer be used (revoked, expired, used up) and whose end lies
    /// before `before`. Audit rows stay; one `purged` row per pass is added.
    pub fn purge(&mut self, now: i64, before: i64, ctx: &Context) -> Result<Vec<(i64, String)>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let gone: Vec<(i64, String)> = {
            let mut st = tx.prepare(
                "DELETE FROM passes WHERE
                    ((revoked_at IS NOT NULL AND revoked_at < ?1)
                 OR (expires_at < ?1)
                 OR (one_time AND used_at IS NOT NULL AND used_at < ?1))
                 AND NOT (reset_password AND length(derive_key) > 0)
                 RETURNING id, user",
            )?;
            let rows = st.query_map(params![before], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (id, user) in &gone {
            audit_in(&tx, now, Event::Purged, Some(user), Some(*id), ctx, None)?;
        }
        add_clock(&tx, now)?;
        tx.commit()?;
        Ok(gone)
    }

    /// Audit rows, oldest first, optionally for one user.
    pub fn log(&self, user: Option<&str>) -> Result<Vec<AuditEntry>> {
        let mut st = self.conn.prepare(
            "SELECT at, event, user, pass_id, operator, service, rhost, reason FROM audit
             WHERE ?1 IS NULL OR user = ?1 ORDER BY id",
        )?;
        let rows = st.query_map(params![user], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                event: r.get(1)?,
                user: r.get(2)?,
                pass_id: r.get(3)?,
                operator: r.get(4)?,
                service: r.get(5)?,
                rhost: r.get(6)?,
                reason: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_pass(user: &str, now: i64, one_time: bool) -> NewPass {
        NewPass {
            user: user.into(),
            uid: 1001,
            hash: "h".into(),
            derive_key: vec![1; 32],
            created_at: now,
            starts_at: now,
            expires_at: now + 3600,
            one_time,
            reset_password: false,
            issued_by: "root".into(),
            reason: None,
            shadow_set: None,
            shadow_prev: None,
            shadow_prev_lastchg: None,
            issuer_role: None,
            services: None,
        }
    }

    fn put(s: &mut Store, user: &str, now: i64, one_time: bool) -> i64 {
        let new = new_pass(user, now, one_time);
        s.insert_pass(user, now, &Context::default(), |_, _| Ok((new, None)), |_| Ok(()))
            .unwrap()
            .0
    }

    #[test]
    fn create_is_idempotent_and_root_only() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED create_is_idempotent_and_root_only: the database file must be root-owned; run as root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let s = Store::create(&dir.path().join("db/tap.db")).unwrap();
        assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
        drop(s);
        let p = dir.path().join("db/tap.db");
        let s = Store::create(&p).unwrap();
        assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(p.parent().unwrap()).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn one_time_redeems_once_and_failures_lock() {
        let mut s = Store::in_memory().unwrap();
        let ctx = Context::default();
        let id = put(&mut s, "u", 1000, true);
        assert!(matches!(s.redeem(id, 1001, true, &ctx).unwrap(), Redeemed::Ok(_)));
        assert!(matches!(
            s.redeem(id, 1002, true, &ctx).unwrap(),
            Redeemed::Refused(Status::Used)
        ));
        let id2 = put(&mut s, "v", 1000, false);
        let rest = Duration::from_secs(60);
        for i in 1..3 {
            assert!(!s.record_failure(id2, 1000 + i, 3, rest, &ctx).unwrap());
        }
        assert!(s.record_failure(id2, 1004, 3, rest, &ctx).unwrap());
        assert_eq!(s.get(id2).unwrap().unwrap().status(1005, true), Status::Resting);
        assert_eq!(s.get(id2).unwrap().unwrap().status(1004 + 60, true), Status::Usable);
        let events: Vec<String> = s.log(Some("v")).unwrap().into_iter().map(|e| e.event).collect();
        assert_eq!(events, ["issued", "failed", "failed", "failed", "resting"]);
    }

    #[test]
    fn clock_high_water_only_rises() {
        let mut s = Store::in_memory().unwrap();
        let ctx = Context::default();
        s.audit(5000, Event::Refused, None, None, &ctx, None).unwrap();
        s.audit(4000, Event::Refused, None, None, &ctx, None).unwrap();
        assert_eq!(s.clock_high_water().unwrap(), 5000);
        assert_eq!(s.effective_now(100).unwrap(), 5000);
        assert_eq!(s.effective_now(6000).unwrap(), 6000);
    }

    #[test]
    fn statuses() {
        let mut r = PassRecord {
            id: 1,
            user: "u".into(),
            uid: 1,
            hash: String::new(),
            derive_key: vec![],
            created_at: 0,
            starts_at: 100,
            expires_at: 200,
            one_time: true,
            reset_password: false,
            failures: 0,
            locked_at: None,
            used_at: None,
            use_count: 0,
            revoked_at: None,
            issued_by: "root".into(),
            reason: None,
            shadow_set: None,
            shadow_prev: None,
            shadow_prev_lastchg: None,
            issuer_role: None,
            services: None,
            rest_until: None,
            rests: 0,
            total_failures: 0,
        };
        assert_eq!(r.status(50, true), Status::NotYetValid);
        assert_eq!(r.status(150, true), Status::Usable);
        assert_eq!(r.status(150, false), Status::DisabledByPolicy);
        assert_eq!(r.status(200, true), Status::Expired);
        r.locked_at = Some(1);
        assert_eq!(r.status(150, true), Status::Locked);
        r.used_at = Some(1);
        assert_eq!(r.status(150, true), Status::Used);
        r.revoked_at = Some(1);
        assert_eq!(r.status(150, true), Status::Revoked);
    }

    #[test]
    fn purge_keeps_audit_and_live_passes() {
        let mut s = Store::in_memory().unwrap();
        let ctx = Context::default();
        let old = put(&mut s, "a", 1000, true);
        let live = put(&mut s, "b", 9000, true);
        let gone = s.purge(10_000, 9_000, &ctx).unwrap();
        assert_eq!(gone, vec![(old, "a".to_string())]);
        assert!(s.get(live).unwrap().is_some());
        assert_eq!(s.log(Some("a")).unwrap().len(), 2);
    }
}
