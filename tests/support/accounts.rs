//! Throwaway local users and groups, created and removed under one lock. useradd, usermod,
//! chpasswd and userdel all take /etc/passwd's lock: the tests of one binary wait on `lock()`, and a
//! lock held by another process (another test binary, a packaging job) is waited out by `retry`.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::paths::tool;

static ACCOUNTS: Mutex<()> = Mutex::new(());

/// Held while this process changes the user database (and while tapctl does, through chpasswd).
pub fn lock() -> MutexGuard<'static, ()> {
    ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner())
}

// Where the suites have always found it; not every test binary uses it.
#[allow(unused_imports)]
pub use super::ids::unique;

/// Runs a user-database tool, waiting out a passwd/group lock another process holds
/// (exit 1 or 10, or "lock" in the message); panics on any other failure.
pub fn retry(mut cmd: Command) -> Output {
    let _g = lock();
    for _ in 0..50 {
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        if out.status.success() {
            return out;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if !(err.contains("lock") || matches!(out.status.code(), Some(10))) {
            panic!("{cmd:?} failed: {err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{cmd:?}: the user database stayed locked");
}

/// Sets `user`'s local password with chpasswd.
pub fn chpasswd(user: &str, pw: &str) {
    let _g = lock();
    let mut child = Command::new(tool("chpasswd"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{user}:{pw}").unwrap();
    assert!(child.wait().unwrap().success(), "chpasswd failed");
}

/// A local account that exists for the life of the value.
pub struct Account {
    pub name: String,
    home: bool,
}

impl Account {
    /// `useradd` with a made home (`-m`) or none (`-M`) and login shell `shell`.
    pub fn create(prefix: &str, home: bool, shell: &str) -> Account {
        let name = unique(prefix);
        let mut c = Command::new(tool("useradd"));
        c.args([if home { "-m" } else { "-M" }, "-s", shell, &name]);
        retry(c);
        Account { name, home }
    }

    /// A local password pam_unix accepts.
    pub fn set_password(&self, pw: &str) {
        chpasswd(&self.name, pw);
    }

    /// `chage -d 0`: the next login must change the password.
    pub fn force_change(&self) {
        let mut c = Command::new(tool("chage"));
        c.args(["-d", "0", &self.name]);
        retry(c);
    }

    pub fn add_group(&self, group: &str) {
        let mut c = Command::new(tool("usermod"));
        c.args(["-a", "-G", group, &self.name]);
        retry(c);
    }

    /// The account's /etc/shadow line (the state a refused login must not touch).
    pub fn shadow(&self) -> String {
        std::fs::read_to_string("/etc/shadow")
            .unwrap()
            .lines()
            .find(|l| l.split(':').next() == Some(self.name.as_str()))
            .unwrap_or_else(|| panic!("{} not in /etc/shadow", self.name))
            .to_string()
    }

    pub fn uid(&self) -> u32 {
        nix::unistd::User::from_name(&self.name).unwrap().unwrap().uid.as_raw()
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let _g = lock();
        // -f: a session that is still closing must not leave the account behind.
        let args: &[&str] = if self.home { &["-r", "-f"] } else { &["-f"] };
        for _ in 0..50 {
            match Command::new(tool("userdel")).args(args).arg(&self.name).output() {
                // 1 and 10: the passwd or group file is locked by someone else just now.
                Ok(o) if matches!(o.status.code(), Some(1 | 10)) => std::thread::sleep(Duration::from_millis(100)),
                Ok(o) if !o.status.success() => {
                    eprintln!("userdel {}: {}", self.name, String::from_utf8_lossy(&o.stderr));
                    break;
                }
                _ => break,
            }
        }
    }
}

/// A local group that exists for the life of the value.
pub struct Group {
    pub name: String,
}

impl Group {
    pub fn new() -> Group {
        let name = unique("tapg");
        let mut c = Command::new(tool("groupadd"));
        c.arg(&name);
        retry(c);
        Group { name }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let mut c = Command::new(tool("groupdel"));
        c.arg(&self.name);
        retry(c);
    }
}
