//! Programs driven on a pty by tests/e2e/drive.exp (tests/support/pty.rs): the e2e checks.

use super::*;

pub use crate::support::pty::{drive, expect, send, shell_as, Step, Transcript};

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
