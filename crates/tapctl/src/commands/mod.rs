//! One file per tapctl command. Each is reached only through [`run`], with an [`Admitted`] the
//! command table let through (crate::app).

mod approval;
mod doctor;
mod hosts;
mod init;
mod issue;
mod keys;
mod list;
mod log;
mod migrate;
mod policy;
mod purge;
mod revoke;
mod show;
mod status;
mod unlock;
pub mod vocabulary;

use pam_tap_base::error::Result;

use crate::admitted::Admitted;
use crate::cli::Command;

/// Runs the admitted command.
pub fn run(run: &Admitted<'_>) -> Result<()> {
    match &run.cli().command {
        Command::Init => init::run(run),
        Command::Issue(a) => issue::run(run, a),
        Command::List { all, json } => list::run(run, *all, *json),
        Command::Show { user, json } => show::run(run, user, *json),
        Command::Status {
            user,
            host,
            service,
            json,
        } => status::run(run, user, host.as_deref(), service.as_deref(), *json),
        Command::Revoke { user, reason, json } => revoke::run(run, user, reason.as_deref(), *json),
        Command::Unlock { user } => unlock::run(run, user),
        Command::Purge { older_than } => purge::run(run, older_than),
        Command::Log { user, json } => log::run(run, user.as_deref(), *json),
        Command::Migrate { to } => migrate::run(run, to),
        Command::Doctor { json, root } => doctor::run(run, root.as_deref(), *json),
        Command::Hosts { action } => hosts::run(run, action),
        Command::Keys { action } => keys::run(run, action),
        Command::Policy { json } => policy::run(run, *json),
        Command::Vocabulary { json } => vocabulary::run(run, *json),
        Command::Approve { id, json } => approval::approve(run, *id, *json),
        Command::Deny { id, reason, json } => approval::deny(run, *id, reason, *json),
        Command::Collect { id, json } => approval::collect(run, *id, *json),
        Command::Requests { json } => approval::requests(run, *json),
    }
}
