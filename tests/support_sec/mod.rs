//! The security suite's own helpers over tests/support: its stacks (pam_tap alone, or before
//! pam_unix), the secrets scan over syslog and audit rows, `serial()`, and the figures file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests of one file run one at a time: they time things, saturate the CPUs, or mount.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

use crate::support::accounts::Account;
use crate::support::drive::{feed, Run};
use crate::support::paths::target_dir;
use crate::support::site::{module_line, PrivateDir, Site};

pub fn sec_probe() -> PathBuf {
    crate::support::paths::example("sec_probe")
}

/// A throwaway local account (no home, no login shell), deleted on drop.
pub struct TempUser(Account);

impl TempUser {
    pub fn new() -> Self {
        TempUser(Account::create("ts", false, "/usr/sbin/nologin"))
    }

    /// With a local password pam_unix accepts.
    pub fn with_password(pw: &str) -> Self {
        let u = Self::new();
        u.0.set_password(pw);
        u
    }
}

impl std::ops::Deref for TempUser {
    type Target = Account;
    fn deref(&self) -> &Account {
        &self.0
    }
}

/// The services the suite's stacks use.
const SERVICES: [&str; 9] = [
    "only", "full", "crash", "calm", "boom", "race", "racef", "login", "sshd",
];

/// The suite's private pam_tap installation (see `support::site::Site`), remembering every pass it
/// issued for the secrets scan.
pub struct Fixture {
    site: Site,
    /// Every pass issued through this fixture (normalised), for the secrets scan.
    pub passes: Vec<String>,
    name: String,
}

impl std::ops::Deref for Fixture {
    type Target = Site;
    fn deref(&self) -> &Site {
        &self.site
    }
}

impl std::ops::DerefMut for Fixture {
    fn deref_mut(&mut self) -> &mut Site {
        &mut self.site
    }
}

impl Fixture {
    /// `policy`: extra TOML after `enabled` and `database` (sections allowed).
    pub fn new(name: &str, policy: &str) -> Self {
        Fixture {
            site: Site::new(PrivateDir::new(), &SERVICES, policy),
            passes: vec![],
            name: name.to_string(),
        }
    }

    pub fn write_policy(&self, policy: &str) {
        self.site.write_config(policy);
    }

    /// A stack where pam_tap decides alone: its own return code is the result.
    pub fn stack_only(&self, service: &str, extra: &str) {
        let m = module_line(&self.module_args(extra));
        self.write_service(
            service,
            &format!("auth required {m}\naccount required pam_permit.so\nsession required pam_permit.so\n"),
        );
    }

    /// The documented stack: pam_tap, then pam_unix for anyone pam_tap does not let in.
    pub fn stack_full(&self, service: &str, extra: &str) {
        let m = module_line(&self.module_args(extra));
        self.write_service(
            service,
            &format!(
                "auth     [success=1 default=ignore] {m}\n\
                 auth     [success=ignore default=die] pam_unix.so try_first_pass\n\
                 auth     required   pam_permit.so\n\
                 account  required   pam_unix.so\n\
                 session  required   pam_permit.so\n"
            ),
        );
    }

    /// Issues a pass and returns it as printed.
    pub fn issue(&mut self, user: &str, extra: &[&str]) -> String {
        let mut args = vec!["--keep-password"];
        args.extend_from_slice(extra);
        let v = self.site.issue_json(user, &args);
        let pass = v["pass"].as_str().expect("pass").to_string();
        self.passes.push(pass.replace(['-', ' '], "").to_uppercase());
        pass
    }

    /// A connection to the database for inspection and tampering.
    pub fn sql(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(&self.db).expect("open db");
        c.busy_timeout(Duration::from_secs(30)).unwrap();
        c
    }

