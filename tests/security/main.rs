//! The security suite (`make test-security`): the built module under the real libpam, attacked the
//! way the guide's "Security" table (docs/guide/src/security.md) says, with its figures in
//! target/security-figures.txt. One test binary; the tests take `support::figures::serial()` because
//! they time things, saturate the CPUs or mount.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

/// A login killed with SIGKILL at any instant.
mod crash;
/// Full, read-only and vanishing storage; unsafe files refused before use.
mod fs;
/// Hostile answers, user names, configs and database rows.
mod input;
/// Descriptors, threads, signals and memory after a login.
mod leaks;
/// A panic never unwinds into the host.
mod panic;
/// One-time means once under racing logins.
mod race;
/// Equal timing for every wrong answer; the clock cannot revive a pass.
mod timing;
/// What a login's commit syncs to disk.
mod wal_sync;

use support::accounts::{User, UserBuilder};
use support::site::Site;

/// The services the suite's stacks use.
const SERVICES: [&str; 9] = [
    "only", "full", "crash", "calm", "boom", "race", "racef", "login", "sshd",
];

/// The suite's site: its services admitted, `policy` after `enabled` and `database` (tables
/// allowed), and every secrets scan's tally recorded under `name`.
fn site(name: &str, policy: &str) -> Site {
    Site::builder()
        .services(&SERVICES)
        .policy(policy)
        .scanned_as(name)
        .build()
}

/// The suite's throwaway user: no home, no login shell.
fn user() -> UserBuilder {
    User::no_shell()
}
