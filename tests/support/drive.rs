//! Running the PAM drivers (examples/pam_drive, and sec_probe, which prints the same `result` lines)
//! and reading what they printed: `prompt: TEXT` for each question and `result OP=PAM_...` for each
//! operation (`pam_start` when the handle could not be made).

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};

/// What a driver printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
    /// Every prompt, in order.
    pub prompts: Vec<String>,
    /// `(op, PAM_...)` in the order the driver ran them.
    pub results: Vec<(String, String)>,
}

/// What [`Run::result`] says of an operation the driver never reported (it died first, or
/// pam_start failed).
pub const NOT_RUN: &str = "(none)";

impl Run {
    pub fn from_output(out: Output) -> Run {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let prompts = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("prompt: "))
            .map(String::from)
            .collect();
        let results = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("result "))
            .filter_map(|l| l.split_once('='))
            .map(|(op, code)| (op.to_string(), code.to_string()))
            .collect();
        Run {
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: out.status,
            prompts,
            results,
        }
    }

    /// The code `op` returned, if the driver got that far.
    pub fn get(&self, op: &str) -> Option<&str> {
        self.results.iter().find(|(o, _)| o == op).map(|(_, r)| r.as_str())
    }

    /// The code `op` returned, or [`NOT_RUN`].
    pub fn result(&self, op: &str) -> &str {
        self.get(op).unwrap_or(NOT_RUN)
    }

    pub fn auth(&self) -> &str {
        self.result("authenticate")
    }

    /// Whether the process died of a signal.
    pub fn crashed(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal().is_some()
    }

    /// Panics unless the driver ran to the end or reported at least one result (a driver that
    /// could not even start says nothing a test could judge).
    #[track_caller]
    pub fn expect_ran(self) -> Run {
        assert!(
            self.status.success() || !self.results.is_empty(),
            "pam_drive failed: {} {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// `pam_drive --confdir CONFDIR SERVICE USER OPS...`, to be started by the caller.
pub fn pam_drive_cmd(confdir: &Path, service: &str, user: &str, ops: &[&str]) -> Command {
    drive_args(Command::new(super::paths::pam_drive()), confdir, service, user, ops)
}

/// `cmd` (pam_drive, or a wrapper such as setpriv or faketime whose last argument is a pam_drive)
/// with pam_drive's arguments added.
pub fn drive_args(mut cmd: Command, confdir: &Path, service: &str, user: &str, ops: &[&str]) -> Command {
    cmd.arg("--confdir").arg(confdir).arg(service).arg(user).args(ops);
    cmd
}

/// Runs `cmd` with `stdin` as its input (written from a thread, so a driver that stops reading
/// cannot block the test) and waits for it.
pub fn feed(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for the driver");
    let _ = writer.join();
    out
}

/// Runs `cmd` answering its prompts with `answers`, one a line.
pub fn run(cmd: Command, answers: &[&str]) -> Run {
    Run::from_output(feed(cmd, &lines(answers)))
}

/// `answers` as driver input: each followed by a newline.
pub fn lines(answers: &[&str]) -> Vec<u8> {
    answers.iter().flat_map(|a| format!("{a}\n").into_bytes()).collect()
}

/// The answer to one prompt: `text` and a newline.
pub fn line(text: &str) -> Vec<u8> {
    format!("{text}\n").into_bytes()
}
