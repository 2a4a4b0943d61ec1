//! Every decision the module makes. The policy arrives loaded and trusted; the store arrives as a
//! [`Backend`] opened only when needed; the PAM handle, the clock, the name service and the log
//! are parameters. So each path is testable, as an ordinary user, with a scripted fake handle, an
//! in-memory store and a fixed clock.

use crate::config::Policy;
use crate::gate;
use crate::outcome::{CredOutcome, ErrorKind, Outcome};
use pam_tap_base::error::Error;
use pam_tap_base::users::{Account, Directory};
use pam_tap_store::{Backend, PassRecord};

pub use crate::handle::{Accepted, Handle, HandleError, Secret};
pub use chauthtok::{chauthtok, Phase, CHOOSE_NEW_PASSWORD, CURRENT_PASSWORD_PROMPT};
pub use enroll::{enroll, enrolled_line, prompt as enroll_prompt};
pub use pace::PACE_BUDGET;
pub use pam_tap_base::log::{Level, Logger};

mod answer_shape;
mod chauthtok;
mod decide;
mod enroll;
mod pace;

/// A used pass logs in again within the grace window only this many seconds after its last use,
/// so logins racing a one-time pass get exactly one success.
pub const GRACE_RELOGIN_GAP: i64 = 10;

/// The rest of the world the core sees: the clock (read once per PAM call), the name service, the
/// log, and whether the calling process runs as root.
pub struct Env<'a> {
    pub now: i64,
    pub dir: &'a dyn Directory,
    pub log: &'a mut dyn Logger,
    /// Whether DEBUG lines are wanted (the `debug` module argument).
    pub debug: bool,
    pub caller_is_root: bool,
    /// Whether sudo lets a user act as root ([`pam_tap_base::sudo::grants_root`] outside tests).
    pub sudo: gate::SudoCheck<'a>,
}

/// Why a user may not hold or use a pass, or `None`.
pub fn ineligible(policy: &Policy, acct: &Account) -> Option<String> {
    if acct.uid < policy.min_uid {
        return Some(format!("uid {} is below min_uid {}", acct.uid, policy.min_uid));
    }
    if let Some(why) = crate::gate::above_max_uid(policy, acct) {
        return Some(why);
    }
    if let Some(g) = acct.groups.iter().find(|g| policy.exclude_groups.contains(g)) {
        return Some(format!("member of excluded group {g}"));
    }
    if !policy.include_groups.is_empty() && !acct.groups.iter().any(|g| policy.include_groups.contains(g)) {
        return Some("not in any of include_groups".into());
    }
    None
}

/// Whether a used pass may still be accepted because its handoff is unfinished: the account was
/// reset at issue, the pass was used within the grace window, and the shadow entry still holds the
/// hash pam_tap set with a forced change pending.
pub(crate) fn in_grace(policy: &Policy, rec: &PassRecord, now: i64, dir: &dyn Directory) -> Result<bool, Error> {
    let grace = policy.grace.as_secs() as i64;
    let Some(used_at) = rec.used_at else { return Ok(false) };
    if !rec.reset_password
        || grace == 0
        || rec.revoked_at.is_some()
        || rec.locked_at.is_some()
        || now >= used_at.saturating_add(grace)
    {
        return Ok(false);
    }
    let Some(set) = rec.shadow_set.as_deref() else {
        return Ok(false);
    };
    Ok(matches!(dir.shadow(&rec.user)?, Some(sp) if sp.hash == set && sp.lastchg == Some(0)))
}

/// What `authenticate` decided, with what its log line names.
#[derive(Clone)]
struct Decision {
    outcome: Outcome,
    user: Option<String>,
    pass_id: Option<i64>,
    detail: Option<String>,
    /// The log level when it is not the outcome's usual one (an error's).
    level: Option<Level>,
}

impl Decision {
    fn new(outcome: Outcome) -> Self {
        Decision {
            outcome,
            user: None,
            pass_id: None,
            detail: None,
            level: None,
        }
    }
}

/// Logs why an error refuses the request (at ALERT what an administrator must fix) and says which
/// kind of failure it is.
/// How loud a refusal for `e` is: ALERT for what an administrator must fix (config, an unsafe file or
/// store connection, a stored hash pam_tap would not have written), ERR otherwise.
fn refusal_level(e: &Error) -> Level {
    match e {
        Error::Config(_) | Error::Unsafe(_) | Error::UnsafeConnection(_) | Error::Hash(_) => Level::Alert,
        _ => Level::Err,
    }
}

/// The refusal's own line, for the hooks that write no `auth` line (chauthtok).
fn log_refusal(e: &Error, env: &mut Env<'_>) -> ErrorKind {
    env.log.log(refusal_level(e), &format!("refusing: {e}"));
    ErrorKind::from(e)
}

/// An error's decision. Its text rides on the `auth` line ([`report`]), so one refused login is one
/// syslog line, at the error's level.
fn fail(e: &Error, user: Option<&str>) -> Decision {
    Decision {
        outcome: Outcome::Failed(ErrorKind::from(e)),
        user: user.map(str::to_string),
        pass_id: None,
        detail: Some(format!("refusing: {e}")),
        level: Some(refusal_level(e)),
    }
}

/// `pam_sm_authenticate` under a loaded, trusted policy.
pub fn authenticate<'s, H: Handle, B: Backend<'s>>(
    h: &mut H,
    policy: &Policy,
    backend: B,
    env: &mut Env<'_>,
) -> Outcome {
    let service = h.service().unwrap_or_default();
    let mut pace = None;
    let d = decide::decide(h, policy, backend, env, &mut pace);
    report(&service, &d, env);
    if let Some(p) = pace {
        if !matches!(d.outcome, Outcome::Accepted | Outcome::AcceptedInGrace) {
            p.wait();
        }
    }
    d.outcome
}

/// `pam_sm_authenticate` when the policy could not be loaded: refused, logged at ALERT.
pub fn authenticate_without_policy<H: Handle>(h: &mut H, e: &Error, env: &mut Env<'_>) -> Outcome {
    let service = h.service().unwrap_or_default();
    let d = fail(e, None);
    report(&service, &d, env);
    d.outcome
}

/// The one log line of an authentication.
fn report(service: &str, d: &Decision, env: &mut Env<'_>) {
    let level = d.level.unwrap_or(match d.outcome {
        Outcome::Accepted | Outcome::AcceptedInGrace => Level::Info,
        Outcome::NoPass | Outcome::NotAPass | Outcome::Disabled => Level::Debug,
        Outcome::Failed(_) => Level::Err,
        _ => Level::Notice,
    });
    if level != Level::Debug || env.debug {
        let mut line = format!(
            "auth service={} user={} pass={} outcome={}",
            service,
            d.user.as_deref().unwrap_or("(unknown)"),
            d.pass_id.map_or("-".to_string(), |i| i.to_string()),
            d.outcome.word()
        );
        if let Some(detail) = &d.detail {
            line.push_str(&format!(" ({detail})"));
        }
        env.log.log(level, &line);
    }
}

/// `pam_sm_setcred`: success only where this handle accepted a pass.
pub fn setcred<H: Handle>(h: &H) -> CredOutcome {
    match h.remembered() {
        Some(_) => CredOutcome::PassAccepted,
        None => CredOutcome::NoPassHere,
    }
}

#[cfg(test)]
mod tests;
