//! Programs driven on a pty by tests/e2e/drive.exp: the steps, the transcript, the checks.

use super::*;

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
