//! `tapctl status USER [--host H] [--service S]`: would USER's pass log in there now, and if not
//! why, by the module's own decision ([`pam_tap_core::usability::verdict`]) minus the answer and
//! the KDF. Read-only, unlike `show`: it settles nothing. What settling would do to the verdict
//! (a live reset pass whose account's password was changed since ends at the next touch) it says
//! from the same decision the settle makes, without making it.

use pam_tap_base::error::{Error, Result};
use pam_tap_base::users::{self, Directory, System};
use pam_tap_core::config::{check_host_name, Policy};
use pam_tap_core::reset;
use pam_tap_core::usability::{verdict, Verdict};
use pam_tap_store::PassRecord;
use serde::Serialize;

use crate::admin::rfc3339;
use crate::admitted::{now, Admitted};
use crate::render::json;

/// What `status --json` prints.
#[derive(Debug, Serialize)]
pub struct StatusView {
    pub user: String,
    /// The host asked about, and whether it is this one.
    pub host: String,
    pub this_host: bool,
    /// The service asked about; `None`: any of `services`.
    pub service: Option<String>,
    /// Where the pass works: the policy's services, narrowed to the pass's own list if it has one.
    pub services: Vec<String>,
    /// Whether the pass narrows the policy's services.
    pub narrowed: bool,
    pub pass_id: Option<i64>,
    pub usable: bool,
    /// One of `tapctl vocabulary`'s reasons.
    pub reason: &'static str,
    /// When the reason changes (a pass not yet valid, resting, usable until it expires).
    pub until: Option<String>,
    /// When the reason began (a pass used, revoked, locked or expired; an account expired).
    pub since: Option<String>,
    pub detail: String,
    /// The `outcome=` word the module's auth line gives for the right answer.
    pub log_outcome: String,
    /// What the next touch of the pass (a login, any tapctl command on the user) settles first.
    pub settles: Option<String>,
}

pub fn run(run: &Admitted<'_>, user: &str, host: Option<&str>, service: Option<&str>, as_json: bool) -> Result<()> {
    let policy = run.policy()?;
    let mut there = policy.clone();
    if let Some(h) = host {
        there.host_name = check_host_name(h).map_err(|e| Error::Refused(format!("--host: {e}")))?;
    }
    if let Some(s) = service.filter(|s| !policy.services.iter().any(|p| p == s)) {
        // Still answered (service_out_of_scope), but said plainly: no pass works there.
        eprintln!("note: {s} is not among the policy's services; no pass logs in there");
    }
    let acct = match users::plausible_name(user) {
        true => System.account(user)?,
        false => None,
    };
    // With pam_tap off the module looks nothing up, and neither does status.
    let (now, mut rec, settles) = match (&acct, policy.enabled) {
        (Some(a), true) => {
            let store = run.open_store()?;
            let now = store.effective_now(now())?;
            let rec = store.latest_for(&a.name)?;
            let settles = match &rec {
                Some(r) => settle_preview(&*store, policy, r, now)?,
                None => None,
            };
            (now, rec, settles)
        }
        _ => (now(), None, None),
    };
    if let (Some(r), Some((_, true))) = (&mut rec, &settles) {
        r.revoked_at = Some(now);
    }
    let sudo = &pam_tap_base::sudo::grants_root;
    let mut v = verdict(&there, acct.as_ref(), rec.as_ref(), now, service, &System, sudo)?;
    if let Some((why, true)) = settles {
        // No operator revoked it: the settle the module runs first ends it.
        v.detail = format!("the next touch ends it: {why}");
        v.since = None;
    }
    let view = StatusView {
        user: user.to_string(),
        this_host: there.host_name == policy.host_name,
        host: there.host_name.clone(),
        service: service.map(str::to_string),
        services: services_of(policy, rec.as_ref()),
        narrowed: rec.as_ref().is_some_and(|r| r.services.is_some()),
        pass_id: rec.as_ref().map(|r| r.id),
        usable: v.reason.usable(),
        reason: v.reason.word(),
        until: v.until.map(rfc3339),
        since: v.since.map(rfc3339),
        detail: v.detail.clone(),
        log_outcome: v.outcome.word(),
        settles: settles.map(|(why, _)| why.to_string()),
    };
    if as_json {
        return json(&view);
    }
    println!("{}", line(&view, &v));
    Ok(())
}

/// What settling `rec` at its next touch would do (the module settles before it decides), and
/// whether it ends the pass; `None` when there is nothing to settle.
fn settle_preview(
    store: &dyn pam_tap_store::admin::AdminStore,
    policy: &Policy,
    rec: &PassRecord,
    now: i64,
) -> Result<Option<(&'static str, bool)>> {
    if !rec.reset_password || rec.derive_key.is_empty() || store.resets_at_accept() {
        return Ok(None);
    }
    let pending = store.pending(rec.id)?;
    let sp = System.shadow(&rec.user)?;
    Ok(reset::decide(rec, pending.as_ref(), sp.as_ref(), now, policy).map(|d| (d.why, d.revoke)))
}

/// The policy's services, narrowed to the pass's own list if it has one.
fn services_of(policy: &Policy, rec: Option<&PassRecord>) -> Vec<String> {
    let own = rec.and_then(|r| r.services.as_deref());
    policy
        .services
        .iter()
        .filter(|s| own.is_none_or(|list| list.split(',').any(|o| o == s.as_str())))
        .cloned()
        .collect()
}

/// A time as the line shows it: UTC, to the second.
fn utc(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// The one line: `alice: refused here: resting until 2026-12-07 10:42:00 UTC (3 wrong answers in a row)`.
fn line(view: &StatusView, v: &Verdict) -> String {
    let user = pam_tap_base::text::shown(&view.user);
    let verdict = match v.reason.usable() {
        true => "would log in",
        false => "refused",
    };
    let place = match view.this_host {
        true => "here".to_string(),
        false => format!("on {}", view.host),
    };
    let at = match &view.service {
        Some(s) => format!(" at {}", pam_tap_base::text::shown(s)),
        None => {
            let whose = if view.narrowed { "pass" } else { "policy" };
            format!(" at any service the {whose} allows ({})", view.services.join(", "))
        }
    };
    let mut out = format!("{user}: {verdict} {place}{at}: {}", v.reason.word());
    if let Some(t) = v.until {
        out.push_str(&format!(" until {}", utc(t)));
    } else if let Some(t) = v.since {
        out.push_str(&format!(" since {}", utc(t)));
    }
    if !v.detail.is_empty() {
        out.push_str(&format!(" ({})", v.detail));
    }
    if let Some(s) = view.settles.as_deref().filter(|s| !v.detail.contains(s)) {
        out.push_str(&format!("; the next touch settles it first: {s}"));
    }
    out
}
