//! The tapctl and stack suites' own helpers over tests/support: their throwaway user, a site with
//! the Debian stack as service `svc`, files an operator owns, and tapctl's refusal shape.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

use crate::support::drive::run;
pub use crate::support::drive::Run;
use crate::support::site::{debian_stack, module_line, PrivateDir};

/// A local user (no home, `/bin/sh`) that exists for the life of the value.
pub struct User(crate::support::accounts::Account);

impl User {
    pub fn new() -> User {
        User(crate::support::accounts::Account::create("tapt", false, "/bin/sh"))
    }

    pub fn with_password(pw: &str) -> User {
        let u = User::new();
        u.set_password(pw);
        u
    }
}

impl std::ops::Deref for User {
    type Target = crate::support::accounts::Account;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The services a site admits: the login services and the tests' own `svc`.
const SERVICES: [&str; 6] = ["login", "sshd", "su", "su-l", "passwd", "svc"];

/// A private pam_tap installation (see `support::site::Site`) with the Debian stack as service
/// `svc`, driven with `pam`.
pub struct Site(crate::support::site::Site);

impl std::ops::Deref for Site {
    type Target = crate::support::site::Site;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Site {
    /// `extra`: TOML after `enabled`, `database` and (unless `extra` sets it) `services`.
    pub fn new(extra: &str) -> Site {
        let site = crate::support::site::Site::new(PrivateDir::new(), &SERVICES, extra);
        site.write_service("svc", &debian_stack(&module_line(&site.module_args(""))));
        Site(site)
    }

    /// Runs tapctl with `env` added. With a `SUDO_USER` the run is an operator's, as sudo leaves
    /// it (see `support::site::Site::tapctl_cmd`).
    pub fn tapctl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.tapctl_cmd(args, env, None).output().unwrap()
    }

    /// Issues a pass and returns the JSON object tapctl printed.
    pub fn issue(&self, user: &str, extra: &[&str]) -> serde_json::Value {
        self.issue_json(user, extra)
    }

    pub fn events(&self, user: &str) -> Vec<String> {
        self.log_json(user)
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    }

    /// Runs PAM operations on one handle of service `svc`, answering prompts in order.
    pub fn pam(&self, user: &str, ops: &[&str], answers: &[&str]) -> Run {
        run(self.drive_cmd("svc", user, ops), answers).expect_ran()
    }
}

/// A file `user` owns (0600) in a directory of its own that anyone may traverse: what an operator
/// hands `tapctl issue --csv`, which reads it with the operator's rights.
pub struct OwnedFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl OwnedFile {
    pub fn new(user: &User, name: &str, text: &str) -> OwnedFile {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(user.uid()), None).unwrap();
        OwnedFile { _dir: dir, path }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A tapctl refusal: exit 1 and one line on stderr, `tapctl: ...`, naming every needle.
pub fn refused(o: &Output, needles: &[&str]) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected a refusal: {}{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("tapctl: "), "{err:?}");
    for n in needles {
        assert!(err.contains(n), "{err:?} lacks {n:?}");
    }
}

/// The real sudo, with a private /etc/sudoers letting `groups` run tapctl as root without a
/// password and a private /etc/security holding the site's policy, both bind-mounted in a private
/// mount namespace (the host's files are never touched).
pub struct RealSudo {
    sudoers: tempfile::TempDir,
    security: tempfile::TempDir,
}

impl RealSudo {
    /// `None` when sudo is not installed (the Makefile's deps install it).
    pub fn new(site: &Site, groups: &[&str]) -> Option<RealSudo> {
        std::process::Command::new("sudo").arg("-V").output().ok()?;
        let tapctl = crate::support::paths::tapctl();
        let sudoers = tempfile::tempdir().unwrap();
        let mut rule = String::from("Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n");
        for g in groups {
            rule.push_str(&format!("%{g} ALL=(root) NOPASSWD: {}\n", tapctl.display()));
        }
        let file = sudoers.path().join("sudoers");
        std::fs::write(&file, rule).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o440)).unwrap();
        // /etc/security as sudo's session needs it (pam_limits) plus the site's policy.
        let security = tempfile::tempdir().unwrap();
        std::fs::set_permissions(security.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(security.path().join("limits.d")).unwrap();
        if std::path::Path::new("/etc/security/limits.conf").exists() {
            std::fs::copy("/etc/security/limits.conf", security.path().join("limits.conf")).unwrap();
        }
        std::fs::copy(&site.config, security.path().join("pam_tap.toml")).unwrap();
        Some(RealSudo { sudoers, security })
    }

    /// `sudo -n tapctl ARGS` as `user`, from a session of theirs (`PAM_TAP_CONFIG` set, for sudo
    /// to drop).
    pub fn tapctl(&self, user: &str, args: &[&str]) -> Output {
        std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount --bind "$0" /etc/sudoers && mount --bind "$1" /etc/security && shift && exec "$@""#)
            .arg(self.sudoers.path().join("sudoers"))
            .arg(self.security.path())
            .args(["setpriv", "--reuid", user, "--regid", user, "--init-groups"])
            .args(["sudo", "-n"])
            .arg(crate::support::paths::tapctl())
            .args(args)
            .env_remove("SUDO_USER")
            .env("PAM_TAP_CONFIG", "/tmp/not-passed-by-sudo.toml")
            .output()
            .unwrap()
    }

    /// tapctl's own lines on stderr (sudo's warnings, such as an unresolvable host name, are not).
    pub fn tapctl_lines(o: &Output) -> Vec<String> {
        stderr(o)
            .lines()
            .filter(|l| l.starts_with("tapctl"))
            .map(String::from)
            .collect()
    }
}
