//! `tapctl unlock USER`: ends the rest a pass took after too many wrong answers. The same roles
//! as revoke; audited as `unlocked`.

use crate::admin::{may_act_on, target, Operator};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::users::Directory;
use pam_tap_core::config::Policy;
use pam_tap_store::admin::AdminStore;
use pam_tap_store::Touch;

use crate::admitted::{now, Admitted};

pub fn run(run: &Admitted<'_>, user: &str) -> Result<()> {
    let (policy, op) = (run.policy()?, run.operator());
    let mut store = run.open_store()?;
    let id = unlock(&mut *store, policy, &pam_tap_base::users::System, op, user, now())?;
    println!("unlocked pass {id} of {user}");
    Ok(())
}

/// Unlocks the user's newest pass; returns its id.
fn unlock(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    user: &str,
    now: i64,
) -> Result<i64> {
    let acct = target(dir, user)?;
    may_act_on(policy, op, &acct)?;
    let rec = store
        .latest_for(&acct.name)?
        .filter(|r| r.revoked_at.is_none())
        .ok_or_else(|| Error::Refused(format!("{} holds no pass to unlock", acct.name)))?;
    let now = store.effective_now(now)?;
    let ctx = op.context();
    store.unlock(&Touch {
        id: rec.id,
        now,
        ctx: &ctx,
    })?;
    Ok(rec.id)
}
