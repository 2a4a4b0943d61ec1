//! `[fleet]`: a host's waits on a PostgreSQL store.

use std::time::Duration;

use serde::Deserialize;

use super::{bad, parse_duration};
use pam_tap_base::error::Error;
use pam_tap_store::FleetTimeouts;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFleet {
    lock_timeout: Option<String>,
    statement_timeout: Option<String>,
}

/// `[fleet]`, range-checked.
pub(super) fn resolve(raw: RawFleet) -> Result<FleetTimeouts, Error> {
    let within = |key: &str, v: Option<String>, default: u64, most: u64| -> Result<Duration, Error> {
        let d = match v {
            None => Duration::from_secs(default),
            Some(s) => parse_duration(&s).map_err(|e| bad(key, e))?,
        };
        if d < Duration::from_secs(1) || d > Duration::from_secs(most) {
            return Err(bad(key, format!("must be within 1s ..= {most}s")));
        }
        Ok(d)
    };
    let lock_timeout = within("fleet.lock_timeout", raw.lock_timeout, 3, 10)?;
    let statement_timeout = within("fleet.statement_timeout", raw.statement_timeout, 10, 60)?;
    if statement_timeout < lock_timeout {
        return Err(bad("fleet", "statement_timeout must be at least lock_timeout"));
    }
    Ok(FleetTimeouts {
        lock_timeout,
        statement_timeout,
    })
}
