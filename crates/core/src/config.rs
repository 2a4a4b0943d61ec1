//! Policy: `/etc/security/pam_tap.toml`, parsed strictly and resolved into a validated [`Policy`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use pam_tap_base::error::Error;
use pam_tap_base::hash::KdfParams;
use pam_tap_base::safefile;

mod approval;
mod enroll;
mod fleet;
mod validate;
pub use approval::Approval;
use approval::RawApproval;
use enroll::RawEnroll;
pub use enroll::{EnrollPolicy, DEFAULT_KEYS_GROUP};
use fleet::RawFleet;
pub use pam_tap_base::host_name::check_host_name;
pub use pam_tap_store::{Conninfo, Database, FleetTimeouts, MAX_GRACE, UNPARSEABLE};
pub use validate::{
    login_defs_uid_max, login_defs_uid_max_trusting, DEFAULT_ADMIN_GROUPS, DEFAULT_SERVICES, FALLBACK_MAX_UID,
    LOGIN_DEFS,
};

pub const DEFAULT_CONFIG: &str = "/etc/security/pam_tap.toml";
pub const DEFAULT_DATABASE: &str = "/var/lib/pam_tap/tap.db";
pub const DEFAULT_HOST_STORE: &str = "/var/lib/pam_tap/host.db";
/// The shipped example, also what `tapctl init` writes when no config exists.
pub const EXAMPLE: &str = include_str!("../../../conf/pam_tap.toml");
/// A config larger than this is refused before parsing.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

const MIN_LIFETIME: Duration = Duration::from_secs(10 * 60);
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
pub use pam_tap_base::passcode::{MAX_LENGTH, MIN_LENGTH};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    enabled: Option<bool>,
    database: Option<String>,
    host_name: Option<String>,
    host_store: Option<String>,
    services: Option<Vec<String>>,
    #[serde(default)]
    pass: RawPass,
    #[serde(default)]
    users: RawUsers,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    handoff: RawHandoff,
    #[serde(default)]
    hash: RawHash,
    #[serde(default)]
    fleet: RawFleet,
    #[serde(default)]
    enroll: RawEnroll,
    #[serde(default)]
    approval: RawApproval,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPass {
    length: Option<i64>,
    lifetime_min: Option<String>,
    lifetime_default: Option<String>,
    lifetime_max: Option<String>,
    force_one_time: Option<bool>,
    one_time_default: Option<bool>,
    max_failures: Option<i64>,
    lockout: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUsers {
    include_groups: Option<Vec<String>>,
    exclude_groups: Option<Vec<String>>,
    min_uid: Option<i64>,
    max_uid: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    privileged_issuers: Option<Vec<String>>,
    issuers: Option<Vec<String>>,
    viewers: Option<Vec<String>>,
    admin_groups: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHandoff {
    reset_password: Option<bool>,
    grace: Option<String>,
    relogin: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHash {
    memory_kib: Option<i64>,
    iterations: Option<i64>,
    parallelism: Option<i64>,
    equalize_timing: Option<bool>,
}

/// The resolved policy: every default filled in, every value range-checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    pub enabled: bool,
    pub database: Database,
    /// This host's name for host-scoped passes and the audit's `host` (default: the node name).
    pub host_name: String,
    /// With a PostgreSQL store: this host's own SQLite file, where it keeps the previous shadow
    /// state of the reset passes accepted here (crates/store/src/postgres/host_side.rs).
    pub host_store: PathBuf,
    pub length: usize,
    #[serde(with = "humantime_serde_secs")]
    pub lifetime_min: Duration,
    #[serde(with = "humantime_serde_secs")]
    pub lifetime_default: Duration,
    #[serde(with = "humantime_serde_secs")]
    pub lifetime_max: Duration,
    pub force_one_time: bool,
    pub one_time_default: bool,
    pub max_failures: u32,
    /// The first rest after `max_failures` consecutive failures; each further rest doubles.
    #[serde(with = "humantime_serde_secs")]
    pub lockout: Duration,
    /// PAM services at which a pass is a credential (see [`crate::gate`]).
    pub services: Vec<String>,
    pub include_groups: Vec<String>,
    pub exclude_groups: Vec<String>,
    pub min_uid: u32,
    /// The highest uid that may hold a pass: `users.max_uid`, else login.defs' UID_MAX (read when
    /// the policy is loaded; [`FALLBACK_MAX_UID`] for a policy parsed from text alone).
    pub max_uid: u32,
    pub privileged_issuers: Vec<String>,
    pub issuers: Vec<String>,
    pub viewers: Vec<String>,
    pub admin_groups: Vec<String>,
    pub reset_password: bool,
    #[serde(with = "humantime_serde_secs")]
    pub grace: Duration,
    pub relogin: bool,
    pub kdf: KdfParams,
    pub equalize_timing: bool,
    /// How long a host's session with a fleet store waits for a pass's row lock and for one
    /// statement ([`FleetTimeouts`]).
    pub fleet: FleetTimeouts,
    /// Key enrollment on key-only servers (`[enroll]`).
    pub enroll: EnrollPolicy,
    /// Two-person approval of passes for privileged targets (`[approval]`).
    pub approval: Approval,
}

mod humantime_serde_secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::resolve(RawConfig::default(), || FALLBACK_MAX_UID).expect("defaults are valid")
    }
}

