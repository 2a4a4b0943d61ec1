//! tapctl's front door: what an operator (anyone but root itself, see [`pam_tap::invoker`]) may
//! not ask of a program that runs as root on their behalf.
//!
//! - Another policy file: `--config` or `PAM_TAP_CONFIG` would let an operator run under a stale
//!   or hand-made policy (their own roles, their own database), and `init` would create the file
//!   as root wherever they point it (`/etc/nologin` locks every non-root login).
//! - `init` and `doctor`: they create files, and read and report on any directory tree (`doctor
//!   --root`), as root.
//!
//! Everything else an operator names is read with their own rights ([`crate::as_user`]) or
//! checked as text ([`pam_tap::text`]).

use crate::cli::{Cli, Command};
use pam_tap::error::{Error, Result};
use pam_tap::invoker::Invoker;

/// The environment variable that names another policy file.
pub const CONFIG_ENV: &str = "PAM_TAP_CONFIG";

/// Refuses what `who` may not ask for. `env_config` says whether `PAM_TAP_CONFIG` is in the
/// environment at all (clap folds it into `cli.config`, but an empty one may be dropped).
pub fn admit(cli: &Cli, who: &Invoker, env_config: bool) -> Result<()> {
    let Invoker::Operator { name, .. } = who else {
        return Ok(());
    };
    if cli.config.is_some() || env_config {
        return Err(Error::Refused(format!(
            "--config and {CONFIG_ENV} are root's only: {name} runs tapctl under the system policy (drop them)"
        )));
    }
    let only_root = match cli.command {
        Command::Init => Some("init"),
        Command::Doctor { .. } => Some("doctor"),
        _ => None,
    };
    match only_root {
        Some(cmd) => Err(Error::Refused(format!(
            "tapctl {cmd} is root's only ({name} is an operator)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("tapctl").chain(args.iter().copied())).unwrap()
    }

    fn alice() -> Invoker {
        Invoker::Operator {
            name: "alice".into(),
            source: "SUDO_USER".into(),
        }
    }

    #[test]
    fn operators_get_the_system_policy_and_no_init_or_doctor() {
        let refused = |args: &[&str], env: bool| admit(&cli(args), &alice(), env).unwrap_err().to_string();
        assert!(refused(&["--config", "/etc/nologin", "init"], false).contains("root's only"));
        assert!(refused(&["list"], true).contains("PAM_TAP_CONFIG"));
        assert!(refused(&["list", "--config", "/x"], false).contains("--config"));
        assert!(refused(&["init"], false).contains("init is root's only"));
        assert!(refused(&["doctor", "--root", "/"], false).contains("doctor is root's only"));
        admit(&cli(&["list"]), &alice(), false).unwrap();
        admit(&cli(&["issue", "bob"]), &alice(), false).unwrap();
    }

    #[test]
    fn root_may_name_any_config() {
        admit(&cli(&["--config", "/x", "init"]), &Invoker::Root, true).unwrap();
        admit(&cli(&["doctor"]), &Invoker::Root, false).unwrap();
    }
}
