//! Asks sudo itself whether it lets a user run commands as root: `sudo -n -l -U USER`, run as root
//! with a clean environment. pam_tap does not read sudoers: includes, aliases, LDAP and sssd rules
//! are sudo's to resolve.
//!
//! Inside the PAM module this runs in the login process: one child, started and reaped by its own
//! pid (no handler is installed or changed, no other child is waited for), every inherited
//! descriptor above stderr marked close-on-exec in the child, and a deadline after which the child
//! is killed and the answer counts as "yes".

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::users::plausible_name;

pub const SUDO: &str = "/usr/bin/sudo";
/// How long sudo may take (an LDAP sudoers may be slow); after that the user counts as an admin.
const DEADLINE: Duration = Duration::from_secs(5);
/// More output than this is not an answer pam_tap can read.
const MAX_OUTPUT: usize = 64 * 1024;

/// Whether sudo lets `user` run any command as root (or as any user, which includes root). Errors
/// and answers that cannot be read are `Err`: callers treat them as "yes". No sudo installed at
/// [`SUDO`] is "no": then sudo lets nobody do anything.
pub fn grants_root(user: &str) -> Result<bool> {
    if !plausible_name(user) || user.starts_with('-') {
        return Err(Error::Lookup(format!(
            "{user:?} is not a user name sudo can be asked about"
        )));
    }
    match std::fs::symlink_metadata(SUDO) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::Io(format!("{SUDO}: {e}"))),
        Ok(_) => {}
    }
    let out = run(user)?;
    parse(user, &out)
}

fn run(user: &str) -> Result<String> {
    let mut cmd = Command::new(SUDO);
    cmd.args(["-n", "-l", "-U", user])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // su and passwd run the stack with the caller's real uid: sudo must see root asking.
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(0).gid(0);
    }
    // SAFETY: runs in the child between fork and exec and only makes one async-signal-safe system
    // call. Marking (not closing) keeps std's own exec-error pipe working.
    unsafe {
        cmd.pre_exec(|| {
            let r = libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            if r != 0 {
                for fd in 3..1024 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::Io(format!("{SUDO}: {e}")))?;
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let read = read_until(&mut pipe, Instant::now() + DEADLINE);
    if read.is_err() {
        let _ = child.kill();
    }
    let status = child.wait();
    let text = read?;
    match status {
        // The caller ignores SIGCHLD: the kernel reaped the child; its output is the answer.
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
        Err(e) => return Err(Error::Io(format!("{SUDO}: {e}"))),
        Ok(_) => {}
    }
    Ok(text)
}

fn read_until(pipe: &mut std::process::ChildStdout, deadline: Instant) -> Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Io(format!("{SUDO} gave no answer within {DEADLINE:?}")));
        }
        let mut pfd = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Io(format!("{SUDO}: {e}")));
        }
        if n == 0 {
            continue;
        }
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(format!("{SUDO}: {e}"))),
        }
        if buf.len() > MAX_OUTPUT {
            return Err(Error::Io(format!("{SUDO} said more than {MAX_OUTPUT} bytes")));
        }
    }
    String::from_utf8(buf).map_err(|_| Error::Io(format!("{SUDO} gave an answer that is not UTF-8")))
}

/// Reads `sudo -l -U USER`'s answer. "not allowed" is no; a list is yes when any entry's run-as
/// user list could include root; anything else is an error.
pub fn parse(user: &str, text: &str) -> Result<bool> {
    let not_allowed = format!("User {user} is not allowed to run sudo on ");
    let allowed = format!("User {user} may run the following commands on ");
    let mut lines = text.lines();
    if text.lines().any(|l| l.starts_with(&not_allowed)) {
        return Ok(false);
    }
    if !lines.any(|l| l.starts_with(&allowed)) {
        return Err(Error::Lookup(format!("unexpected answer from {SUDO} -l")));
    }
    let mut entries = 0;
    for l in lines.map(str::trim).filter(|l| !l.is_empty()) {
        entries += 1;
        let Some(spec) = l.strip_prefix('(').and_then(|r| r.split_once(')')).map(|(s, _)| s) else {
            // A line this parser does not know (a newer sudo's format): assume the worst.
            return Ok(true);
        };
        let users = spec.split_once(':').map_or(spec, |(u, _)| u);
        if users.split(',').map(str::trim).any(may_be_root) {
            return Ok(true);
        }
    }
    if entries == 0 {
        return Err(Error::Lookup(format!("{SUDO} -l listed no entries")));
    }
    Ok(false)
}

/// A run-as user that is root, could be, or cannot be told apart from it.
fn may_be_root(runas: &str) -> bool {
    if runas.is_empty() || runas == "ALL" || runas == "root" {
        return true;
    }
    let plain = runas
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !plain {
        // #uid, %group, +netgroup, !negation, aliases with odd characters: assume the worst.
        return true;
    }
    match nix::unistd::User::from_name(runas) {
        Ok(Some(u)) => u.uid.is_root(),
        // An alias name (upper case by sudoers' rules) or an unknown user: assume the worst.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sudos_answers_conservatively() {
        let no = "User bob is not allowed to run sudo on host.\n";
        assert!(!parse("bob", no).unwrap());
        let yes = "Matching Defaults entries for bob on host:\n    env_reset, secure_path=/usr/bin\n\n\
                   User bob may run the following commands on host:\n    (ALL : ALL) ALL\n";
        assert!(parse("bob", yes).unwrap());
        let root_one = "User bob may run the following commands on host:\n    (root) /usr/sbin/tapctl\n";
        assert!(parse("bob", root_one).unwrap());
        let tagged = "User bob may run the following commands on host:\n    (root) NOPASSWD: /bin/true\n";
        assert!(parse("bob", tagged).unwrap());
        let nobody = "User bob may run the following commands on host:\n    (nobody) /bin/true\n";
        assert!(!parse("bob", nobody).unwrap());
        let group = "User bob may run the following commands on host:\n    (%wheel) /bin/true\n";
        assert!(parse("bob", group).unwrap());
        let uid0 = "User bob may run the following commands on host:\n    (#0) /bin/true\n";
        assert!(parse("bob", uid0).unwrap());
        let odd = "User bob may run the following commands on host:\n    Sudoers entry: x\n";
        assert!(parse("bob", odd).unwrap());
        // Someone else's answer, an error text, or nothing: not an answer.
        assert!(parse("bob", "User alice is not allowed to run sudo on host.\n").is_err());
        assert!(parse("bob", "sudo: unknown user bob\n").is_err());
        assert!(parse("bob", "").is_err());
        assert!(grants_root("-x").is_err());
    }
}
