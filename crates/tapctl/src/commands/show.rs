//! `tapctl show USER`: one user's newest pass. Like any touch, it first settles a reset pass that
//! has ended (crate::shield).

use pam_tap_base::error::Result;
use pam_tap_base::users::System;

use crate::admin;
use crate::admitted::{now, Admitted};
use crate::render::{json, show_view};

pub fn run(run: &Admitted<'_>, user: &str, as_json: bool) -> Result<()> {
    let (policy, op) = (run.policy()?, run.operator());
    let mut store = run.open_store()?;
    crate::shield::settle_user(&mut *store, &System, policy, user, now(), &op.context())?;
    let v = admin::show(&*store, policy, user, now())?;
    if as_json {
        return json(&v);
    }
    show_view(&v);
    Ok(())
}
