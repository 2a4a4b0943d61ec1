//! The helpdesk side of the single-host tests, over tests/support: files an operator owns, and the
//! real sudo with a private sudoers rule.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

use crate::support::accounts::User;
use crate::support::site::{stderr, Site};

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
