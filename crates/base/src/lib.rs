//! pam_tap's shared base: what both front ends and every layer stand on, none of it about passes'
//! rules or stores. Errors, hashing, the pass alphabet, trusted files, text checks, times,
//! accounts and shadow's tools, syslog, sudo's answer, process identity, host names.

pub mod authorized_keys;
pub mod error;
pub mod hash;
pub mod host_name;
pub mod log;
pub mod passcode;
pub mod process;
pub mod safefile;
pub mod sudo;
pub mod text;
pub mod timefmt;
pub mod users;

/// Says loudly that a unit test could not run here. Written to stderr directly, past the test
/// harness's output capture, so a skipped test is never mistaken for a passing one.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "!!!!!!!! SKIPPED: {why}");
}
