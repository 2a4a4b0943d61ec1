// The one command table: which roles may run each tapctl command and which of its arguments only
// root may supply (pam_tap_store::admin::admit reads it before any side effect). A command it does not
// name is root's alone; a test walks clap's command tree so that a new command without a row here
// fails. Also `include!`d by crates/tapctl/examples/gen_docs.rs, which renders it into tapctl(8);
// tests/tapctl/command_table.rs keeps it in the guide (docs/guide/src/helpdesk-boundary.md).

use pam_tap_store::admin::CommandRule;
use pam_tap_store::operator::Role;

/// Arguments only root may supply to any command: an operator runs under the system policy, so
/// they cannot bring their own roles or database (`--config`, or `PAM_TAP_CONFIG`).
pub const GLOBAL_ROOT_ARGS: &[&str] = &["config"];

pub const COMMAND_TABLE: &[CommandRule] = &[
    CommandRule {
        path: &["init"],
        least: Role::Root,
        root_args: &[],
        why: "creates the database and the config file as root",
    },
    CommandRule {
        path: &["issue"],
        least: Role::Issuer,
        root_args: &[],
        why: "mints a pass (and resets a password) for a user the role may act on; --csv is read with the operator's own rights",
    },
    CommandRule {
        path: &["list"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads the passes",
    },
    CommandRule {
        path: &["show"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads one user's pass (and settles a dead reset, as any touch does)",
    },
    CommandRule {
        path: &["status"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads whether one user's pass would log in, and why not (settles nothing)",
    },
    CommandRule {
        path: &["revoke"],
        least: Role::Issuer,
        root_args: &[],
        why: "ends a pass of a user the role may act on",
    },
    CommandRule {
        path: &["unlock"],
        least: Role::Issuer,
        root_args: &[],
        why: "ends the rest of a pass of a user the role may act on",
    },
    CommandRule {
        path: &["purge"],
        least: Role::PrivilegedIssuer,
        root_args: &[],
        why: "deletes ended passes of every user",
    },
    CommandRule {
        path: &["log"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads the audit log",
    },
    CommandRule {
        path: &["migrate"],
        least: Role::Root,
        root_args: &["to"],
        why: "connects to any database it is given and copies every pass into it",
    },
    CommandRule {
        path: &["hosts", "list"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads which database role is which fleet host",
    },
    CommandRule {
        path: &["hosts", "bind"],
        least: Role::Root,
        root_args: &[],
        why: "decides which host a database role acts as in the fleet store",
    },
    CommandRule {
        path: &["hosts", "unbind"],
        least: Role::Root,
        root_args: &[],
        why: "stops a host's logins with a pass",
    },
    CommandRule {
        path: &["keys", "list"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads the enrolled SSH keys (public keys, never a secret)",
    },
    CommandRule {
        path: &["keys", "revoke"],
        least: Role::Issuer,
        root_args: &[],
        why: "removes an enrolled SSH key of a user the role may act on",
    },
    CommandRule {
        path: &["policy"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads the policy (secrets redacted)",
    },
    CommandRule {
        path: &["vocabulary"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads the words pam_tap uses and what the caller's role may run",
    },
    CommandRule {
        path: &["approve"],
        least: Role::Issuer,
        root_args: &[],
        why: "approves another operator's request for a pass for a user the role may act on",
    },
    CommandRule {
        path: &["deny"],
        least: Role::Issuer,
        root_args: &[],
        why: "denies another operator's request for a pass for a user the role may act on",
    },
    CommandRule {
        path: &["collect"],
        least: Role::Issuer,
        root_args: &[],
        why: "mints the pass of the operator's own approved request",
    },
    CommandRule {
        path: &["requests"],
        least: Role::Viewer,
        root_args: &[],
        why: "reads the requests for a pass waiting for a decision or a collection",
    },
    CommandRule {
        path: &["doctor"],
        least: Role::Root,
        root_args: &["root"],
        why: "reads and reports on any directory tree as root",
    },
];
