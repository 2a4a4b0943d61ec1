//! `tapctl policy`: the policy in force, with the store's password redacted.

use pam_tap_base::error::{Error, Result};

use crate::admitted::Admitted;
use crate::render::json;

pub fn run(run: &Admitted<'_>, as_json: bool) -> Result<()> {
    let policy = run.policy()?;
    if as_json {
        return json(policy);
    }
    print!("{}", toml::to_string(policy).map_err(|e| Error::Io(e.to_string()))?);
    Ok(())
}
