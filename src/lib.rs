//! pam_tap: Temporary Access Pass for Linux logins.
//!
//! One library serves both front ends: the PAM module (`src/pam/`, a thin FFI shell over
//! [`core`]) and `tapctl` (`src/bin/tapctl/`: its command line, rendering,
//! bulk issue and doctor, over [`admin`]; none of that is linked into the module). Nothing about passes, policy or storage is written twice.

pub mod admin;
pub mod config;
pub mod core;
pub mod error;
pub mod gate;
pub mod hash;
pub mod invoker;
pub mod log;
pub mod operator;
pub mod outcome;
pub mod pamd;
pub mod passcode;
pub mod reset;
pub mod store;
pub mod sudo;
pub mod text;
pub mod timefmt;
pub mod users;

mod pam;
pub mod safefile;

/// Says loudly that a unit test could not run here. Written to stderr directly, past the test
/// harness's output capture, so a skipped test is never mistaken for a passing one.
#[cfg(test)]
pub(crate) fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "!!!!!!!! SKIPPED: {why}");
}
