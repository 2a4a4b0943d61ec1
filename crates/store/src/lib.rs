//! The pass store: the records, what the module needs from a store as a trait ([`PassStore`]),
//! and both backends: SQLite ([`sqlite`], and the same SQLite in memory for tests) and PostgreSQL
//! ([`postgres`]). What only tapctl does with a store is behind the `admin` feature ([`admin`]),
//! which the module never enables.

use std::time::Duration;

use serde::Serialize;

#[cfg(feature = "admin")]
pub mod admin;
#[cfg(feature = "admin")]
pub mod approval;
pub mod conninfo;
pub mod database;
pub mod fleet;
pub mod keys;
pub mod operator;
mod pass_store;
pub mod postgres;
mod site;
pub mod sqlite;

pub use database::{Conninfo, Database, UNPARSEABLE};
pub use fleet::FleetTimeouts;
pub use pass_store::{AuditRow, Backend, Backoff, Opened, PassStore, SettleDecider, ShadowWriter, Touch};
pub use site::Site;
pub use sqlite::{checks, HostReset, SqliteStore, DEAD_AFTER, SCHEMA_VERSION};

/// The longest handoff grace window (`handoff.grace`): a pass used longer ago than this can no
/// longer answer a prompt, so nothing needs its derive key after it.
pub const MAX_GRACE: Duration = Duration::from_secs(24 * 3600);

/// What a pending mark says is under way.
pub const ISSUE: &str = "issue";
pub const SETTLE: &str = "settle";

/// A pending mark: what, and which process ("pid:start time") does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub what: String,
    pub owner: String,
}

/// Why a pass can or cannot be used now. The words are the enum's names in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::EnumIter, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
        self.into()
    }

    /// The status a word names ([`Status::as_str`]'s inverse).
    pub fn from_word(word: &str) -> Option<Status> {
        word.parse().ok()
    }

    /// Every status, in the order above.
    pub fn all() -> impl Iterator<Item = Status> {
        <Status as strum::IntoEnumIterator>::iter()
    }

    /// A pass that still counts: listed by default, blocks a second pass for the user, and is
    /// what revoking ends.
    pub fn is_live(self) -> bool {
        match self {
            Status::Usable | Status::NotYetValid | Status::Locked | Status::Resting | Status::DisabledByPolicy => true,
            Status::Expired | Status::Used | Status::Revoked => false,
        }
    }
}

/// One pass as stored. `hash` and `derive_key` never leave the library in output. The default is
/// an empty record (id 0, no window, nothing set), for building one field by field.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// The hosts the pass is scoped to (`host_name`s, comma-separated); `None`: any host.
    pub hosts: Option<String>,
    /// A pass that only enrolls the SSH key proven in the same connection (`tapctl issue
    /// --enroll-key`): the key-only servers' `enroll` step accepts it, no password login does.
    pub enroll_key: bool,
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
    pub hosts: Option<String>,
    pub enroll_key: bool,
}

/// Audit events. The words are the enum's names in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
    /// A fleet host's database role bound to its host name, or the binding removed.
    HostBound,
    HostUnbound,
    /// An SSH key proven in a connection enrolled with an enrollment pass (reason: its fingerprint).
    Enrolled,
    /// An enrolled key removed (`tapctl keys revoke`).
    KeyRevoked,
    /// Two-person approval: a pass requested for a target that needs it, the request approved or
    /// denied by another operator, the approved pass collected by its requester, or the request
    /// lapsed (not decided, or not collected, in time).
    Requested,
    Approved,
    Denied,
    Collected,
    Lapsed,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every event, in the order above.
    pub fn all() -> impl Iterator<Item = Event> {
        <Event as strum::IntoEnumIterator>::iter()
    }
}

/// Who and where, for the audit row.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub operator: Option<String>,
    pub service: Option<String>,
    pub rhost: Option<String>,
    /// The host the event happened on (the policy's `host_name`); stored by the fleet store.
    pub host: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    #[serde(serialize_with = "pam_tap_base::timefmt::ser_time")]
    pub at: i64,
    pub event: String,
    pub user: Option<String>,
    pub pass_id: Option<i64>,
    pub operator: Option<String>,
    pub service: Option<String>,
    pub rhost: Option<String>,
    pub reason: Option<String>,
    /// The host the row was written on (the fleet store records it; the local store serves one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The database role that wrote the row (the fleet store records it: a host's own login role,
    /// whose host the database itself names in `host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_role: Option<String>,
}

/// The result of a redeem transaction.
#[derive(Debug)]
pub enum Redeemed {
    /// The pass was usable and is now marked used (consumed if one-time).
    Ok(Box<PassRecord>),
    /// Between the read and the write the pass stopped being usable (another login won the race).
    Refused(Status),
}

#[cfg(test)]
mod words_tests {
    use super::{Event, Status};

    /// The words are stored (audit rows) and read back (`tapctl log`, the page): a renamed variant
    /// must not change them.
    #[test]
    fn the_stored_words_stay_as_they_are() {
        let statuses: Vec<&str> = Status::all().map(Status::as_str).collect();
        assert_eq!(
            statuses,
            [
                "usable",
                "not_yet_valid",
                "expired",
                "used",
                "revoked",
                "locked",
                "resting",
                "disabled_by_policy"
            ]
        );
        let events: Vec<&str> = Event::all().map(Event::as_str).collect();
        assert_eq!(
            events,
            [
                "issued",
                "used",
                "failed",
                "locked",
                "revoked",
                "purged",
                "refused",
                "grace_used",
                "resting",
                "unlocked",
                "reset",
                "host_bound",
                "host_unbound",
                "enrolled",
                "key_revoked",
                "requested",
                "approved",
                "denied",
                "collected",
                "lapsed"
            ]
        );
        for s in Status::all() {
            assert_eq!(Status::from_word(s.as_str()), Some(s));
        }
        assert_eq!(Status::from_word("Usable"), None);
    }
}
