//! The helpdesk boundary, through tapctl (operators as sudo leaves them: root with SUDO_USER), the
//! built module under the real libpam, and the real sudo in a private mount namespace (private
//! /etc/pam.d and /etc/sudoers bind-mounted; the host's files are never touched).
//!
//! - roles cannot climb: at issue (role holders, admin groups, sudoers, root, own uid, aliases,
//!   max_uid) and at login (an issuer's pass stops when its holder becomes an admin);
//! - a locked or expired account gets no pass and its pass stops working;
//! - wrong answers rest a pass, doubling, and `tapctl unlock` ends the rest;
//! - a pass is not a sudo password, and `--service` narrows a pass.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::support::accounts::User;
use crate::support::accounts::{retry, Group};
use crate::support::site::PrivateDir;
use crate::support::site::{refused, stderr, Site};

/// Locked and expired accounts; the rest after wrong answers.
mod accounts;
/// Roles cannot climb, at issue and at login.
mod climbing;
/// A pass is not a sudo password; `--service` narrows a pass.
mod sudo;

/// A second name for an existing uid (`useradd -o -u`), removed on drop.
struct Alias {
    name: String,
}

impl Alias {
    fn of(uid: u32) -> Alias {
        let name = format!("tapa{}x{uid}", std::process::id());
        let mut c = Command::new("useradd");
        c.args(["-M", "-o", "-u", &uid.to_string(), "-s", "/bin/sh", &name]);
        retry(c);
        Alias { name }
    }
}

impl Drop for Alias {
    fn drop(&mut self) {
        let mut c = Command::new("userdel");
        c.arg(&self.name);
        retry(c);
    }
}

fn as_op(site: &Site, op: &str, args: &[&str]) -> Output {
    site.tapctl_env(args, &[("SUDO_USER", op)])
}

fn ok(o: &Output) {
    assert!(o.status.success(), "expected success: {}", stderr(o));
}

/// The audit rows of a user as (event, reason).
fn audit(site: &Site, user: &str) -> Vec<(String, String)> {
    let out = site.tapctl(&["log", user, "--json"]);
    ok(&out);
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or("").to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn refused_with(site: &Site, user: &str, word: &str) -> bool {
    audit(site, user)
        .iter()
        .any(|(e, r)| e == "refused" && r.starts_with(&format!("{word}:")))
}

fn pass_of(v: &serde_json::Value) -> String {
    v["pass"].as_str().unwrap().to_string()
}

fn auth(site: &Site, user: &str, answer: &str) -> String {
    site.pam(user, &["authenticate"], &[answer])
        .result("authenticate")
        .to_string()
}

/// The roles of these tests: issuers, privileged issuers, viewers and one admin group.
struct Roles {
    issuers: Group,
    privileged: Group,
    viewers: Group,
    admins: Group,
}

impl Roles {
    fn new() -> Roles {
        Roles {
            issuers: Group::new(),
            privileged: Group::new(),
            viewers: Group::new(),
            admins: Group::new(),
        }
    }

    fn config(&self, extra: &str) -> String {
        format!(
            "[roles]\nissuers = [\"{}\"]\nprivileged_issuers = [\"{}\"]\nviewers = [\"{}\"]\nadmin_groups = [\"{}\"]\n{extra}",
            self.issuers.name, self.privileged.name, self.viewers.name, self.admins.name
        )
    }
}

/// A root-only scratch directory for private copies of /etc files.
fn scratch() -> PrivateDir {
    PrivateDir::new()
}

/// A sudoers file granting every listed user everything.
fn sudoers(dir: &Path, users: &[&str]) -> PathBuf {
    let p = dir.join("sudoers");
    let mut text = String::from("Defaults !lecture\nDefaults passwd_tries=1\nDefaults !fqdn\n");
    for u in users {
        text.push_str(&format!("{u} ALL=(ALL:ALL) ALL\n"));
    }
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o440)).unwrap();
    p
}

/// Runs `argv` in a private mount namespace with each (source, target) bind-mounted.
fn in_private_mounts(binds: &[(&Path, &str)], argv: &[&str], stdin: &str) -> Output {
    let mut script = String::from("set -e; mount --make-rprivate /; ");
    for (i, _) in binds.iter().enumerate() {
        script.push_str(&format!("mount --bind \"${}\" \"${}\"; ", 2 * i + 1, 2 * i + 2));
    }
    script.push_str(&format!("shift {}; exec \"$@\"", 2 * binds.len()));
    let mut c = Command::new("unshare");
    c.args(["--mount", "sh", "-c", &script, "sh"]);
    for (src, dst) in binds {
        c.arg(src).arg(dst);
    }
    c.args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    }
    child.wait_with_output().unwrap()
}
