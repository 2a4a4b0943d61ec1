//! `tapctl doctor [--root DIR]`: checks the installation (crate::doctor); fails when a check does.

use std::path::Path;

use pam_tap_base::error::{Error, Result};

use crate::admitted::{now, Admitted};
use crate::doctor;

pub fn run(run: &Admitted<'_>, root: Option<&Path>, as_json: bool) -> Result<()> {
    if doctor::run(run.cli().config_path(), root, as_json, now()) != 0 {
        return Err(Error::Refused(
            "doctor found problems that need fixing (FAIL above)".into(),
        ));
    }
    Ok(())
}
