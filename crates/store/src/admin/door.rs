//! The one door to tapctl's commands. tapctl runs as root for operators who are not, so every
//! command is default-deny, as sudo's policy and PostgreSQL's GRANTs are: a command runs only when
//! the one command table (tapctl's `table.rs`) names a role that may run it, and the command that
//! has no entry is root's alone. The door is passed before any side effect (no file an operator
//! names is opened, no connection made, no store written), and what it hands out, an
//! [`Admission`], is what opening the store for tapctl takes ([`crate::admin::open_admin`]),
//! so a command that skipped it cannot reach the store.
//!
//! The caller says who invoked tapctl: `None` for root itself (tapctl's invoker: no `SUDO_USER`,
//! a login uid of 0 or unset), never `getuid() == 0`, which sudo always makes true.

use crate::operator::{Operator, Role};
use pam_tap_base::error::{Error, Result};

/// One row of the command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandRule {
    /// The command under `tapctl`, one word per level (`["issue"]`).
    pub path: &'static [&'static str],
    /// The least role that may run it (viewer < issuer < privileged issuer < root).
    pub least: Role,
    /// Arguments (clap ids) only root may supply to it.
    pub root_args: &'static [&'static str],
    /// What the command may do to the system, for the generated table.
    pub why: &'static str,
}

/// What the caller asked for, as the command line parser understood it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub path: Vec<String>,
    /// The arguments (clap ids) the caller supplied, on the command line or through the
    /// environment, at any level.
    pub supplied: Vec<String>,
}

impl Request {
    fn shown(&self) -> String {
        self.path.join(" ")
    }
}

/// Proof that the command table let the invoker run this command. Only [`admit`] makes one.
#[derive(Debug)]
pub struct Admission {
    operator: Operator,
    command: String,
}

impl Admission {
    /// Who runs the command, with their role.
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// The command admitted (`issue`, `hosts bind`).
    pub fn command(&self) -> &str {
        &self.command
    }
}

/// The rule the table has for `path`; none means root's alone.
pub fn rule_for<'t>(table: &'t [CommandRule], path: &[String]) -> Option<&'t CommandRule> {
    table
        .iter()
        .find(|r| r.path.len() == path.len() && r.path.iter().zip(path).all(|(a, b)| a == b))
}

/// The least role `path` needs: its rule's, or root for a command the table does not name.
pub fn least_role(table: &[CommandRule], path: &[String]) -> Role {
    rule_for(table, path).map_or(Role::Root, |r| r.least)
}

/// Whether `role` reaches the command at `path` (its root-only arguments aside): what [`admit`]
/// decides for an operator of that role, for telling them ahead what they may do.
pub fn may_run(table: &[CommandRule], path: &[&str], role: Role) -> bool {
    let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
    let least = least_role(table, &path);
    role == Role::Root || (least != Role::Root && role >= least)
}

/// Passes the door or says why not. `global_root_args` are arguments only root may supply to any
/// command. `role_of` finds an operator's role (it reads the system policy and the name service);
/// it is asked only once the table has left the operator a chance.
pub fn admit(
    table: &[CommandRule],
    global_root_args: &[&str],
    req: &Request,
    operator: Option<&str>,
    role_of: impl FnOnce(&str) -> Result<Operator>,
) -> Result<Admission> {
    let command = req.shown();
    let rule = rule_for(table, &req.path);
    let name = match operator {
        None => {
            return Ok(Admission {
                operator: Operator {
                    name: "root".into(),
                    role: Role::Root,
                },
                command,
            })
        }
        Some(name) => name,
    };
    let least = rule.map_or(Role::Root, |r| r.least);
    if least == Role::Root {
        return Err(Error::Refused(format!(
            "tapctl {command} is root's only ({name} is an operator)"
        )));
    }
    let root_args = global_root_args.iter().chain(rule.map_or(&[][..], |r| r.root_args));
    if let Some(arg) = root_args.clone().find(|a| req.supplied.iter().any(|s| s == *a)) {
        return Err(Error::Refused(match *arg {
            "config" => format!(
                "--config and PAM_TAP_CONFIG are root's only: {name} runs tapctl under the system policy (drop them)"
            ),
            other => format!("--{other} of tapctl {command} is root's only ({name} is an operator)"),
        }));
    }
    let operator = role_of(name)?;
    if operator.role < least {
        return Err(Error::Refused(format!(
            "tapctl {command} needs the {} role or above; {name} is a {}",
            least.word(),
            operator.role.word()
        )));
    }
    Ok(Admission { operator, command })
}

/// The table as Markdown, for tapctl(8) and the guide's "Helpdesk boundary" page: a row per command, a column per role.
pub fn table_markdown(table: &[CommandRule], global_root_args: &[&str]) -> String {
    let roles = [Role::Root, Role::PrivilegedIssuer, Role::Issuer, Role::Viewer];
    let mut out = String::from("| command | ");
    for r in roles {
        out.push_str(r.word());
        out.push_str(" | ");
    }
    out.push_str("only root may give | what it can do |\n|---|");
    out.push_str(&"---|".repeat(roles.len() + 2));
    out.push('\n');
    for rule in table {
        out.push_str(&format!("| `tapctl {}` | ", rule.path.join(" ")));
        for r in roles {
            out.push_str(if r >= rule.least { "yes | " } else { "— | " });
        }
        let args: Vec<String> = rule.root_args.iter().map(|a| format!("`--{a}`")).collect();
        out.push_str(&format!("{} | {} |\n", args.join(", "), rule.why));
    }
    let global: Vec<String> = global_root_args.iter().map(|a| format!("`--{a}`")).collect();
    out.push_str(&format!(
        "\nEvery command: {} (and its environment variable) is root's only. A user in no role's group runs nothing; a command the table does not name is root's alone.\n",
        global.join(", ")
    ));
    out
}

#[cfg(test)]
mod tests;
