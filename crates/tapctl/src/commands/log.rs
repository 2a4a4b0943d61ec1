//! `tapctl log [USER]`: the audit log, oldest first.

use pam_tap_base::error::Result;

use crate::admitted::Admitted;
use crate::render::{json, print_log};

pub fn run(run: &Admitted<'_>, user: Option<&str>, as_json: bool) -> Result<()> {
    let entries = run.open_store()?.log(user)?;
    if as_json {
        return json(&entries);
    }
    print_log(&entries);
    Ok(())
}
