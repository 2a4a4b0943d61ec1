//! Who may hold and use a pass, beyond eligibility: the helpdesk boundary.
//!
//! - Roles cannot climb (Entra's rule): an issuer acts only on users who hold no tapctl role and
//!   are not admins, a privileged issuer on anyone but root and themselves, root on anyone but
//!   itself. "Themselves" and "root" are by uid, so `useradd -o -u` aliases change nothing. The
//!   rule holds at login too: the pass row remembers its issuer's role.
//! - A locked (`usermod -L`) or expired (`chage -E`) account stays shut, except for the pass's own
//!   reset state.
//! - A pass is a login credential: it works only at the policy's `services`, narrowed per pass.

use crate::config::Policy;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::users::{Account, Directory, ShadowEntry};
use pam_tap_store::operator::{Operator, Role};
use pam_tap_store::PassRecord;

/// `Some(why)` when the uid is above the policy's ceiling (`nobody` and other non-login ids).
pub fn above_max_uid(policy: &Policy, acct: &Account) -> Option<String> {
    let max = policy.max_uid;
    (acct.uid > max).then(|| format!("uid {} is above max_uid {max}", acct.uid))
}

/// Whether sudo lets a user run commands as root; an error counts as yes.
pub type SudoCheck<'a> = &'a dyn Fn(&str) -> Result<bool>;

/// Holds a tapctl role, or is in one of `admin_groups`: no sudo needed to know.
fn admin_by_groups(policy: &Policy, acct: &Account) -> Option<String> {
    let role_groups = [&policy.privileged_issuers, &policy.issuers, &policy.viewers];
    if let Some(g) = acct.groups.iter().find(|g| role_groups.iter().any(|r| r.contains(g))) {
        return Some(format!("holds a tapctl role (group {g})"));
    }
    acct.groups
        .iter()
        .find(|g| policy.admin_groups.contains(g))
        .map(|g| format!("is in admin group {g}"))
}

/// `Some(why)` when `acct` is an admin: uid 0, a role holder, an `admin_groups` member, or a user
/// sudo lets run commands as root (asked last: it costs a process).
pub fn admin(policy: &Policy, acct: &Account, sudo: SudoCheck<'_>) -> Option<String> {
    if acct.uid == 0 {
        return Some("has uid 0".into());
    }
    if let Some(why) = admin_by_groups(policy, acct) {
        return Some(why);
    }
    match sudo(&acct.name) {
        Ok(false) => None,
        Ok(true) => Some("may run commands as root through sudo".into()),
        Err(e) => Some(format!("sudo could not tell whether they may act as root ({e})")),
    }
}

/// The operator's uid: root is 0, anyone else is looked up.
fn operator_uid(op: &Operator, dir: &dyn Directory) -> Result<u32> {
    if op.role == Role::Root {
        return Ok(0);
    }
    dir.account(&op.name)?
        .map(|a| a.uid)
        .ok_or_else(|| Error::Refused(format!("operator {} is not a known user", op.name)))
}

/// Whether `op` may issue, revoke or unlock a pass for `target`.
pub fn may_act_on(
    policy: &Policy,
    op: &Operator,
    target: &Account,
    dir: &dyn Directory,
    sudo: SudoCheck<'_>,
) -> Result<()> {
    if op.role == Role::Viewer {
        return Err(Error::Refused(format!(
            "{} is a viewer and may only list, show and log",
            op.name
        )));
    }
    if operator_uid(op, dir)? == target.uid {
        return Err(Error::Refused(format!(
            "{} may not act on their own pass ({} has their uid {})",
            op.name, target.name, target.uid
        )));
    }
    if target.uid == 0 {
        return Err(Error::Refused(format!(
            "{} has uid 0: nobody may hold a pass for root",
            target.name
        )));
    }
    if op.role == Role::Issuer {
        if let Some(why) = admin(policy, target, sudo) {
            return Err(Error::Refused(format!(
                "{} {why}: only a privileged issuer or root may act on them",
                target.name
            )));
        }
    }
    Ok(())
}

/// Whether the pass's issuer was bound by the issuer rule. Rows from before the role was stored
/// count as an issuer's unless root issued them: the safe reading.
fn issued_by_issuer(rec: &PassRecord) -> bool {
    match rec.issuer_role.as_deref() {
        Some(r) => r != "root" && r != "privileged_issuer",
        None => rec.issued_by != "root",
    }
}

/// Days since the epoch (shadow's unit).
fn today(now: i64) -> i64 {
    now.div_euclid(86_400)
}

/// Whether a shadow hash is a locked password: `!` in front of a hash (`usermod -L`, `passwd -l`).
/// A bare `!` or `!!` is what useradd leaves on an account that never had a password (Debian,
/// Fedora): that is an account waiting for its first credential, which is what a pass is for. To
/// shut such an account, expire it (`chage -E 0`); pam_tap honours that too.
pub fn locked_hash(hash: &str) -> bool {
    hash.starts_with('!') && !hash.trim_start_matches('!').is_empty()
}

/// Why the account's own state (locked, expired) forbids a pass, or `None`. A locked hash is a
/// lock whoever set it; pam_tap's own reset state never starts with `!`.
pub fn account_shut(sp: Option<&ShadowEntry>, now: i64) -> Option<(&'static str, String)> {
    let sp = sp?;
    if locked_hash(&sp.hash) {
        return Some(("locked", "the account is locked (usermod -L / passwd -l)".into()));
    }
    if let Some(day) = sp.expire.filter(|d| *d >= 0 && today(now) >= *d) {
        return Some((
            "expired",
            format!("the account expired on day {day} since 1970 (chage -E)"),
        ));
    }
    None
}

