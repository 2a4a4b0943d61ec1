//! tapctl, the issuing CLI of pam_tap, as a library: its command line ([`cli`]) and the one
//! command table ([`table`]) that the store's door ([`pam_tap_store::admin::admit`]) judges every
//! run by, a file per command, rendering, bulk issue, and doctor with its pam.d and sshd_config
//! readers. pam_tap.so links none of it.

pub mod admin;
pub mod admitted;
pub mod app;
mod as_user;
pub mod boundary;
pub mod bulk;
/// The command line, from which the man page and completions are generated (examples/gen_docs.rs).
pub mod cli;
/// One file per command.
pub mod commands;
pub mod doctor;
pub mod invoker;
pub mod pamd;
mod progress;
pub mod render;
pub mod shield;
/// The one command table, rendered into tapctl(8) and the guide's "Helpdesk boundary" page.
pub mod table;