fn bad(key: &str, msg: impl std::fmt::Display) -> Error {
    Error::Config(format!("{key}: {msg}"))
}

/// Parses a humantime duration such as `10m`, `1h`, `15d` or `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("`{s}` is not a duration like 10m, 1h or 15d ({e})"))
}

fn lifetime(key: &str, v: Option<String>, default: Duration) -> Result<Duration, Error> {
    let d = match v {
        None => default,
        Some(s) => parse_duration(&s).map_err(|e| bad(key, e))?,
    };
    if d < MIN_LIFETIME || d > MAX_LIFETIME {
        return Err(bad(
            key,
            format!("{} is outside 10m .. 30d", humantime::format_duration(d)),
        ));
    }
    Ok(d)
}

fn ranged(key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> Result<i64, Error> {
    let n = v.unwrap_or(default);
    if n < lo || n > hi {
        return Err(bad(key, format!("{n} is outside {lo} ..= {hi}")));
    }
    Ok(n)
}

fn groups(key: &str, v: Option<Vec<String>>, default: &[&str]) -> Result<Vec<String>, Error> {
    let list = v.unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect());
    for g in &list {
        if g.is_empty() || g.len() > 64 || g.contains(['\0', '\n', ':']) {
            return Err(bad(key, format!("`{g}` is not a group name")));
        }
    }
    Ok(list)
}

impl Policy {
    /// `uid_max`: login.defs' UID_MAX, asked for only when `users.max_uid` is left out.
    fn resolve(raw: RawConfig, uid_max: impl FnOnce() -> u32) -> Result<Self, Error> {
        let database = match raw.database {
            None => Database::Sqlite(PathBuf::from(DEFAULT_DATABASE)),
            Some(text) => Database::parse(&text)?,
        };
        let host_name = match raw.host_name {
            Some(name) => check_host_name(&name).map_err(|e| bad("host_name", e))?,
            None => pam_tap_base::host_name::node_name(),
        };
        let host_store = PathBuf::from(raw.host_store.as_deref().unwrap_or(DEFAULT_HOST_STORE));
        if !host_store.is_absolute() {
            return Err(bad("host_store", "must be an absolute path"));
        }
        let p = raw.pass;
        let lifetime_min = lifetime("pass.lifetime_min", p.lifetime_min, MIN_LIFETIME)?;
        let lifetime_default = lifetime("pass.lifetime_default", p.lifetime_default, Duration::from_secs(3600))?;
        let lifetime_max = lifetime("pass.lifetime_max", p.lifetime_max, Duration::from_secs(15 * 24 * 3600))?;
        if !(lifetime_min <= lifetime_default && lifetime_default <= lifetime_max) {
            return Err(bad(
                "pass",
                "lifetime_min <= lifetime_default <= lifetime_max must hold",
            ));
        }
        let h = raw.hash;
        let kdf = KdfParams {
            memory_kib: ranged("hash.memory_kib", h.memory_kib, 19_456, 19_456, 262_144)? as u32,
            iterations: ranged("hash.iterations", h.iterations, 2, 2, 10)? as u32,
            parallelism: ranged("hash.parallelism", h.parallelism, 1, 1, 4)? as u32,
        };
        let grace = match raw.handoff.grace {
            None => Duration::from_secs(15 * 60),
            Some(s) => parse_duration(&s).map_err(|e| bad("handoff.grace", e))?,
        };
        if grace > MAX_GRACE {
            return Err(bad("handoff.grace", "must be at most 24h (0s turns it off)"));
        }
        Ok(Self {
            enabled: raw.enabled.unwrap_or(true),
            database,
            host_name,
            host_store,
            length: ranged("pass.length", p.length, 10, MIN_LENGTH as i64, MAX_LENGTH as i64)? as usize,
            lifetime_min,
            lifetime_default,
            lifetime_max,
            force_one_time: p.force_one_time.unwrap_or(false),
            one_time_default: p.one_time_default.unwrap_or(true),
            max_failures: ranged("pass.max_failures", p.max_failures, 5, 1, 100)? as u32,
            lockout: validate::lockout("pass.lockout", p.lockout)?,
            services: validate::services("services", raw.services)?,
            include_groups: groups("users.include_groups", raw.users.include_groups, &[])?,
            exclude_groups: groups("users.exclude_groups", raw.users.exclude_groups, &[])?,
            min_uid: ranged("users.min_uid", raw.users.min_uid, 1000, 1, u32::MAX as i64 - 1)? as u32,
            max_uid: match raw.users.max_uid {
                Some(v) => ranged("users.max_uid", Some(v), 0, 1, u32::MAX as i64 - 1)? as u32,
                None => uid_max(),
            },
            privileged_issuers: groups("roles.privileged_issuers", raw.roles.privileged_issuers, &[])?,
            issuers: groups("roles.issuers", raw.roles.issuers, &[])?,
            viewers: groups("roles.viewers", raw.roles.viewers, &[])?,
            admin_groups: groups("roles.admin_groups", raw.roles.admin_groups, DEFAULT_ADMIN_GROUPS)?,
            reset_password: raw.handoff.reset_password.unwrap_or(true),
            grace,
            relogin: raw.handoff.relogin.unwrap_or(false),
            kdf,
            equalize_timing: h.equalize_timing.unwrap_or(true),
            fleet: fleet::resolve(raw.fleet)?,
            enroll: enroll::resolve(raw.enroll)?,
            approval: approval::resolve(raw.approval)?,
        })
    }

