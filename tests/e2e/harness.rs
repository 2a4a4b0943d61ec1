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
/// Every wait on a prompt is bounded by this.
pub const STEP_TIMEOUT_SECS: u32 = 20;

/// Serialises useradd/userdel/chpasswd/tapctl-issue: the shadow tools take a lock on /etc/passwd and
/// /etc/shadow and give up quickly when another test holds it.
pub use crate::support::accounts::lock as accounts_lock;
use crate::support::accounts::Account;
use crate::support::free_port;
pub use crate::support::paths::{module, tapctl, tool};
use crate::support::site::Site;

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

pub fn drive_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/drive.exp")
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

// ---------------------------------------------------------------------------------------------------
// Users

/// A throwaway local account (`tape2e…`, a home, bash), removed with its home on drop.
pub struct User(Account);

impl User {
    pub fn new() -> User {
        User(Account::create("tape2e", true, "/bin/bash"))
    }

    pub fn with_password(pw: &str) -> User {
        let u = User::new();
        u.set_password(pw);
        u
    }
}

impl std::ops::Deref for User {
    type Target = Account;
    fn deref(&self) -> &Account {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------------
// PAM configuration

/// How the private common-auth / common-password are built.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stack {
    /// Debian 12's defaults, pam_unix only: proves the harness itself.
    UnixOnly,
    /// Debian 12's defaults with pam_tap inserted as Primary in Auth and Password.
    WithTap,
}

/// A private copy of /etc/pam.d. The services under test (sshd-tape2e, login, su, passwd) all
/// `@include` the common-* files written here.
pub struct PamDir {
    pub dir: PathBuf,
}

impl PamDir {
    pub fn new(scratch: &Scratch, stack: Stack, module_args: &str) -> PamDir {
        let dir = scratch.join("pam.d");
        fs::create_dir_all(&dir).unwrap();
        run_ok(Command::new(tool("cp")).arg("-a").arg("/etc/pam.d/.").arg(&dir));
        let w = |name: &str, text: String| fs::write(dir.join(name), text).unwrap();
        let (auth_tap, pw_tap, unix_pw_opts, unix_auth_opts) = match stack {
            Stack::UnixOnly => (String::new(), String::new(), "obscure yescrypt", "nullok"),
            Stack::WithTap => {
                let tap = module();
                (
                    format!("auth\t[success=2 default=ignore]\t{} {module_args}\n", tap.display()),
                    format!("password\trequisite\t\t\t{} {module_args}\n", tap.display()),
                    "obscure use_authtok try_first_pass yescrypt",
                    "nullok try_first_pass",
                )
            }
        };
        w(
            "common-auth",
            format!(
                "# pam_tap e2e: Debian 12 common-auth{}\n{auth_tap}\
                 auth\t[success=1 default=ignore]\tpam_unix.so {unix_auth_opts}\n\
                 auth\trequisite\t\t\tpam_deny.so\n\
                 auth\trequired\t\t\tpam_permit.so\n",
                if auth_tap.is_empty() { "" } else { " + pam_tap" }
            ),
        );
        w(
            "common-account",
            "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n\
             account\trequisite\t\t\tpam_deny.so\n\
             account\trequired\t\t\tpam_permit.so\n"
                .to_string(),
        );
        w(
            "common-password",
            format!(
                "# pam_tap e2e: Debian 12 common-password{}\n{pw_tap}\
                 password\t[success=1 default=ignore]\tpam_unix.so {unix_pw_opts}\n\
                 password\trequisite\t\t\tpam_deny.so\n\
                 password\trequired\t\t\tpam_permit.so\n",
                if pw_tap.is_empty() { "" } else { " + pam_tap" }
            ),
        );
        w(
            "common-session",
            "session\t[default=1]\t\t\tpam_permit.so\n\
             session\trequisite\t\t\tpam_deny.so\n\
             session\trequired\t\t\tpam_permit.so\n\
             session\trequired\tpam_unix.so\n"
                .to_string(),
        );
        // The services: Debian 12's own files, which include the common-* above.
        let sshd = "@include common-auth\n\
                    account    required     pam_nologin.so\n\
                    @include common-account\n\
                    session    required     pam_loginuid.so\n\
                    session    optional     pam_keyinit.so force revoke\n\
                    @include common-session\n\
                    session    required     pam_limits.so\n\
                    session    required     pam_env.so\n\
                    @include common-password\n";
        w(SSHD_SERVICE, sshd.to_string());
        w(
            "login",
            "auth       optional   pam_faildelay.so  delay=3000000\n\
             auth       requisite  pam_nologin.so\n\
             session    required   pam_loginuid.so\n\
             session    required   pam_env.so readenv=1\n\
             @include common-auth\n\
             session    required   pam_limits.so\n\
             session    optional   pam_lastlog.so\n\
             session    optional   pam_keyinit.so force revoke\n\
             @include common-account\n\
             @include common-session\n\
             @include common-password\n"
                .to_string(),
        );
        w(
            "su",
            "auth       sufficient pam_rootok.so\n\
             session    required   pam_env.so readenv=1\n\
             session    required   pam_limits.so\n\
             @include common-auth\n\
             @include common-account\n\
             @include common-session\n"
                .to_string(),
        );
        w("passwd", "@include common-password\n".to_string());
        PamDir { dir }
    }

