//! One host: tapctl through its real binary (the commands, the helpdesk's front door and boundary,
//! bulk issue, the shadow side of a reset pass) and the built module under the real libpam.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

/// Two-person approval: request, approve or deny, collect once, lapse; through the real sudo.
mod approval;
/// `tapctl issue --csv`.
mod bulk_issue;
/// `tapctl issue --csv`'s progress line at a terminal.
mod bulk_progress;
/// The one command table: every command as every role, refusals before any side effect.
mod command_table;
/// Every command, the role rules, refusals and JSON shapes.
mod commands;
/// Enrollment passes and the keys database.
mod enroll_issue;
/// The guide under docs/guide: links, anchors and images resolve; every page is in SUMMARY.md.
mod guide;
/// Roles cannot climb; locked accounts; back-off; sudo and `--service`.
mod helpdesk_boundary;
/// What operators name, who they are, whose policy, escaped text.
mod helpdesk_front;
/// The crates are the layers: what the module links, no upward edges, no module cycles.
mod layers;
/// Files an operator owns, and the real sudo with a private sudoers rule.
mod operators;
/// Shadow and store agree, even when tapctl is killed; no side door after a reset pass.
mod reset_shadow;
/// The module under the real libpam: its stack with pam_unix, the docs' pam.d lines, its symbols.
mod stack;
/// `tapctl status` and the module agree on every state a pass can be in.
mod status;