    /// Parses and validates a config text; a left-out `users.max_uid` is [`FALLBACK_MAX_UID`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_with(text, || FALLBACK_MAX_UID)
    }

    fn parse_with(text: &str, uid_max: impl FnOnce() -> u32) -> Result<Self, Error> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| Error::Config(e.message().to_string()))?;
        Self::resolve(raw, uid_max)
    }

    /// Reads the config the way the module must: no symlink, root-owned, not group/world-writable,
    /// directory included; bounded in size.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let (text, mode) = safefile::read_trusted_with_mode(path, MAX_CONFIG_BYTES).map_err(|e| match e {
            Error::Unsafe(m) => Error::Unsafe(m),
            Error::Io(m) => Error::Config(format!("{}: {m}", path.display())),
            other => other,
        })?;
        let text = String::from_utf8(text).map_err(|_| Error::Config(format!("{}: not UTF-8", path.display())))?;
        let uid_max = || login_defs_uid_max(Path::new(LOGIN_DEFS));
        let policy = Self::parse_with(&text, uid_max).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            other => other,
        })?;
        match policy.secret_readable_by_others(mode) {
            Some(why) => Err(Error::Unsafe(format!("{}: {why}", path.display()))),
            None => Ok(policy),
        }
    }

    /// [`Policy::load`] for sshd's keys command (pam_tap_keys), which runs as its own user: the
    /// file may be readable by its group (`root:_pam_tap_keys 0640`), since the keys command's own
    /// config may hold the password of its store role (pam_tap_keys), which may only read public keys.
    pub fn load_for_keys(path: &Path) -> Result<Self, Error> {
        let (text, mode) = safefile::read_trusted_with_mode(path, MAX_CONFIG_BYTES)?;
        let text = String::from_utf8(text).map_err(|_| Error::Config(format!("{}: not UTF-8", path.display())))?;
        let policy = Self::parse_with(&text, || FALLBACK_MAX_UID)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        match policy.secret_readable_by_others(mode & 0o707) {
            Some(why) => Err(Error::Unsafe(format!("{}: {why}", path.display()))),
            None => Ok(policy),
        }
    }

    /// Why a config file of permission bits `mode` holding this policy shows a secret to others:
    /// a database URI with a password (or a TLS key's password) must be in a file only root reads.
    pub fn secret_readable_by_others(&self, mode: u32) -> Option<String> {
        let Database::Postgres(c) = &self.database else {
            return None;
        };
        (c.holds_secret() && mode & 0o077 != 0).then(|| {
            format!(
                "holds the store's password and others may read it (mode {:04o}): chmod 600 it",
                mode & 0o7777
            )
        })
    }

    /// The stores this policy names for the module: its `database`, and with a PostgreSQL one this
    /// host's own store (`host_store`) and waits (`[fleet]`).
    pub fn site(&self) -> pam_tap_store::Site<'_> {
        pam_tap_store::Site {
            database: &self.database,
            host_store: &self.host_store,
            fleet: self.fleet,
        }
    }

    /// Whether the target's lifetime is allowed.
    pub fn check_lifetime(&self, d: Duration) -> Result<(), String> {
        if d < self.lifetime_min || d > self.lifetime_max {
            return Err(format!(
                "lifetime {} is outside the policy's {} .. {}",
                humantime::format_duration(d),
                humantime::format_duration(self.lifetime_min),
                humantime::format_duration(self.lifetime_max)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
