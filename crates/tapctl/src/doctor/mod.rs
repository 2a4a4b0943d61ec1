//! `tapctl doctor`: checks the things that lock people out or let strangers in, each with a one-line
//! fix. It only reads: files, the PAM stacks, sshd's settings and the database (opened read-only).
//!
//! Every path is resolved under [`Options::root`], so a test can point the doctor at a fixture tree;
//! the clock is a parameter of [`checks`].

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use pam_tap_base::safefile::Trust;
use pam_tap_core::config::{Database, Policy, DEFAULT_CONFIG};

mod clock;
mod display_managers;
mod files;
mod fleet;
mod key_only;
mod pam_stack;
pub mod pam_text;
#[cfg(test)]
mod parser_tests;
mod replication;
mod sshd;
pub mod sshd_text;
#[cfg(test)]
mod tests;

use clock::*;
use files::*;
use pam_stack::*;
use pam_tap_store::SCHEMA_VERSION;
use pam_text::*;
use sshd::*;
use sshd_text::*;

/// No pam_tap was built before this time (2026-11-01T00:00:00Z): a clock before it is wrong.
const BUILD_FLOOR: i64 = 1_793_491_200;

/// Where PAM looks for modules named without a path.
const MODULE_DIRS: [&str; 4] = [
    "usr/lib/x86_64-linux-gnu/security",
    "lib/x86_64-linux-gnu/security",
    "usr/lib64/security",
    "lib/security",
];

/// The services whose stacks decide most logins (Debian's common-* and Fedora's *-auth first).
const SERVICES: [&str; 8] = [
    "common-auth",
    "common-password",
    "system-auth",
    "password-auth",
    "sshd",
    "login",
    "su",
    "sudo",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// One finding: what was checked, how it stands, and the one line that fixes it.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(check: &str, status: Level, message: impl Into<String>, fix: Option<String>) -> Self {
        Self {
            check: check.to_owned(),
            status,
            message: message.into(),
            fix,
        }
    }
    fn ok(check: &str, message: impl Into<String>) -> Self {
        Self::new(check, Level::Ok, message, None)
    }
    fn warn(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Level::Warn, message, Some(fix.into()))
    }
    fn fail(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Level::Fail, message, Some(fix.into()))
    }
}

/// How sshd's effective settings are found.
#[derive(Clone, Debug)]
pub enum Sshd {
    /// Ask `sshd -T`, falling back to reading sshd_config under the root.
    Ask,
    /// Read `etc/ssh/sshd_config` (and its Includes) under the root only.
    ConfigFile,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// The policy file, as tapctl was given it (absolute, not re-rooted).
    pub config: PathBuf,
    /// Prefix for every system path (`/` normally; a fixture tree in tests). The database path
    /// named in the config is looked up under it too.
    pub root: PathBuf,
    pub sshd: Sshd,
    /// The earliest plausible time (seconds since the epoch); an earlier clock is wrong.
    pub clock_floor: i64,
    /// Whose files count as trusted: root's, as the module's (a fixture test's own user's).
    pub trust: Trust,
}

impl Options {
    /// The installed system: root `/`, sshd asked, floor = the build floor or tapctl's own mtime.
    pub fn system(config: &Path) -> Self {
        let exe_time = std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| m.mtime())
            .unwrap_or(0);
        Self {
            config: config.to_path_buf(),
            root: PathBuf::from("/"),
            sshd: Sshd::Ask,
            clock_floor: BUILD_FLOOR.max(exe_time),
            trust: Trust::ROOT,
        }
    }

    fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.root.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    fn is_system_root(&self) -> bool {
        self.root == Path::new("/")
    }
}

/// Runs every check and prints them (text or JSON); returns the exit code: 1 if anything failed.
/// `root` re-roots every system path (for tests and for checking a mounted image); `now` is the
/// front end's one clock read, in seconds since the epoch.
pub fn run(config: &Path, root: Option<&Path>, json: bool, now: i64) -> i32 {
    let mut opts = Options::system(config);
    if let Some(r) = root {
        opts.root = r.to_path_buf();
        opts.sshd = Sshd::ConfigFile;
    }
    let found = checks(&opts, now);
    if json {
        println!("{}", to_json(&found));
    } else {
        print!("{}", render(&opts, &found));
    }
    exit_code(&found)
}

pub fn exit_code(found: &[Check]) -> i32 {
    i32::from(found.iter().any(|c| c.status == Level::Fail))
}

/// `{"checks":[{check,status,message,fix?}],"ok":N,"warn":N,"fail":N}`
pub fn to_json(found: &[Check]) -> String {
    let count = |l| found.iter().filter(|c| c.status == l).count();
    serde_json::json!({
        "checks": found,
        "ok": count(Level::Ok),
        "warn": count(Level::Warn),
        "fail": count(Level::Fail),
    })
    .to_string()
}

pub fn render(opts: &Options, found: &[Check]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "pam_tap doctor: {}", opts.config.display());
    for c in found {
        let _ = writeln!(out, "  {:<4}  {:<22} {}", c.status.label(), c.check, c.message);
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "  {:<4}  {:<22} fix: {fix}", "", "");
        }
    }
    let count = |l| found.iter().filter(|c| c.status == l).count();
    let _ = writeln!(
        out,
        "{} ok, {} warning(s), {} failure(s)",
        count(Level::Ok),
        count(Level::Warn),
        count(Level::Fail)
    );
    out
}

/// Every check, in the order a reader fixes them: policy, database, module, PAM stacks, sshd, clock.
pub fn checks(opts: &Options, now: i64) -> Vec<Check> {
    let mut out = Vec::new();
    let policy = check_config(opts, &mut out);
    let high_water = policy.as_ref().and_then(|p| match &p.database {
        // The database's clock decides for a fleet store: no high-water mark to hold this clock to.
        Database::Postgres(c) => {
            fleet::check_fleet_store(c, &p.host_name, fleet::pam_tap_wired(opts), &mut out);
            check_host_store(opts, p, &mut out);
            None
        }
        Database::Sqlite(_) => check_database(opts, p, &mut out),
    });
    check_module(opts, &mut out);
    check_pam(opts, policy.as_ref(), &mut out);
    display_managers::check_display_managers(opts, &mut out);
    check_sshd(opts, &mut out);
    key_only::check_key_only(opts, &mut out);
    check_clock(opts, now, high_water, &mut out);
    out
}
