//! The schema, as a list of migrations: the module reads only the version it was built for;
//! tapctl migrates older files forward. Append a migration, never edit one.

use rusqlite::TransactionBehavior;

use super::SqliteStore;
use pam_tap_base::error::{Error, Result};

/// The schema version this build writes and reads. Older files are migrated by `tapctl init`
/// (and by any tapctl command); the module refuses a version it does not know.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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
    // 4: the hosts a pass is scoped to (comma-separated host names; NULL: any host).
    "ALTER TABLE passes ADD COLUMN hosts TEXT;",
    // 5: a pass that only enrolls the SSH key proven in the same connection (key-only servers).
    "ALTER TABLE passes ADD COLUMN enroll_key INTEGER NOT NULL DEFAULT 0;",
    // 6: two-person approval: requests for a pass, their decision and collection (no secret: the
    // pass is minted when it is collected).
    "CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        user TEXT NOT NULL,
        params TEXT NOT NULL,
        reason TEXT,
        requested_by TEXT NOT NULL,
        requester_role TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        decide_by INTEGER NOT NULL,
        decided_by TEXT,
        decided_at INTEGER,
        decision TEXT CHECK (decision IN ('approved', 'denied')),
        deny_reason TEXT,
        collect_by INTEGER,
        collected_at INTEGER,
        pass_id INTEGER,
        lapsed_at INTEGER
    );
    CREATE INDEX requests_open ON requests(id) WHERE collected_at IS NULL AND lapsed_at IS NULL;",
];

impl SqliteStore {
    pub fn version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub(crate) fn migrate(&mut self) -> Result<()> {
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
}
