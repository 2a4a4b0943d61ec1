//! `[approval]`: which targets a second operator must approve a pass for, and how long a request
//! waits for a decision and then for its collection.

use std::time::Duration;

use serde::Deserialize;

use super::{bad, groups, parse_duration};
use pam_tap_base::error::Error;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApproval {
    enabled: Option<bool>,
    privileged: Option<bool>,
    groups: Option<Vec<String>>,
    decide_within: Option<String>,
    collect_within: Option<String>,
}

/// Two-person approval, resolved. Off by default; when on, a pass for a privileged target (one
/// only a privileged issuer or root may reach: `crate::gate::admin`) and for members of `groups`
/// is first a request another operator decides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    pub enabled: bool,
    /// Privileged targets need approval (the default once `enabled`).
    pub privileged: bool,
    /// Members of these groups need approval too.
    pub groups: Vec<String>,
    /// How long a request waits for a decision before it lapses.
    #[serde(with = "super::humantime_serde_secs")]
    pub decide_within: Duration,
    /// How long an approved request waits for its requester to collect the pass before it lapses.
    #[serde(with = "super::humantime_serde_secs")]
    pub collect_within: Duration,
}

const MIN_WAIT: Duration = Duration::from_secs(5 * 60);

/// `[approval]`, range-checked: decide_within 5m ..= 7d, collect_within 5m ..= 1d.
pub(super) fn resolve(raw: RawApproval) -> Result<Approval, Error> {
    let within = |key: &str, v: Option<String>, default: u64, most: u64| -> Result<Duration, Error> {
        let d = match v {
            None => Duration::from_secs(default),
            Some(s) => parse_duration(&s).map_err(|e| bad(key, e))?,
        };
        if d < MIN_WAIT || d > Duration::from_secs(most) {
            return Err(bad(
                key,
                format!(
                    "must be within 5m ..= {}",
                    humantime::format_duration(Duration::from_secs(most))
                ),
            ));
        }
        Ok(d)
    };
    Ok(Approval {
        enabled: raw.enabled.unwrap_or(false),
        privileged: raw.privileged.unwrap_or(true),
        groups: groups("approval.groups", raw.groups, &[])?,
        decide_within: within("approval.decide_within", raw.decide_within, 24 * 3600, 7 * 24 * 3600)?,
        collect_within: within("approval.collect_within", raw.collect_within, 3600, 24 * 3600)?,
    })
}
