//! Whether a user's pass would log in, and if not why: the module's decision minus the answer, the
//! KDF and every write. `authenticate` runs it in its two halves around the answer check
//! ([`scope`] before, so a pass that is no credential here never costs a KDF run, [`after_match`]
//! after, so sudo is asked only for a pass about to be accepted); `tapctl status` runs [`verdict`],
//! the two halves in the module's order with the steps before them. One answer, in one closed set
//! of words ([`Reason`]), each with the moment it changes where there is one.

use crate::config::Policy;
use crate::gate::{self, SudoCheck};
use crate::login::ineligible;
use crate::outcome::Outcome;
use pam_tap_base::error::Result;
use pam_tap_base::users::{Account, Directory};
use pam_tap_store::{PassRecord, Status};

/// Why a pass would or would not log in: the closed set `tapctl status` answers with and
/// `tapctl vocabulary` explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Usable,
    /// A used reset pass whose forced password change is still pending, within the grace window.
    UsableInGrace,
    PolicyOff,
    UnknownUser,
    NoPass,
    ServiceOutOfScope,
    HostOutOfScope,
    /// The pass only enrolls an SSH key (at the key enrollment step), it logs no one in itself.
    EnrollOnly,
    /// Outside the policy's users: min_uid, max_uid, exclude_groups, include_groups.
    Ineligible,
    NotYetValid,
    Expired,
    /// A one-time pass already used.
    Used,
    Revoked,
    /// Locked for good after too many wrong answers.
    Locked,
    /// Resting after wrong answers in a row.
    Resting,
    /// The account under the pass's name is not the one it was issued for (another uid now).
    UidChanged,
    AccountLocked,
    AccountExpired,
    /// Has uid 0, or was issued by an issuer and is now an admin.
    HolderPrivileged,
}

impl Reason {
    /// Every reason, in the order the module asks.
    pub const ALL: [Reason; 19] = [
        Reason::Usable,
        Reason::UsableInGrace,
        Reason::PolicyOff,
        Reason::UnknownUser,
        Reason::NoPass,
        Reason::ServiceOutOfScope,
        Reason::HostOutOfScope,
        Reason::EnrollOnly,
        Reason::Ineligible,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::Used,
        Reason::Revoked,
        Reason::Locked,
        Reason::Resting,
        Reason::UidChanged,
        Reason::AccountLocked,
        Reason::AccountExpired,
        Reason::HolderPrivileged,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Reason::Usable => "usable",
            Reason::UsableInGrace => "usable_in_grace",
            Reason::PolicyOff => "policy_off",
            Reason::UnknownUser => "unknown_user",
            Reason::NoPass => "no_pass",
            Reason::ServiceOutOfScope => "service_out_of_scope",
            Reason::HostOutOfScope => "host_out_of_scope",
            Reason::EnrollOnly => "enroll_only",
            Reason::Ineligible => "ineligible",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::Used => "used",
            Reason::Revoked => "revoked",
            Reason::Locked => "locked",
            Reason::Resting => "resting",
            Reason::UidChanged => "uid_changed",
            Reason::AccountLocked => "account_locked",
            Reason::AccountExpired => "account_expired",
            Reason::HolderPrivileged => "holder_privileged",
        }
    }

    /// Whether the pass would log in.
    pub fn usable(self) -> bool {
        matches!(self, Reason::Usable | Reason::UsableInGrace)
    }
}

/// The answer: the reason, the moment it changes (`until`) or the moment it began (`since`) where
/// the pass row or the account says, a detail in words, and what the module's decision comes to
/// with the right answer (its `outcome=` word and audit row follow from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub reason: Reason,
    pub until: Option<i64>,
    pub since: Option<i64>,
    pub detail: String,
    pub outcome: Outcome,
}

impl Verdict {
    fn new(reason: Reason, outcome: Outcome, detail: impl Into<String>) -> Verdict {
        Verdict {
            reason,
            until: None,
            since: None,
            detail: detail.into(),
            outcome,
        }
    }
    fn until(self, t: i64) -> Verdict {
        Verdict { until: Some(t), ..self }
    }
    fn since(self, t: Option<i64>) -> Verdict {
        Verdict { since: t, ..self }
    }

    /// The reason the module's audit row gives for this refusal.
    pub fn audit_reason(&self) -> String {
        match &self.outcome {
            Outcome::Refused(word) => format!("{word}: {}", self.detail),
            Outcome::NotEligible => format!("not eligible: {}", self.detail),
            other => other.word(),
        }
    }

    /// The detail the module's log line carries in parentheses.
    pub fn log_detail(&self) -> Option<String> {
        matches!(self.outcome, Outcome::Refused(_) | Outcome::NotEligible).then(|| self.detail.clone())
    }

    fn refused(reason: Reason, r: gate::Refusal) -> Verdict {
        Verdict::new(reason, Outcome::Refused(r.reason), r.detail)
    }
}

