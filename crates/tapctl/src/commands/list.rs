//! `tapctl list [--all]`: the passes, newest first.

use pam_tap_base::error::Result;

use crate::admin;
use crate::admitted::{now, Admitted};
use crate::render::{json, print_views};

pub fn run(run: &Admitted<'_>, all: bool, as_json: bool) -> Result<()> {
    let policy = run.policy()?;
    let views = admin::list(&*run.open_store()?, policy, all, now())?;
    if as_json {
        return json(&views);
    }
    print_views(&views);
    Ok(())
}
