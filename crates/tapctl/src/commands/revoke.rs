//! `tapctl revoke USER`: ends the user's live pass; an unused reset pass gives the previous
//! password back.

use pam_tap_base::error::Result;
use pam_tap_base::users::System;

use crate::admin;
use crate::admitted::{now, Admitted};
use crate::render::json;

pub fn run(run: &Admitted<'_>, user: &str, reason: Option<&str>, as_json: bool) -> Result<()> {
    let (policy, op) = (run.policy()?, run.operator());
    let mut store = run.open_store()?;
    let r = admin::revoke(&mut *store, policy, &System, op, user, reason, now())?;
    admin::keys::close_windows(&*store, policy, user)?;
    if as_json {
        return json(&serde_json::json!({"user": user, "pass_id": r.pass_id, "restored": r.restored}));
    }
    let restored = if r.restored {
        "; the account's previous password is back"
    } else {
        ""
    };
    println!("revoked pass {} of {user}{restored}", r.pass_id);
    if store.resets_at_accept() {
        println!(
            "A host where the pass reset {user}'s password puts the previous one back at its next touch (a login attempt with a pass there, or tapctl purge run there)."
        );
    }
    Ok(())
}
