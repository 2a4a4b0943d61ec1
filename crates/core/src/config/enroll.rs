//! `[enroll]`: key enrollment on key-only servers (a pass enrolls the SSH key proven with it).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{bad, parse_duration};
use pam_tap_base::error::Error;
use pam_tap_store::keys::{DEFAULT_KEYS_DB, KEY_TYPES};

/// The group sshd's keys command runs as (`AuthorizedKeysCommandUser`'s), which may read the keys
/// database.
pub const DEFAULT_KEYS_GROUP: &str = "_pam_tap_keys";

/// sshd's own default `AuthorizedKeysFile`.
const DEFAULT_AUTHORIZED_KEYS: &[&str] = &[".ssh/authorized_keys", ".ssh/authorized_keys2"];

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnroll {
    keys_db: Option<String>,
    keys_group: Option<String>,
    key_types: Option<Vec<String>>,
    verify_required: Option<bool>,
    cache_for: Option<String>,
    authorized_keys: Option<Vec<String>>,
}

/// `[enroll]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnrollPolicy {
    /// The keys database (local store: the enrolled keys; fleet: this host's cache of them).
    pub keys_db: PathBuf,
    /// The group that may read it: the keys command's.
    pub keys_group: String,
    /// The key types a pass may enroll.
    pub key_types: Vec<String>,
    /// Security keys must prove user verification (PIN or biometric) at every login.
    pub verify_required: bool,
    /// Fleet: how long a key the store vouched for keeps logging in while the store is down
    /// (0s: not at all).
    #[serde(with = "super::humantime_serde_secs")]
    pub cache_for: Duration,
    /// sshd's `AuthorizedKeysFile`: the user's own keys, which never meet a pass prompt.
    pub authorized_keys: Vec<String>,
}

impl Default for EnrollPolicy {
    fn default() -> Self {
        resolve(RawEnroll::default()).expect("defaults are valid")
    }
}

pub(super) fn resolve(raw: RawEnroll) -> Result<EnrollPolicy, Error> {
    let keys_db = PathBuf::from(raw.keys_db.as_deref().unwrap_or(DEFAULT_KEYS_DB));
    if !keys_db.is_absolute() {
        return Err(bad("enroll.keys_db", "must be an absolute path"));
    }
    let keys_group = raw.keys_group.unwrap_or_else(|| DEFAULT_KEYS_GROUP.into());
    if keys_group.is_empty() || keys_group.len() > 64 || keys_group.contains(['\0', '\n', ':']) {
        return Err(bad("enroll.keys_group", format!("`{keys_group}` is not a group name")));
    }
    let key_types = raw
        .key_types
        .unwrap_or_else(|| KEY_TYPES.iter().map(|t| t.to_string()).collect());
    if key_types.is_empty() {
        return Err(bad("enroll.key_types", "names no key type"));
    }
    for t in &key_types {
        if !KEY_TYPES.contains(&t.as_str()) {
            return Err(bad(
                "enroll.key_types",
                format!("`{t}` is not one of {}", KEY_TYPES.join(", ")),
            ));
        }
    }
    let cache_for = match raw.cache_for {
        None => Duration::from_secs(24 * 3600),
        Some(s) => parse_duration(&s).map_err(|e| bad("enroll.cache_for", e))?,
    };
    if cache_for > Duration::from_secs(30 * 24 * 3600) {
        return Err(bad("enroll.cache_for", "must be at most 30d"));
    }
    let authorized_keys = raw
        .authorized_keys
        .unwrap_or_else(|| DEFAULT_AUTHORIZED_KEYS.iter().map(|s| s.to_string()).collect());
    for f in &authorized_keys {
        if f.is_empty() || f.contains(['\0', '\n']) || f.len() > 1024 {
            return Err(bad("enroll.authorized_keys", format!("{f:?} is not a file pattern")));
        }
    }
    Ok(EnrollPolicy {
        keys_db,
        keys_group,
        key_types,
        verify_required: raw.verify_required.unwrap_or(false),
        cache_for,
        authorized_keys,
    })
}
