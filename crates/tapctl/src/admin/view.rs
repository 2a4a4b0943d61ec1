//! What `list` and `show` print: a pass's public fields and why it can or cannot be used now.

use serde::Serialize;

use super::{rfc3339, ser_time};
use pam_tap_base::error::{Error, Result};
use pam_tap_core::config::Policy;
use pam_tap_store::admin::AdminStore;
use pam_tap_store::{PassRecord, Status};

fn ser_opt_time<S: serde::Serializer>(v: &Option<i64>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// A pass as shown by `list` and `show`: never the code, its hash or key.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub id: i64,
    pub user: String,
    pub uid: u32,
    pub status: Status,
    #[serde(serialize_with = "ser_time")]
    pub created_at: i64,
    #[serde(serialize_with = "ser_time")]
    pub starts_at: i64,
    #[serde(serialize_with = "ser_time")]
    pub expires_at: i64,
    pub one_time: bool,
    pub reset_password: bool,
    pub failures: u32,
    #[serde(serialize_with = "ser_opt_time")]
    pub used_at: Option<i64>,
    pub use_count: u32,
    #[serde(serialize_with = "ser_opt_time")]
    pub revoked_at: Option<i64>,
    #[serde(serialize_with = "ser_opt_time")]
    pub locked_at: Option<i64>,
    pub issued_by: String,
    pub reason: Option<String>,
    /// The PAM services the pass works at (comma-separated); `None`: the policy's.
    pub services: Option<String>,
    /// The hosts the pass works on (comma-separated `host_name`s); `None`: any host.
    pub hosts: Option<String>,
    /// The pass only enrolls an SSH key (key-only servers).
    pub enroll_key: bool,
}

impl View {
    pub fn of(r: &PassRecord, now: i64, enabled: bool) -> Self {
        View {
            id: r.id,
            user: r.user.clone(),
            uid: r.uid,
            status: r.status(now, enabled),
            created_at: r.created_at,
            starts_at: r.starts_at,
            expires_at: r.expires_at,
            one_time: r.one_time,
            reset_password: r.reset_password,
            failures: r.failures,
            used_at: r.used_at,
            use_count: r.use_count,
            revoked_at: r.revoked_at,
            locked_at: r.locked_at,
            issued_by: r.issued_by.clone(),
            reason: r.reason.clone(),
            services: r.services.clone(),
            hosts: r.hosts.clone(),
            enroll_key: r.enroll_key,
        }
    }
}

/// Passes, newest first. Without `all`: those that can still matter (usable, not yet valid, resting,
/// locked, disabled by policy).
pub fn list(store: &dyn AdminStore, policy: &Policy, all: bool, now: i64) -> Result<Vec<View>> {
    let now = store.effective_now(now)?;
    Ok(store
        .all()?
        .iter()
        .map(|r| View::of(r, now, policy.enabled))
        .filter(|v| all || v.status.is_live())
        .collect())
}

/// The user's newest pass.
pub fn show(store: &dyn AdminStore, policy: &Policy, user: &str, now: i64) -> Result<View> {
    let now = store.effective_now(now)?;
    store
        .latest_for(user)?
        .map(|r| View::of(&r, now, policy.enabled))
        .ok_or_else(|| Error::Refused(format!("{user} holds no pass")))
}