    pub fn integrity(&self) -> String {
        self.sql()
            .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    /// `sec_probe MODE` over this fixture's pam.d.
    pub fn probe(&self, mode: &str, service: &str, user: &std::ffi::OsStr, args: &[&str], stdin: &[u8]) -> Run {
        let mut cmd = Command::new(sec_probe());
        cmd.arg(mode).arg(&self.pamd).arg(service).arg(user).args(args);
        Run::from_output(feed(cmd, stdin))
    }

    /// Fails the test when a captured syslog line or an audit row holds a pass or a part of it
    /// (any 4 or more consecutive characters of a normalised pass). Records the tally.
    pub fn check_no_secrets(&self) -> (usize, usize) {
        let lines = self.log.settled_lines();
        // A fixture that broke its own database on purpose may leave nothing readable: no rows then.
        let rows: Vec<String> = rusqlite::Connection::open(&self.db)
            .and_then(|c| {
                let mut st = c.prepare(
                    "SELECT coalesce(event,'')||' '||coalesce(user,'')||' '||coalesce(operator,'')||' '||
                            coalesce(service,'')||' '||coalesce(rhost,'')||' '||coalesce(reason,'') FROM audit",
                )?;
                let r = st.query_map([], |r| r.get::<_, String>(0))?;
                r.collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_default();
        let leaks = leaked(&self.passes, lines.iter().chain(rows.iter()));
        record_logscan(&self.name, lines.len(), rows.len(), self.passes.len(), leaks.len());
        assert!(leaks.is_empty(), "a pass leaked into logs or audit: {leaks:?}");
        (lines.len(), rows.len())
    }
}

/// The texts that hold a 4-or-more-character piece of one of `passes` (case-sensitive: passes are
/// upper case, the module's lines are not; dashes and spaces are dropped before comparing). A piece
/// made only of digits counts from 6 characters: pids, times and user names in every line are
/// digits too, and 4 digits of a pass would match them by chance.
pub fn leaked<'a>(passes: &[String], texts: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out = vec![];
    for t in texts {
        let squeezed = t.replace(['-', ' '], "");
        for p in passes {
            let pieces = (4..=p.len()).flat_map(|n| (0..=p.len() - n).map(move |i| &p[i..i + n]));
            for piece in pieces {
                if piece.bytes().all(|b| b.is_ascii_digit()) && piece.len() < 6 {
                    continue;
                }
                if t.contains(piece) || squeezed.contains(piece) {
                    out.push(format!("{piece:?} in {t:?}"));
                    break;
                }
            }
        }
    }
    out
}

/// Answers for one prompt: `text` and a newline.
pub fn line(text: &str) -> Vec<u8> {
    format!("{text}\n").into_bytes()
}

fn locked_rewrite(file: &Path, key: &str, entry: &str) {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file.with_extension("lock"))
        .unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let old = std::fs::read_to_string(file).unwrap_or_default();
    let mut kept: Vec<&str> = old
        .lines()
        .filter(|l| !l.starts_with(&format!("{key} ")) && !l.starts_with(&format!("{key}\t")))
        .collect();
    kept.push(entry);
    kept.sort();
    std::fs::write(file, kept.join("\n") + "\n").unwrap();
}

/// Prints `FIGURE name: text` and keeps it in target/security-figures.txt (one line per figure).
pub fn figure(name: &str, text: &str) {
    println!("FIGURE {name}: {text}");
    figure_quiet(name, text);
}

/// Keeps the figure in the file only (a running total that every test updates).
pub fn figure_quiet(name: &str, text: &str) {
    let entry = format!("FIGURE {name}: {text}");
    locked_rewrite(
        &target_dir().join("security-figures.txt"),
        &format!("FIGURE {name}:"),
        &entry,
    );
}

fn record_logscan(test: &str, lines: usize, rows: usize, passes: usize, leaks: usize) {
    let file = target_dir().join("security-logscan.tsv");
    locked_rewrite(&file, test, &format!("{test}\t{lines}\t{rows}\t{passes}\t{leaks}"));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let (mut tl, mut tr, mut tp, mut tk, mut n) = (0, 0, 0, 0, 0);
    for l in text.lines() {
        let f: Vec<usize> = l.split('\t').skip(1).filter_map(|x| x.parse().ok()).collect();
        if f.len() == 4 {
            tl += f[0];
            tr += f[1];
            tp += f[2];
            tk += f[3];
            n += 1;
        }
    }
    println!("logscan {test}: syslog_lines={lines} audit_rows={rows} passes={passes} pass_fragments_found={leaks}");
    figure_quiet(
        "logs",
        &format!("fixtures={n} syslog_lines={tl} audit_rows={tr} passes={tp} pass_fragments_found={tk}"),
    );
}

/// Lines of the captured log at ALERT (`<81>`: authpriv.alert).
pub fn alerts(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.starts_with("<81>")).collect()
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
