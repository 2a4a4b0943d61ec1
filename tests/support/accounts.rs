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
pub fn retry(cmd: Command) -> Output {
    let _g = lock();
    retry_locked(cmd)
}

/// [`retry`] for a caller that holds [`lock`] already.
fn retry_locked(mut cmd: Command) -> Output {
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

/// A throwaway local account, removed (with its home, if it has one) when dropped. The one user
/// type of every suite: the variants they need are [`User::builder`]'s.
pub struct User {
    pub name: String,
    home: bool,
    shell: &'static str,
}

/// How a throwaway [`User`] is made: a name prefix, a home or none, a login shell, a password.
pub struct UserBuilder {
    prefix: &'static str,
    home: bool,
    shell: &'static str,
    password: Option<String>,
}

impl User {
    /// `tapt…`, no home, `/bin/sh`, no password.
    pub fn new() -> User {
        User::builder().create()
    }

    /// [`User::new`] with a local password pam_unix accepts.
    pub fn with_password(pw: &str) -> User {
        User::builder().password(pw).create()
    }

    /// `tapt…`, no home, `/bin/sh`, no password, unless told otherwise.
    pub fn builder() -> UserBuilder {
        UserBuilder {
            prefix: "tapt",
            home: false,
            shell: "/bin/sh",
            password: None,
        }
    }

    /// Someone who logs in through real clients (sshd, login, su, a greeter): `tape2e…`, a home,
    /// bash.
    pub fn person() -> UserBuilder {
        User::builder().prefix("tape2e").home().shell("/bin/bash")
    }

    /// An account with no login shell (`ts…`, nologin): PAM decides alone whether it gets in.
    pub fn no_shell() -> UserBuilder {
        User::builder().prefix("ts").shell("/usr/sbin/nologin")
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

    /// The account deleted (`userdel`, with its home if it had one) and made again under its name
    /// with another uid (useradd alone would hand the freed one out again): someone else now.
    pub fn remake(&self) {
        let old = self.uid();
        let _g = lock();
        let mut del = Command::new(tool("userdel"));
        del.args(if self.home { &["-r", "-f"][..] } else { &["-f"][..] })
            .arg(&self.name);
        retry_locked(del);
        let free = (old + 1000..old + 2000)
            .find(|u| nix::unistd::User::from_uid((*u).into()).ok().flatten().is_none())
            .expect("a free uid");
        let mut add = Command::new(tool("useradd"));
        add.args([
            if self.home { "-m" } else { "-M" },
            "-s",
            self.shell,
            "-u",
            &free.to_string(),
            &self.name,
        ]);
        retry_locked(add);
    }
}

/// The user's name, wherever a site method takes one.
impl AsRef<str> for User {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl UserBuilder {
    /// Names start with `prefix` (then what makes them unique).
    pub fn prefix(mut self, prefix: &'static str) -> UserBuilder {
        self.prefix = prefix;
        self
    }

    /// A home made by useradd (`-m`), removed with the account.
    pub fn home(mut self) -> UserBuilder {
        self.home = true;
        self
    }

    pub fn shell(mut self, shell: &'static str) -> UserBuilder {
        self.shell = shell;
        self
    }

    /// A local password pam_unix accepts.
    pub fn password(mut self, pw: &str) -> UserBuilder {
        self.password = Some(pw.to_string());
        self
    }

    /// `useradd` with a made home (`-m`) or none (`-M`), then the password if one was given.
    pub fn create(self) -> User {
        let name = unique(self.prefix);
        let mut c = Command::new(tool("useradd"));
        c.args([if self.home { "-m" } else { "-M" }, "-s", self.shell, &name]);
        retry(c);
        let user = User {
            name,
            home: self.home,
            shell: self.shell,
        };
        if let Some(pw) = &self.password {
            user.set_password(pw);
        }
        user
    }
}

impl Drop for User {
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
