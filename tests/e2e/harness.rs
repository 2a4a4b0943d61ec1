//! Harness for the end-to-end tests: throwaway users, a private PAM configuration, a private sshd on
//! loopback, and real clients (ssh, login, su) driven on a pty by `tests/e2e/drive.exp`.
//!
//! Nothing on the host is edited. Each test gets a root-only temp dir holding a copy of /etc/pam.d with
//! pam_tap wired into common-auth and common-password (the way a pam-auth-update profile would), and every
//! program under test runs in a private mount namespace (`unshare -m`) where that copy is bind-mounted over
//! /etc/pam.d. That is also how `passwd`, which sshd starts for a password-method login, sees pam_tap.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The PAM service name of the private sshd (the program name of its copy).
pub const SSHD_SERVICE: &str = "sshd-tape2e";

pub use crate::support::accounts::User;
use crate::support::free_port;
pub use crate::support::paths::{module, tapctl, tool};
pub use crate::support::pty::with_pamd;
pub use crate::support::site::Site;

mod enroll;
mod enroll_fleet;
mod pam_dir;
mod pty;
mod sshd;
pub use enroll::*;
pub use enroll_fleet::*;
pub use pam_dir::*;
pub use pty::*;
pub use sshd::*;

/// True when the tests can run; prints a loud reason when they cannot (not root).
pub fn can_run(test: &str) -> bool {
    if !crate::support::root_or_skip(
        test,
        "the end-to-end tests create users, run a private sshd and mount a private /etc/pam.d",
    ) {
        return false;
    }
    for t in [
        "sshd",
        "ssh",
        "ssh-keygen",
        "expect",
        "unshare",
        "setpriv",
        "login",
        "su",
        "passwd",
        "useradd",
        "userdel",
        "chpasswd",
    ] {
        tool(t); // panics with the package to install when missing
    }
    true
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A root-owned 0700 directory under cargo's target tmp dir. Holds the config, database, pam.d
/// copy, sshd files.
pub use crate::support::site::PrivateDir as Scratch;

pub fn scratch() -> Scratch {
    Scratch::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// Consecutive wrong answers that lock a pass in these tests (policy `max_failures`).
pub const MAX_FAILURES: u32 = 3;

/// The services the clients and greeters under test use.
pub const SERVICES: [&str; 8] = [
    SSHD_SERVICE,
    "login",
    "su",
    "su-l",
    "passwd",
    "lightdm",
    "gdm-password",
    "sddm",
];

/// The site every client test logs in to: [`SERVICES`], `max_failures` [`MAX_FAILURES`], its
/// private copy of /etc/pam.d with pam_tap wired in (see [`debian_pamd`]), tapctl runs holding the
/// accounts lock (a reset pass runs chpasswd while other tests add users).
pub fn tap() -> Site {
    tap_with("")
}

/// [`tap`] with `extra` appended to the config (whole TOML tables, e.g.
/// "[handoff]\nrelogin = true\n").
pub fn tap_with(extra: &str) -> Site {
    let site = Site::builder()
        .under(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .services(&SERVICES)
        .policy(&format!("[pass]\nmax_failures = {MAX_FAILURES}\n{extra}"))
        .accounts_lock()
        .build();
    debian_pamd(&site.dir, Stack::WithTap, &site.module_args(""));
    site
}

impl Site {
    /// Like [`assert_drove`], with pam_tap's syslog lines in the failure message.
    #[track_caller]
    pub fn assert_drove(&self, t: &Transcript, what: &str, sshd: Option<&Sshd>) {
        if t.code != 0 || t.failed_to_drive() {
            panic!(
                "{what}: exit {}\n--- terminal ---\n{}\n--- sshd -D -e ---\n{}\n--- pam_tap syslog ---\n{}",
                t.code,
                t.text,
                sshd.map(|s| s.log_text()).unwrap_or_default(),
                self.log.text()
            );
        }
    }
}

/// A string shaped like a pass (same alphabet and length) that is not `pass`.
pub fn wrong_pass(pass: &str) -> String {
    const ALPHABET: &str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    pass.chars()
        .map(|c| {
            let i = ALPHABET.find(c).unwrap_or(0);
            ALPHABET.as_bytes()[(i + 1) % ALPHABET.len()] as char
        })
        .collect()
}

/// Keeps what a flow showed on the terminal: printed (see it with `--nocapture`) and written to
/// $CARGO_TARGET_TMPDIR/e2e-transcripts/NAME.txt.
pub fn keep_transcript(name: &str, parts: &[(&str, &Transcript)]) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-transcripts");
    fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for (title, t) in parts {
        text.push_str(&format!("### {title}\n\n```\n{}\n```\n\n", t.screen()));
    }
    println!("{text}");
    fs::write(dir.join(format!("{name}.md")), text).unwrap();
}