    /// argv prefix that runs a program with this pam.d mounted over /etc/pam.d, in a private mount
    /// namespace (the host's /etc/pam.d is never touched). `exec` keeps the program's pid.
    pub fn wrap(&self, argv: &[&str]) -> Vec<String> {
        let mut v = vec![
            tool("unshare").display().to_string(),
            "--mount".into(),
            "--propagation".into(),
            "private".into(),
            "/bin/sh".into(),
            "-c".into(),
            "mount --bind \"$0\" /etc/pam.d && exec \"$@\"".into(),
            self.dir.display().to_string(),
        ];
        v.extend(argv.iter().map(|s| s.to_string()));
        v
    }
}

// ---------------------------------------------------------------------------------------------------
// sshd

pub struct Sshd {
    child: Option<Child>,
    /// A client key pair in the scratch dir (used only by `SshMethod::KeyOnly`).
    pub client_key: PathBuf,
    pub method: SshMethod,
    pub port: u16,
    pub log: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SshMethod {
    /// `KbdInteractiveAuthentication yes`: PAM conversation during auth, chauthtok inside sshd.
    KeyboardInteractive,
    /// Debian's default `KbdInteractiveAuthentication no`: the password method; sshd runs passwd.
    Password,
    /// Public keys only (no password prompt at all): the user's key from `Sshd::authorize_key`.
    KeyOnly,
}

impl Sshd {
    pub fn start(scratch: &Scratch, pam: &PamDir, method: SshMethod) -> Sshd {
        // sshd's privilege-separation directory (created by openssh-server's tmpfiles at boot).
        if !Path::new("/run/sshd").exists() {
            fs::create_dir_all("/run/sshd").unwrap();
            fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755)).unwrap();
        }
        // Its program name is its PAM service name.
        let bin = scratch.join(SSHD_SERVICE);
        if !bin.exists() {
            fs::copy(tool("sshd"), &bin).unwrap();
            for key in ["hostkey", "client_key"] {
                run_ok(
                    Command::new(tool("ssh-keygen"))
                        .args(["-q", "-t", "ed25519", "-N", ""])
                        .arg("-f")
                        .arg(scratch.join(key)),
                );
            }
        }
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let config = scratch.join("sshd_config");
            let (kbdint, password, pubkey, authkeys) = match method {
                SshMethod::KeyboardInteractive => ("yes", "yes", "no", "none"),
                SshMethod::Password => ("no", "yes", "no", "none"),
                SshMethod::KeyOnly => ("no", "no", "yes", ".ssh/authorized_keys"),
            };
            let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/sshd_config.in"))
                .unwrap()
                .replace("@PORT@", &port.to_string())
                .replace("@HOSTKEY@", &scratch.join("hostkey").display().to_string())
                .replace("@KBDINT@", kbdint)
                .replace("@PASSWORD@", password)
                .replace("@PUBKEY@", pubkey)
                .replace("@AUTHKEYS@", authkeys);
            fs::write(&config, text).unwrap();
            let log = scratch.join(format!("sshd-{attempt}.log"));
            let argv = pam.wrap(&[bin.to_str().unwrap(), "-D", "-e", "-f", config.to_str().unwrap()]);
            let child = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let mut sshd = Sshd {
                child: Some(child),
                client_key: scratch.join("client_key"),
                method,
                port,
                log: log.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let text = fs::read_to_string(&log).unwrap_or_default();
                if text.contains("Server listening on 127.0.0.1") {
                    return sshd;
                }
                let exited = sshd.child.as_mut().unwrap().try_wait().unwrap().is_some();
                if exited || Instant::now() > deadline {
                    last_log = text;
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            drop(sshd);
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("private sshd did not start:\n{last_log}");
    }

    /// Puts the client key in `user`'s ~/.ssh/authorized_keys, owned by the user as sshd requires.
    pub fn authorize_key(&self, user: &User) {
        let home = PathBuf::from(format!("/home/{}", user.name));
        let ssh = home.join(".ssh");
        fs::create_dir_all(&ssh).unwrap();
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
        fs::copy(self.client_key.with_extension("pub"), ssh.join("authorized_keys")).unwrap();
        run_ok(
            Command::new(tool("chown"))
                .arg("-R")
                .arg(format!("{0}:{0}", user.name))
                .arg(&ssh),
        );
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `ssh` as a person runs it against this sshd (password prompts on the pty).
    pub fn ssh(&self, user: &str, extra: &[&str]) -> Vec<String> {
        let (preferred, pubkey) = match self.method {
            SshMethod::KeyboardInteractive => ("keyboard-interactive", "no"),
            SshMethod::Password => ("password", "no"),
            SshMethod::KeyOnly => ("publickey", "yes"),
        };
        let mut v: Vec<String> = vec![
            tool("ssh").display().to_string(),
            "-o".into(),
            format!("PreferredAuthentications={preferred}"),
            "-o".into(),
            format!("PubkeyAuthentication={pubkey}"),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-i".into(),
            self.client_key.display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            "NumberOfPasswordPrompts=1".into(),
            format!("{user}@127.0.0.1"),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The pty driver

#[derive(Clone, Debug)]
pub enum Step {
    Expect(String),
    Send(String),
    Eof,
}

pub fn expect(re: &str) -> Step {
    Step::Expect(re.to_string())
}
pub fn send(text: &str) -> Step {
    Step::Send(text.to_string())
}

/// Steps that prove a shell is running as `user`, then leave it.
pub fn shell_as(user: &str) -> Vec<Step> {
    vec![
        expect(r"\$ $"),
        send("echo E2E-WHOAMI-$(id -un)"),
        expect(&format!(r"E2E-WHOAMI-{user}\r?\n")),
        expect(r"\$ $"),
        send("exit"),
        Step::Eof,
    ]
}

pub struct Transcript {
    /// Exit status of the program (from the `eof` step), or drive.exp's own failure code.
    pub code: i32,
    /// What appeared on the terminal (answers to password prompts are not echoed).
    pub text: String,
}

impl Transcript {
    /// The terminal text without the driver's own marker lines.
    pub fn screen(&self) -> String {
        self.text
            .lines()
            .filter(|l| !l.starts_with("E2E-EXIT") && !l.starts_with("E2E-DONE"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim_end()
            .to_string()
    }
    pub fn failed_to_drive(&self) -> bool {
        self.text.contains("E2E-TIMEOUT") || self.text.contains("E2E-EOF") || self.text.contains("E2E-BADSTEP")
    }
}

/// Run `argv` on a pty under drive.exp with the given steps. Bounded in time overall too.
pub fn drive(scratch: &Scratch, steps: &[Step], argv: &[String]) -> Transcript {
    let mut script = String::new();
    for s in steps {
        match s {
            Step::Expect(re) => script.push_str(&format!("expect {re}\n")),
            Step::Send(t) => script.push_str(&format!("send {t}\n")),
            Step::Eof => script.push_str("eof\n"),
        }
    }
    let stepfile = scratch.write_private(&format!("steps-{}", crate::support::accounts::unique("")), &script);
    let out_path = scratch.join(format!("drive-{}.out", crate::support::accounts::unique("")));
    let mut child = Command::new(tool("expect"))
        .arg("-f")
        .arg(drive_script())
        .arg(&stepfile)
        .arg(STEP_TIMEOUT_SECS.to_string())
        .args(argv)
        // No colours, no bracketed paste: a plain transcript.
        .env("TERM", "dumb")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(Stdio::from(
            fs::OpenOptions::new().append(true).open(&out_path).unwrap(),
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(STEP_TIMEOUT_SECS as u64 * 4);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "drive.exp overran its deadline; output so far:\n{}",
                fs::read_to_string(&out_path).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    let _ = fs::remove_file(&stepfile);
    let raw = fs::read(&out_path).unwrap();
    let text = String::from_utf8_lossy(&raw).replace('\r', "");
    Transcript {
        code: status.code().unwrap_or(255),
        text,
    }
}

/// Asserts a drive went through all its steps and the program exited 0.
#[track_caller]
pub fn assert_drove(t: &Transcript, what: &str, sshd: Option<&Sshd>) {
    if t.code != 0 || t.failed_to_drive() {
        panic!(
            "{what}: exit {}\n--- terminal ---\n{}\n--- sshd -D -e ---\n{}",
            t.code,
            t.text,
            sshd.map(|s| s.log_text()).unwrap_or_default()
        );
    }
}

/// Reads whole lines of a file until `pred` holds or the timeout passes.
pub fn wait_for_line(path: &Path, pred: impl Fn(&str) -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(f) = fs::File::open(path) {
            if BufReader::new(f).lines().map_while(Result::ok).any(|l| pred(&l)) {
                return true;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

// ---------------------------------------------------------------------------------------------------
// pam_tap: config, database, tapctl

/// A private pam_tap installation (see `support::site::Site`) in a scratch dir, the module wired
/// into a private copy of /etc/pam.d.
pub struct Tap {
    site: Site,
    pub pam: PamDir,
}

impl std::ops::Deref for Tap {
    type Target = Site;
    fn deref(&self) -> &Site {
        &self.site
    }
}

/// What `tapctl issue --json` printed.
pub struct Issued {
    pub pass: String,
    pub pass_id: i64,
    pub json: serde_json::Value,
}

/// Consecutive wrong answers that lock a pass in these tests (policy `max_failures`).
pub const MAX_FAILURES: u32 = 3;

/// The services the clients and greeters under test use.
const SERVICES: [&str; 8] = [
    SSHD_SERVICE,
    "login",
    "su",
    "su-l",
    "passwd",
    "lightdm",
    "gdm-password",
    "sddm",
];

impl Tap {
    pub fn new() -> Tap {
        Tap::with_config("")
    }

    /// `extra` is appended to the test config (whole TOML tables, e.g. "[handoff]\nrelogin = true\n").
    pub fn with_config(extra: &str) -> Tap {
        let policy = format!("[pass]\nmax_failures = {MAX_FAILURES}\n{extra}");
        let site = Site::new(scratch(), &SERVICES, &policy);
        let pam = PamDir::new(&site.dir, Stack::WithTap, &site.module_args(""));
        Tap { site, pam }
    }

    /// tapctl, which must succeed; its output. Holds the accounts lock (a reset pass runs chpasswd).
    pub fn tapctl_ok(&self, args: &[&str]) -> String {
        let _g = accounts_lock();
        run_ok(&mut self.tapctl_cmd(args, &[], None))
    }

    pub fn issue(&self, user: &User, extra: &[&str]) -> Issued {
        let json = {
            let _g = accounts_lock();
            self.issue_json(&user.name, extra)
        };
        Issued {
            pass: json["pass"].as_str().expect("pass").to_string(),
            pass_id: json["pass_id"].as_i64().expect("pass_id"),
            json,
        }
    }

    /// `tapctl log USER --json`: the audit events for one user, oldest first.
    pub fn audit(&self, user: &User) -> Vec<serde_json::Value> {
        let _g = accounts_lock();
        self.log_json(&user.name)
    }

    /// The events of `audit`, as "event" or "event:reason" words, for assertions and messages.
    pub fn events(&self, user: &User) -> Vec<String> {
        self.audit(user)
            .iter()
            .map(|e| match e["reason"].as_str() {
                Some(r) => format!("{}:{}", e["event"].as_str().unwrap_or("?"), r),
                None => e["event"].as_str().unwrap_or("?").to_string(),
            })
            .collect()
    }

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

    /// pam_tap's syslog lines that mention `user`.
    pub fn syslog_for(&self, user: &User) -> Vec<String> {
        let needle = format!("user={} ", user.name);
        self.log.lines().into_iter().filter(|l| l.contains(&needle)).collect()
    }

    pub fn show(&self, user: &User) -> serde_json::Value {
        let _g = accounts_lock();
        self.site.show(&user.name)
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
