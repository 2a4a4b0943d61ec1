//! tapctl's run: the command line parsed, the command table's answer, then the command.

use std::cell::OnceCell;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use pam_tap_base::error::Result;
use pam_tap_base::text;
use pam_tap_base::users::System;
use pam_tap_core::config::Policy;

use crate::admitted::Admitted;
use crate::cli::Cli;
use crate::{admin, boundary, commands, invoker};

/// Passes the command table, then runs the command. Nothing before the table's answer opens a
/// file an operator names, connects anywhere or writes a store: an operator's role is read from
/// the system policy and the name service only.
fn run(matches: &clap::ArgMatches, cli: &Cli) -> Result<()> {
    let req = boundary::request(
        &Cli::command(),
        matches,
        std::env::var_os(boundary::CONFIG_ENV).is_some(),
    );
    let policy = OnceCell::new();
    let who = invoker::current()?;
    let admission = boundary::admit(&req, &who, |_| {
        let p = Policy::load(cli.config_path())?;
        let op = admin::operator(&p, &System, &who);
        let _ = policy.set(p);
        op
    })?;
    commands::run(&Admitted::new(cli, admission, policy))
}

/// tapctl's whole run; its exit status.
pub fn main() -> ExitCode {
    // A reader that goes away (`tapctl list | head -1`) ends tapctl as it ends any Unix filter,
    // quietly, instead of a panic on the write. A shadow change in flight holds SIGPIPE off with
    // the other signals until its commit (`crate::shield::Shield`).
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(&matches, &cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapctl: {}", text::shown(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
