//! What `tapctl` does, as library functions: roles, issue, revoke, list, purge. The clock, the
//! name service and the operator are parameters.

use crate::invoker::Invoker;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::text;
use pam_tap_base::users::{self, Account, Directory};
use pam_tap_core::config::Policy;
use pam_tap_core::reset;
use pam_tap_store::admin::AdminStore;
use pam_tap_store::Touch;

pub use pam_tap_store::operator::{Operator, Role};

/// The operator `who` is and their role. Root is root; anyone else needs a role in the policy.
pub fn operator(policy: &Policy, dir: &dyn Directory, who: &Invoker) -> Result<Operator> {
    let (name, source) = match who {
        Invoker::Root => {
            return Ok(Operator {
                name: "root".into(),
                role: Role::Root,
            })
        }
        Invoker::Operator { name, source } => (name.clone(), source),
    };
    let acct = dir
        .account(&name)?
        .ok_or_else(|| Error::Refused(format!("operator {name} ({source}) is not a known user")))?;
    let in_any = |groups: &[String]| acct.groups.iter().any(|g| groups.contains(g));
    let role = if in_any(&policy.privileged_issuers) {
        Role::PrivilegedIssuer
    } else if in_any(&policy.issuers) {
        Role::Issuer
    } else if in_any(&policy.viewers) {
        Role::Viewer
    } else {
        return Err(Error::Refused(format!(
            "{name} holds no tapctl role: add one of their groups to roles.privileged_issuers, roles.issuers or roles.viewers"
        )));
    };
    Ok(Operator { name, role })
}

/// Whether `op` may issue, revoke or unlock a pass for `target` (see [`pam_tap_core::gate::may_act_on`]).
pub fn may_act_on(policy: &Policy, op: &Operator, target: &Account) -> Result<()> {
    pam_tap_core::gate::may_act_on(policy, op, target, &users::System, &pam_tap_base::sudo::grants_root)
}

/// Why a pass for `target` issued by `op` needs a second operator's approval, or `None`.
pub fn needs_approval(policy: &Policy, op: &Operator, target: &Account) -> Option<String> {
    let a = &policy.approval;
    if !a.enabled || op.role == Role::Root {
        return None;
    }
    if a.privileged {
        if let Some(why) = pam_tap_core::gate::admin(policy, target, &pam_tap_base::sudo::grants_root) {
            return Some(format!("{} {why}", target.name));
        }
    }
    target
        .groups
        .iter()
        .find(|g| a.groups.contains(g))
        .map(|g| format!("{} is in group {g}, which approval.groups names", target.name))
}

pub use pam_tap_base::timefmt::rfc3339;
pub(crate) use pam_tap_base::timefmt::ser_time;

pub mod approval;
mod issue;
pub mod keys;
mod scope;
mod view;
pub use issue::{check_issue, issue, issued, mint, plan_row, CheckedIssue, IssueRequest, Issued, Minted, Start};
pub use scope::host_scope;
pub use view::{list, show, View};

/// Looks up a target user, refusing names that cannot be users.
pub fn target(dir: &dyn Directory, name: &str) -> Result<Account> {
    if !users::plausible_name(name) {
        return Err(Error::Refused(format!("{name:?} is not a valid user name")));
    }
    dir.account(name)?
        .ok_or_else(|| Error::Refused(format!("no such user: {name}")))
}

/// What revoke did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub pass_id: i64,
    /// The account's password state from before the pass was put back.
    pub restored: bool,
}

/// Revokes the user's newest unrevoked pass. If its reset is still in place, the account's
/// previous password state comes back, decided and marked inside the store's transaction.
pub fn revoke(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    user: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Revoked> {
    text::check_request(user, reason)?;
    let acct = target(dir, user)?;
    may_act_on(policy, op, &acct)?;
    let ctx = op.context();
    let _shield = crate::shield::Shield::hold();
    reset::settle_user(store, dir, policy, &acct.name, now, &ctx)?;
    let rec = store
        .latest_for(&acct.name)?
        .filter(|r| r.revoked_at.is_none())
        .ok_or_else(|| Error::Refused(format!("{} holds no pass to revoke", acct.name)))?;
    let at = Touch {
        id: rec.id,
        now,
        ctx: &ctx,
    };
    store.revoke(&at, reason, &mut |_| Ok(()))?;
    let settled = reset::settle_user(store, dir, policy, &acct.name, now, &ctx)?;
    Ok(Revoked {
        pass_id: rec.id,
        restored: settled.restored,
    })
}
