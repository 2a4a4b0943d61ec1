//! Programs driven on a pty the way a person types, by tests/e2e/drive.exp: the steps, the
//! transcript. The end-to-end clients (tests/e2e) and the fleet's `su` run (tests/fleet) use it.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::accounts::unique;
use super::paths::tool;

/// Every wait on a prompt is bounded by this.
pub const STEP_TIMEOUT_SECS: u32 = 20;

pub fn drive_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/drive.exp")
}

#[derive(Clone, Debug)]
pub enum Step {
    Expect(String),
    Send(String),
    Eof,
    /// Creates an empty file: the program reached this point.
    Mark(PathBuf),
    /// Waits until a file exists: the test did what it does at this point.
    Await(PathBuf),
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

/// Run `argv` on a pty under drive.exp with the given steps, the step file (it holds secrets) and
/// the output kept in `dir` (root's, 0700). Bounded in time overall too.
pub fn drive(dir: &Path, steps: &[Step], argv: &[String]) -> Transcript {
    let mut script = String::new();
    for s in steps {
        match s {
            Step::Expect(re) => script.push_str(&format!("expect {re}\n")),
            Step::Send(t) => script.push_str(&format!("send {t}\n")),
            Step::Eof => script.push_str("eof\n"),
            Step::Mark(p) => script.push_str(&format!("mark {}\n", p.display())),
            Step::Await(p) => script.push_str(&format!("await {}\n", p.display())),
        }
    }
    let stepfile = dir.join(format!("steps-{}", unique("")));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&stepfile)
        .unwrap();
    std::io::Write::write_all(&mut f, script.as_bytes()).unwrap();
    drop(f);
    let out_path = dir.join(format!("drive-{}.out", unique("")));
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

/// `argv` run with `pamd` mounted over /etc/pam.d, in a private mount namespace (the host's
/// /etc/pam.d is never touched). `exec` keeps the program's pid.
pub fn with_pamd(pamd: &Path, argv: &[&str]) -> Vec<String> {
    let mut v = vec![
        tool("unshare").display().to_string(),
        "--mount".into(),
        "--propagation".into(),
        "private".into(),
        "/bin/sh".into(),
        "-c".into(),
        "mount --bind \"$0\" /etc/pam.d && exec \"$@\"".into(),
        pamd.display().to_string(),
    ];
    v.extend(argv.iter().map(|s| s.to_string()));
    v
}

/// argv for an interactive shell of `caller` (an unprivileged user). setpriv sets no
/// `no_new_privs`: su typed there is setuid root with the caller's real uid, as from a login.
pub fn user_shell(caller: &str) -> Vec<String> {
    let setpriv = tool("setpriv").display().to_string();
    [
        setpriv.as_str(),
        "--reuid",
        caller,
        "--regid",
        caller,
        "--init-groups",
        "--reset-env",
        "/bin/bash",
        "--noprofile",
        "--norc",
        "-i",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The caller (uid `caller_uid`) types `su - target` in its shell, answers the password prompt
/// with `secret`, then `between`, then checks the shell is target's and leaves both shells.
pub fn su_steps(caller_uid: u32, target: &str, secret: &str, between: &[Step]) -> Vec<Step> {
    let mut steps = vec![
        expect(r"\$ $"),
        send("echo E2E-CALLER-$(id -u)"),
        expect(&format!(r"E2E-CALLER-{caller_uid}\r?\n")),
        send(&format!("su - {target}")),
        expect("Password: $"),
        send(secret),
    ];
    steps.extend_from_slice(between);
    steps.extend([
        expect(r"\$ $"),
        send("echo E2E-WHOAMI-$(id -un)"),
        expect(&format!(r"E2E-WHOAMI-{target}\r?\n")),
        send("exit"),
        expect(r"\$ $"),
        send("exit"),
        Step::Eof,
    ]);
    steps
}
