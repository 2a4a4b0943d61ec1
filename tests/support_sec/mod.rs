//! Shared helpers of the security suite: a private PAM stack in a temp dir, throwaway users, a
//! syslog sink on a unix datagram socket, the built binaries, and the figures file.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests of one file run one at a time: they time things, saturate the CPUs, or mount.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

use crate::support::accounts::{unique, Account};
pub use crate::support::paths::{module, pam_drive, tapctl, target_dir};
/// The module's syslog lines, read with `settled_lines()` (datagrams still in flight arrive first).
pub use crate::support::syslog::Sink as LogSink;

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

/// The result lines a driver printed: `result OP=PAM_...`.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub status: std::process::ExitStatus,
    pub results: BTreeMap<String, String>,
}

impl Run {
    pub fn from_output(out: Output) -> Self {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let results = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("result "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Run {
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: out.status,
            results,
        }
    }

    pub fn auth(&self) -> &str {
        self.results.get("authenticate").map(String::as_str).unwrap_or("(none)")
    }

    /// Whether the process died of a signal.
    pub fn crashed(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal().is_some()
    }
}

/// A private pam_tap installation: config, database, pam.d directory and log socket in a 0700
/// temp dir owned by root.
pub struct Fixture {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub db: PathBuf,
    pub pamd: PathBuf,
    pub log: LogSink,
    /// Every pass issued through this fixture (normalised), for the secrets scan.
    pub passes: Vec<String>,
    name: String,
}

pub fn write_file(path: &Path, text: &[u8], mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Fixture {
    /// `policy`: extra TOML after `enabled` and `database` (sections allowed).
    pub fn new(name: &str, policy: &str) -> Self {
        let dir = PathBuf::from(format!("/tmp/{}", unique("pamtap-sec-")));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let config = dir.join("pam_tap.toml");
        let db = dir.join("db/tap.db");
        let pamd = dir.join("pam.d");
        std::fs::create_dir(&pamd).unwrap();
        let log = LogSink::bind(dir.join("log.sock"));
        let f = Fixture {
            config,
            db,
            pamd,
            log,
            passes: vec![],
            name: name.to_string(),
            dir,
        };
        f.write_policy(policy);
        let out = f.tapctl(&["init"]);
        assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
        f
    }

    pub fn write_policy(&self, policy: &str) {
        // The services the suite's stacks use, unless the policy names its own.
        let services = if policy.lines().any(|l| l.trim_start().starts_with("services")) {
            String::new()
        } else {
            "services = [\"only\", \"full\", \"crash\", \"calm\", \"boom\", \"race\", \"racef\", \"login\", \"sshd\"]\n"
                .to_string()
        };
        let text = format!(
            "enabled = true\ndatabase = \"{}\"\n{services}{policy}\n",
            self.db.display()
        );
        write_file(&self.config, text.as_bytes(), 0o600);
    }

    pub fn tapctl(&self, args: &[&str]) -> Output {
        Command::new(tapctl())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("SUDO_USER")
            .output()
            .expect("tapctl")
    }

    /// The module line's arguments: this fixture's config and log socket, plus `extra`.
    pub fn module_args(&self, extra: &str) -> String {
        format!(
            "config={} log_socket={} {extra}",
            self.config.display(),
            self.log.path.display()
        )
    }

    /// A stack where pam_tap decides alone: its own return code is the result.
    pub fn stack_only(&self, service: &str, extra: &str) {
        let text = format!(
            "auth required {} {}\naccount required pam_permit.so\nsession required pam_permit.so\n",
            module().display(),
            self.module_args(extra)
        );
        write_file(&self.pamd.join(service), text.as_bytes(), 0o644);
    }

    /// The documented stack: pam_tap, then pam_unix for anyone pam_tap does not let in.
    pub fn stack_full(&self, service: &str, extra: &str) {
        let m = module().display().to_string();
        let a = self.module_args(extra);
        let text = format!(
            "auth     [success=1 default=ignore] {m} {a}\n\
             auth     [success=ignore default=die] pam_unix.so try_first_pass\n\
             auth     required   pam_permit.so\n\
             account  required   pam_unix.so\n\
             session  required   pam_permit.so\n"
        );
        write_file(&self.pamd.join(service), text.as_bytes(), 0o644);
    }

    /// Issues a pass and returns it as printed.
    pub fn issue(&mut self, user: &str, extra: &[&str]) -> String {
        let mut args = vec!["issue", user, "--json", "--keep-password"];
        args.extend_from_slice(extra);
        let out = self.tapctl(&args);
        assert!(
            out.status.success(),
            "issue {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("issue --json");
        let pass = v["pass"].as_str().expect("pass").to_string();
        self.passes.push(pass.replace(['-', ' '], "").to_uppercase());
        pass
    }

    pub fn show(&self, user: &str) -> serde_json::Value {
        let out = self.tapctl(&["show", user, "--json"]);
        assert!(out.status.success(), "show: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("show --json")
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

    /// `pam_drive --confdir` with `stdin` as the answers.
    pub fn drive(&self, service: &str, user: &str, ops: &[&str], stdin: &[u8]) -> Run {
        let mut cmd = Command::new(pam_drive());
        cmd.arg("--confdir").arg(&self.pamd).arg(service).arg(user).args(ops);
        Run::from_output(feed(cmd, stdin))
    }

    pub fn drive_cmd(&self, service: &str, user: &str, ops: &[&str]) -> Command {
        let mut cmd = Command::new(pam_drive());
        cmd.arg("--confdir").arg(&self.pamd).arg(service).arg(user).args(ops);
        cmd
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

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
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

pub fn feed(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn driver");
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
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