/// The first half, before the answer is checked: is the pass a credential at this service on this
/// host (the policy's `host_name`) at all, and a login credential at all (not an enrollment pass,
/// which counts only at the key enrollment step).
pub fn scope(policy: &Policy, rec: &PassRecord, service: Option<&str>) -> Option<Verdict> {
    if let Some(r) = gate::scope_refusal(policy, rec, service) {
        let reason = match r.reason {
            "service" => Reason::ServiceOutOfScope,
            _ => Reason::HostOutOfScope,
        };
        return Some(Verdict::refused(reason, r));
    }
    rec.enroll_key.then(|| {
        let r = gate::Refusal {
            reason: "enroll_only",
            detail: "the pass only enrolls an SSH key (log in over SSH with the key)".into(),
        };
        Verdict::refused(Reason::EnrollOnly, r)
    })
}

/// A status the pass row gives, as a verdict.
fn of_status(s: Status, rec: &PassRecord) -> Verdict {
    let v = |reason, detail: &str| Verdict::new(reason, Outcome::Unusable(s), detail);
    match s {
        Status::NotYetValid => v(Reason::NotYetValid, "its validity window has not started").until(rec.starts_at),
        Status::Expired => v(Reason::Expired, "its validity window has ended").since(Some(rec.expires_at)),
        Status::Used => v(Reason::Used, "a one-time pass, already used").since(rec.used_at),
        Status::Revoked => v(Reason::Revoked, "an operator revoked it").since(rec.revoked_at),
        Status::Locked => v(Reason::Locked, "locked after too many wrong answers").since(rec.locked_at),
        Status::Resting => {
            let until = rec.rest_until.unwrap_or(rec.expires_at);
            let detail = format!(
                "rest {} after wrong answers in a row, {} wrong answers in all",
                rec.rests, rec.total_failures
            );
            v(Reason::Resting, &detail).until(until)
        }
        Status::DisabledByPolicy => v(Reason::PolicyOff, "pam_tap is off (enabled = false)"),
        Status::Usable => Verdict::new(Reason::Usable, Outcome::Accepted, "").until(rec.expires_at),
    }
}

/// The second half, once the right answer matched a pass in scope: eligibility, the pass's own
/// state, then the boundary (the account not the one the pass was issued for, resting, the account
/// locked or expired, the holder an admin); sudo is asked last and only for a pass that would be
/// accepted.
pub fn after_match(
    policy: &Policy,
    acct: &Account,
    rec: &PassRecord,
    now: i64,
    dir: &dyn Directory,
    sudo: SudoCheck<'_>,
) -> Result<Verdict> {
    if let Some(why) = ineligible(policy, acct) {
        return Ok(Verdict::new(Reason::Ineligible, Outcome::NotEligible, why));
    }
    let status = rec.status(now, policy.enabled);
    let in_grace = status == Status::Used && policy.relogin && crate::login::in_grace(policy, rec, now, dir)?;
    if status != Status::Usable && !in_grace {
        return Ok(of_status(status, rec));
    }
    if let Some(r) = gate::login_refusal(policy, rec, acct, dir, sudo, now)? {
        let v = match r.reason {
            "uid" => Verdict::refused(Reason::UidChanged, r),
            "resting" => Verdict::refused(Reason::Resting, r).until(rec.rest_until.unwrap_or(now)),
            "locked" => Verdict::refused(Reason::AccountLocked, r),
            "expired" => {
                let day = dir.shadow(&acct.name)?.and_then(|sp| sp.expire);
                Verdict::refused(Reason::AccountExpired, r).since(day.map(|d| d * 86_400))
            }
            _ => Verdict::refused(Reason::HolderPrivileged, r),
        };
        return Ok(v);
    }
    Ok(match in_grace {
        false => of_status(status, rec),
        true => {
            let grace_end = rec.used_at.unwrap_or(now).saturating_add(policy.grace.as_secs() as i64);
            Verdict::new(
                Reason::UsableInGrace,
                Outcome::AcceptedInGrace,
                "used, its forced password change still pending",
            )
            .until(grace_end)
        }
    })
}

/// Whether `user`'s newest pass `rec` would log in at `service` (`None`: any service the policy
/// allows), on the host the policy names, at `now`: the module's decision in its order, for the
/// right answer. Reads only: the module first settles a reset pass that ended (crate::reset), which
/// changes no verdict but one, a live reset pass whose account's password was changed meanwhile
/// (it ends, revoked); the caller passes the record as that settling would leave it, or as stored.
pub fn verdict(
    policy: &Policy,
    acct: Option<&Account>,
    rec: Option<&PassRecord>,
    now: i64,
    service: Option<&str>,
    dir: &dyn Directory,
    sudo: SudoCheck<'_>,
) -> Result<Verdict> {
    if !policy.enabled {
        return Ok(Verdict::new(
            Reason::PolicyOff,
            Outcome::Disabled,
            "pam_tap is off (enabled = false)",
        ));
    }
    let Some(acct) = acct else {
        return Ok(Verdict::new(Reason::UnknownUser, Outcome::UnknownUser, "no such user"));
    };
    let Some(rec) = rec else {
        return Ok(Verdict::new(Reason::NoPass, Outcome::NoPass, "holds no pass"));
    };
    // No service named: the pass at the first of the services it may be used at.
    let any = rec
        .services
        .as_deref()
        .and_then(|l| l.split(',').find(|s| policy.services.iter().any(|p| p == s)))
        .or(policy.services.first().map(String::as_str));
    if let Some(v) = scope(policy, rec, service.or(any)) {
        return Ok(v);
    }
    after_match(policy, acct, rec, now, dir, sudo)
}

#[cfg(test)]
mod tests;
