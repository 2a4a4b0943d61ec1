//! tapctl's front door: the command line as clap parsed it, judged against the one command table
//! ([`crate::table`], by [`pam_tap_store::admin::admit`]) before tapctl does anything else. Everything
//! an admitted operator then names is read with their own rights ([`crate::as_user`]) or checked
//! as text ([`pam_tap_base::text`]).

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use crate::invoker::Invoker;
use crate::table::{COMMAND_TABLE, GLOBAL_ROOT_ARGS};
use pam_tap_base::error::Result;
use pam_tap_store::admin::{self, Admission, Request};
use pam_tap_store::operator::Operator;

/// The environment variable that names another policy file.
pub const CONFIG_ENV: &str = "PAM_TAP_CONFIG";

/// The command path and every argument the caller supplied, at every level, as `cmd` (the
/// command line's definition) parsed them into `matches`. `env_config` says whether
/// `PAM_TAP_CONFIG` is in the environment at all (clap drops an empty one).
pub fn request(cmd: &Command, matches: &ArgMatches, env_config: bool) -> Request {
    let mut req = Request::default();
    let mut level = Some((cmd, matches));
    while let Some((c, m)) = level {
        // Only arguments: the ids of argument groups (one per derived struct) are not.
        for arg in c.get_arguments().map(|a| a.get_id().as_str()) {
            let given = matches!(
                m.try_get_raw(arg).ok().flatten().and(m.value_source(arg)),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if given && !req.supplied.iter().any(|s| s == arg) {
                req.supplied.push(arg.to_string());
            }
        }
        level = m.subcommand().and_then(|(name, sub)| {
            req.path.push(name.to_string());
            c.find_subcommand(name).map(|sc| (sc, sub))
        });
    }
    if env_config && !req.supplied.iter().any(|s| s == "config") {
        req.supplied.push("config".into());
    }
    req
}

/// Admits `req` for `who` or refuses it. `role_of` (reading the system policy) runs only for an
/// operator the table has not already refused.
pub fn admit(req: &Request, who: &Invoker, role_of: impl FnOnce(&str) -> Result<Operator>) -> Result<Admission> {
    let operator = match who {
        Invoker::Root => None,
        Invoker::Operator { name, .. } => Some(name.as_str()),
    };
    admin::admit(COMMAND_TABLE, GLOBAL_ROOT_ARGS, req, operator, role_of)
}

#[cfg(test)]
mod tests;