/// Issue-time check that needs the user's newest pass: the account must be neither locked nor
/// expired. One lock is pam_tap's own: the reset state of a pass that has ended, locked so the
/// derived secret no longer opens the account; a new pass may replace it.
pub fn check_account_for_issue(
    user: &str,
    sp: Option<&ShadowEntry>,
    latest: Option<&PassRecord>,
    now: i64,
) -> Result<()> {
    let own_lock = match (sp, latest) {
        (Some(sp), Some(l)) => {
            !l.is_live(now)
                && l.shadow_set
                    .as_deref()
                    .is_some_and(|set| sp.hash.trim_start_matches('!') == set && sp.hash.starts_with('!'))
        }
        _ => false,
    };
    let shut = match sp {
        Some(sp) if own_lock => account_shut(
            Some(&ShadowEntry {
                hash: String::new(),
                ..sp.clone()
            }),
            now,
        ),
        _ => account_shut(sp, now),
    };
    match shut {
        Some((_, why)) => Err(Error::Refused(format!(
            "{user} may not be given a pass: {why}; lift that first if the pass is meant"
        ))),
        None => Ok(()),
    }
}

/// The per-pass services as stored: `None` means the policy's list.
pub fn narrow_services(policy: &Policy, wanted: &[String]) -> Result<Option<String>> {
    if wanted.is_empty() {
        return Ok(None);
    }
    for s in wanted {
        if !policy.services.contains(s) {
            return Err(Error::Refused(format!(
                "--service {s:?} is not among the policy's services ({})",
                policy.services.join(", ")
            )));
        }
    }
    Ok(Some(wanted.join(",")))
}

/// Whether a pass counts at `service`.
pub fn service_allowed(policy: &Policy, rec: &PassRecord, service: Option<&str>) -> bool {
    let Some(service) = service else { return false };
    policy.services.iter().any(|s| s == service)
        && rec
            .services
            .as_deref()
            .is_none_or(|list| list.split(',').any(|s| s == service))
}

/// Whether a pass's host scope names this host (`host_name`, any case); an unscoped pass counts
/// on every host.
pub fn host_allowed(policy: &Policy, rec: &PassRecord) -> bool {
    rec.hosts.as_deref().is_none_or(|list| {
        !policy.host_name.is_empty()
            && list
                .split(',')
                .any(|h| h.trim().eq_ignore_ascii_case(&policy.host_name))
    })
}

/// Whether the pass is resting after too many wrong answers (whatever else its status says).
pub fn resting(rec: &PassRecord, now: i64) -> bool {
    rec.rest_until.is_some_and(|t| now < t)
}

/// A refusal at login: the word for `reason=` and the detail for the audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub detail: String,
}

/// Whether the pass is for this host and this service at all. Asked before the answer is checked
/// (a pass is no credential here, whatever is typed), so a wrong answer here counts no failure. A
/// fleet store withholds the hash of a pass that is not for this host (its empty `hash`): the
/// database's own verdict on the host scope.
pub fn scope_refusal(policy: &Policy, rec: &PassRecord, service: Option<&str>) -> Option<Refusal> {
    if !service_allowed(policy, rec, service) {
        return Some(Refusal {
            reason: "service",
            detail: format!("a pass is not a credential at service {}", service.unwrap_or("(none)")),
        });
    }
    if !host_allowed(policy, rec) || rec.hash.is_empty() {
        return Some(Refusal {
            reason: "host",
            detail: format!(
                "the pass is for {}, this host is {}",
                rec.hosts.as_deref().unwrap_or("other hosts"),
                policy.host_name
            ),
        });
    }
    None
}

/// Everything the login path checks once a pass matched and is in scope ([`scope_refusal`]),
/// cheapest first; sudo is asked only when the pass is about to be accepted and was issued by an
/// issuer.
pub fn login_refusal(
    policy: &Policy,
    rec: &PassRecord,
    acct: &Account,
    dir: &dyn Directory,
    sudo: SudoCheck<'_>,
    now: i64,
) -> Result<Option<Refusal>> {
    let refuse = |reason, detail| Ok(Some(Refusal { reason, detail }));
    // A pass belongs to the account it was issued for, not to a later one under the same name (an
    // account deleted and made again, or renumbered): the name alone would hand it on.
    if rec.uid != acct.uid {
        let detail = format!(
            "the pass was issued for uid {}, {} is uid {} now",
            rec.uid, acct.name, acct.uid
        );
        return refuse("uid", detail);
    }
    if resting(rec, now) {
        let until = rec.rest_until.unwrap_or(now);
        return refuse("resting", format!("resting for {} s more", until - now));
    }
    if let Some((reason, detail)) = account_shut(dir.shadow(&acct.name)?.as_ref(), now) {
        return refuse(reason, detail);
    }
    if acct.uid == 0 {
        return refuse("role", format!("{} has uid 0", acct.name));
    }
    if issued_by_issuer(rec) {
        if let Some(why) = admin(policy, acct, sudo) {
            return refuse("role", format!("issued by an issuer, and {} {why}", acct.name));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
