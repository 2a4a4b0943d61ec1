//! A fleet host's waits on a PostgreSQL store (the policy's `[fleet]`).

use std::time::Duration;

/// A fleet host's waits on the store: a pass's row lock held by another host's login, and any one
/// statement. The database bounds the lock wait at 10 s itself, whatever a session asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FleetTimeouts {
    #[serde(serialize_with = "humantime_secs")]
    pub lock_timeout: Duration,
    #[serde(serialize_with = "humantime_secs")]
    pub statement_timeout: Duration,
}

fn humantime_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}
