//! `tapctl init`: writes the example config (off) where none exists, then creates or migrates the
//! store it names.

use std::os::unix::fs::OpenOptionsExt;

use pam_tap_base::error::{Error, Result};
use pam_tap_core::config;

use crate::admitted::Admitted;

pub fn run(run: &Admitted<'_>) -> Result<()> {
    let path = run.cli().config_path();
    if !path.exists() {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::Io(format!("creating {}: {e}", path.display())))?;
        std::io::Write::write_all(&mut f, config::EXAMPLE.as_bytes()).map_err(|e| Error::Io(e.to_string()))?;
        println!(
            "wrote {} (enabled = false: turn it on once pam.d is wired)",
            path.display()
        );
    }
    let policy = run.policy()?;
    let mut store = run.create_store()?;
    println!("database {} ready (schema {})", policy.database, store.version()?);
    Ok(())
}
