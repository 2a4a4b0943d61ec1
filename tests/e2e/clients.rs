//! First login with a Temporary Access Pass through the real clients (issue 3): OpenSSH in
//! keyboard-interactive and password mode, /bin/login on a pty, and su, each driven on a pty the way a
//! person types. See tests/e2e/harness.rs for how the private sshd and the private PAM stack are set up
//! without touching the host's /etc/pam.d or sshd_config.
//!
//! Runs only as root (skips loudly otherwise). The module must be built first (`cargo build`).

// These tests drive real programs against the real clock (pass windows, the grace window).
#![allow(clippy::disallowed_methods)]

use crate::harness::*;
use pam_tap_core::login::CHOOSE_NEW_PASSWORD;

/// The harness itself, with pam_unix only.
mod baseline;
/// /bin/login and su.
mod console;
/// Key-only servers: a pass enrolls an SSH key.
mod key_enrollment;
/// Key-only servers on a fleet store.
mod key_enrollment_fleet;
/// Refusals, what cannot work, users without a pass.
mod refusals;
/// Security keys (`sk-` keys of the soft security key) through ssh-keygen, ssh and sshd.
mod security_key;
/// Key-only servers: security keys enroll, and policy can demand them.
mod security_key_enrollment;
/// OpenSSH in both modes.
mod ssh;

/// argv for an interactive shell of `caller` (an unprivileged user) in the private PAM namespace.
fn su_argv(pamd: &std::path::Path, caller: &User) -> Vec<String> {
    let shell = crate::support::pty::user_shell(&caller.name);
    with_pamd(pamd, &shell.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `caller` types `su - target` with `secret`, then `between` (tests/support/pty.rs `su_steps`).
fn su_steps(caller: &User, target: &User, secret: &str, between: &[Step]) -> Vec<Step> {
    crate::support::pty::su_steps(caller.uid(), &target.name, secret, between)
}

/// The account's password as set at useradd time, before any pass (reset by an issue).
const OWN: &str = "Own7-before-Tap";
/// The password the user chooses at first login.
const NEW: &str = "New8-after-Tap";

/// Days field 3 of a shadow line ("last change"): 0 means a change is forced.
fn lastchg(shadow: &str) -> &str {
    shadow.split(':').nth(2).unwrap_or("")
}

/// Steps for one ssh login attempt that must be refused.
fn refused_ssh(secret: &str) -> Vec<Step> {
    vec![expect("assword: $"), send(secret), Step::Eof]
}

#[track_caller]
fn assert_refused(t: &Transcript, want: &str, what: &str, sshd: Option<&Sshd>) {
    if t.code == 0 || t.failed_to_drive() || !t.text.contains(want) {
        panic!(
            "{what}: expected a refusal with {want:?}; exit {}\n--- terminal ---\n{}\n--- sshd ---\n{}",
            t.code,
            t.text,
            sshd.map(|s| s.log_text()).unwrap_or_default()
        );
    }
}

/// The least time between two logins with one pass inside the grace window (pam_tap's
/// GRACE_RELOGIN_GAP, 10 s, plus a second for the clock's whole seconds).
const RELOGIN_GAP: chrono::Duration = chrono::Duration::seconds(11);

/// Waits until a re-login with the pass may be accepted: RELOGIN_GAP after its last use.
fn wait_out_relogin_gap(tap: &Site, user: &User) {
    let last = tap
        .log_json(user)
        .iter()
        .filter(|e| matches!(e["event"].as_str(), Some("used" | "grace_used")))
        // `log --json` gives `at` in Unix seconds; accept RFC 3339 too, as `show --json` uses.
        .filter_map(|e| match &e["at"] {
            serde_json::Value::Number(n) => chrono::DateTime::from_timestamp(n.as_i64()?, 0),
            serde_json::Value::String(t) => chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.to_utc()),
            _ => None,
        })
        .max()
        .expect("the pass was never used");
    let until = last + RELOGIN_GAP;
    assert!(
        until < chrono::Utc::now() + chrono::Duration::seconds(30),
        "last use {last}"
    );
    while chrono::Utc::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
