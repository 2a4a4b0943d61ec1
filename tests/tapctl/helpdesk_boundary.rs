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

use crate::common::{refused, stderr, Site, User};
use crate::support::accounts::{retry, Group};
use crate::support::site::PrivateDir;

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

#[test]
fn issuers_cannot_climb_and_uids_not_names_decide() {
    require_root!();
    let roles = Roles::new();
    let site = Site::new(&roles.config(""));
    let ivy = User::new();
    ivy.add_group(&roles.issuers.name);
    let pat = User::new();
    pat.add_group(&roles.privileged.name);
    let val = User::new();
    val.add_group(&roles.viewers.name);
    let adm = User::new();
    adm.add_group(&roles.admins.name);
    let ann = User::new();
    let sud = User::new();
    let pat_alias = Alias::of(pat.uid());
    let issue = |op: &str, who: &str| as_op(&site, op, &["issue", who, "--keep-password", "--json"]);

    // An issuer: not on role holders (the climb: a privileged issuer's account), not on admins.
    refused(&issue(&ivy.name, &pat.name), &[&pat.name, "tapctl role"]);
    refused(&issue(&ivy.name, &val.name), &[&val.name, "tapctl role"]);
    refused(&issue(&ivy.name, &adm.name), &[&adm.name, "admin group"]);
    ok(&issue(&ivy.name, &ann.name));
    // A privileged issuer: on admins, but not on themselves under another name, nor on root.
    ok(&issue(&pat.name, &adm.name));
    refused(
        &issue(&pat.name, &pat_alias.name),
        &["own pass", &pat.uid().to_string()],
    );
    refused(&issue(&pat.name, "root"), &["uid 0"]);
    // Root: not on itself; nobody (65534) is above max_uid for everyone.
    refused(&site.tapctl(&["issue", "root", "--keep-password"]), &["uid 0"]);
    refused(&site.tapctl(&["issue", "nobody", "--keep-password"]), &["max_uid"]);

    // Whom sudo lets act as root is an admin: sudo itself is asked (a private sudoers).
    let d = scratch();
    let s = sudoers(d.path(), &[&sud.name]);
    let tapctl = env!("CARGO_BIN_EXE_tapctl");
    // An operator names no config: the site is the policy at its default path.
    let run = |who: &str| {
        in_private_mounts(
            &[(&s, "/etc/sudoers"), (site.dir.path(), "/etc/security")],
            &[
                "env",
                &format!("SUDO_USER={}", ivy.name),
                tapctl,
                "issue",
                who,
                "--keep-password",
            ],
            "",
        )
    };
    refused(&run(&sud.name), &[&sud.name, "sudo"]);
    let plain = User::new();
    ok(&run(&plain.name));
}

#[test]
fn an_issuers_pass_stops_when_its_holder_becomes_an_admin() {
    require_root!();
    let roles = Roles::new();
    let site = Site::new(&roles.config(""));
    let ivy = User::new();
    ivy.add_group(&roles.issuers.name);
    let ann = User::with_password("Ann-old-password-1");
    let bob = User::with_password("Bob-old-password-1");
    let out = as_op(
        &site,
        &ivy.name,
        &["issue", &ann.name, "--keep-password", "--reusable", "--json"],
    );
    ok(&out);
    let code = pass_of(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");

    // The cost of asking sudo: logins with an issuer's pass (sudo asked) and with root's (not).
    let d = scratch();
    let time_logins = |site: &Site, user: &str, code: &str| {
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(auth(site, user, code), "PAM_SUCCESS");
        }
        t.elapsed().as_secs_f64() * 1000.0 / 5.0
    };
    let bob_code = pass_of(&site.issue(&bob.name, &["--keep-password", "--reusable"]));
    let with_sudo = time_logins(&site, &ann.name, &code);
    let without = time_logins(&site, &bob.name, &bob_code);
    let t = Instant::now();
    for _ in 0..10 {
        assert!(!pam_tap::sudo::grants_root(&ann.name).unwrap());
    }
    let probe = t.elapsed().as_secs_f64() * 1000.0 / 10.0;
    crate::support_sec::figure(
        "sudo_probe",
        &format!("login_ms_issuer_pass={with_sudo:.1} login_ms_root_pass={without:.1} sudo_l_ms={probe:.1}"),
    );

    // sudo now lets ann act as root (a private sudoers): her issuer's pass no longer logs her in.
    let s = sudoers(d.path(), &[&ann.name]);
    let drive = crate::support::paths::pam_drive();
    let confdir = site.pamd.display().to_string();
    let r = in_private_mounts(
        &[(&s, "/etc/sudoers")],
        &[
            drive.to_str().unwrap(),
            "--confdir",
            &confdir,
            "svc",
            &ann.name,
            "authenticate",
        ],
        &format!("{code}\n"),
    );
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("result authenticate=PAM_AUTH_ERR"), "{text}");
    assert!(refused_with(&site, &ann.name, "role"), "{:?}", audit(&site, &ann.name));
    // Root's pass for an admin still works: root may act on admins.
    let r = in_private_mounts(
        &[(&s, "/etc/sudoers")],
        &[
            drive.to_str().unwrap(),
            "--confdir",
            &confdir,
            "svc",
            &bob.name,
            "authenticate",
        ],
        &format!("{bob_code}\n"),
    );
    assert!(String::from_utf8_lossy(&r.stdout).contains("result authenticate=PAM_SUCCESS"));

    // Joining an admin group has the same effect, outside any namespace.
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    ann.add_group(&roles.admins.name);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    // Her own password still works: pam_unix decides for her.
    assert_eq!(auth(&site, &ann.name, "Ann-old-password-1"), "PAM_SUCCESS");
}

/// usermod and chage wait out other tests holding the account files' lock.
fn usermod(args: &[&str]) {
    let mut c = Command::new("usermod");
    c.args(args);
    retry(c);
}

fn chage(args: &[&str]) {
    let mut c = Command::new("chage");
    c.args(args);
    retry(c);
}

#[test]
fn a_locked_or_expired_account_gets_no_pass_and_its_pass_stops() {
    require_root!();
    let site = Site::new("");
    let ann = User::with_password("Ann-old-password-1");
    // Issue is refused for a locked account, and the lock survives.
    usermod(&["-L", &ann.name]);
    refused(&site.tapctl(&["issue", &ann.name]), &[&ann.name, "locked"]);
    assert!(ann.shadow().split(':').nth(1).unwrap().starts_with('!'));
    usermod(&["-U", &ann.name]);
    chage(&["-E", "1", &ann.name]);
    refused(&site.tapctl(&["issue", &ann.name]), &[&ann.name, "expired"]);
    chage(&["-E", "-1", &ann.name]);

    // A pass issued before the lock stops at it, with the reason in the audit log.
    let code = pass_of(&site.issue(&ann.name, &["--keep-password", "--reusable"]));
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    usermod(&["-L", &ann.name]);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    assert!(
        refused_with(&site, &ann.name, "locked"),
        "{:?}",
        audit(&site, &ann.name)
    );
    usermod(&["-U", &ann.name]);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    chage(&["-E", "1", &ann.name]);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    assert!(refused_with(&site, &ann.name, "expired"));
    chage(&["-E", "-1", &ann.name]);

    // The pass's own reset state is not a lock.
    let bob = User::with_password("Bob-old-password-1");
    let code = pass_of(&site.issue(&bob.name, &[]));
    assert_eq!(auth(&site, &bob.name, &code), "PAM_SUCCESS");
}

fn rest_left(site: &Site, user: &str) -> i64 {
    let c = rusqlite::Connection::open(&site.db).unwrap();
    c.query_row(
        "SELECT rest_until - CAST(strftime('%s','now') AS INTEGER) FROM passes WHERE user = ?1 ORDER BY id DESC LIMIT 1",
        [user],
        |r| r.get::<_, Option<i64>>(0),
    )
    .unwrap()
    .unwrap_or(0)
}

/// The clock moving past the rest (the rest's end set to a second ago).
fn end_rest(site: &Site, user: &str) {
    let c = rusqlite::Connection::open(&site.db).unwrap();
    c.execute(
        "UPDATE passes SET rest_until = CAST(strftime('%s','now') AS INTEGER) - 1 WHERE user = ?1",
        [user],
    )
    .unwrap();
}

#[test]
fn wrong_answers_rest_a_pass_doubling_and_unlock_ends_the_rest() {
    require_root!();
    let roles = Roles::new();
    let site = Site::new(&roles.config("[pass]\nmax_failures = 2\nlockout = \"60s\"\n"));
    let ivy = User::new();
    ivy.add_group(&roles.issuers.name);
    let val = User::new();
    val.add_group(&roles.viewers.name);
    let ann = User::new();
    let code = pass_of(&site.issue(&ann.name, &["--keep-password", "--reusable"]));
    for w in ["ABCDEFGHJK", "ABCDEFGHJM"] {
        assert_eq!(auth(&site, &ann.name, w), "PAM_AUTH_ERR");
    }
    // Resting for the lockout: the right answer is refused too.
    assert_eq!(site.show(&ann.name)["status"], "resting");
    let left = rest_left(&site, &ann.name);
    assert!((40..=60).contains(&left), "first rest should be ~60 s, {left} s left");
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    // ...but only for a while, not for good as before: once the rest is over, the pass works.
    end_rest(&site, &ann.name);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    // Two more: twice as long.
    for w in ["ABCDEFGHJK", "ABCDEFGHJM"] {
        assert_eq!(auth(&site, &ann.name, w), "PAM_AUTH_ERR");
    }
    let left = rest_left(&site, &ann.name);
    assert!(
        (100..=120).contains(&left),
        "second rest should be ~120 s, {left} s left"
    );
    // A viewer may not unlock; an issuer may, and it is audited.
    refused(&as_op(&site, &val.name, &["unlock", &ann.name]), &["viewer"]);
    ok(&as_op(&site, &ivy.name, &["unlock", &ann.name]));
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    let events: Vec<String> = audit(&site, &ann.name).into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        events,
        [
            "issued", "failed", "failed", "resting", "refused", "used", "failed", "failed", "resting", "unlocked",
            "used"
        ]
    );
    refused(&site.tapctl(&["unlock", &ann.name]), &["neither resting nor locked"]);
}

/// A private copy of /etc/pam.d whose common-auth has pam_tap first (Debian's shape), so Debian's
/// own /etc/pam.d/sudo, which includes it, sees pam_tap.
fn pamd_with_tap_in_common_auth(dir: &Path, site: &Site) -> PathBuf {
    let pamd = dir.join("pam.d");
    let out = Command::new("cp")
        .arg("-a")
        .arg("/etc/pam.d")
        .arg(&pamd)
        .output()
        .unwrap();
    assert!(out.status.success(), "cp: {}", stderr(&out));
    let m = format!(
        "{} config={}",
        crate::support::paths::module().display(),
        site.config.display()
    );
    std::fs::write(
        pamd.join("common-auth"),
        format!(
            "auth [success=2 default=ignore] {m}\n\
             auth [success=1 default=ignore] pam_unix.so nullok try_first_pass\n\
             auth requisite pam_deny.so\n\
             auth required pam_permit.so\n"
        ),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(pamd.join("sudo"))
            .unwrap()
            .contains("common-auth"),
        "this sudo's pam.d file does not include common-auth"
    );
    pamd
}

/// The real `sudo true` as `who`, answering its password prompt with `answer`, under a private
/// pam.d and sudoers.
fn sudo_true(pamd: &Path, sudoers: &Path, who: &str, answer: &str) -> Output {
    in_private_mounts(
        &[(pamd, "/etc/pam.d"), (sudoers, "/etc/sudoers")],
        &[
            "setpriv",
            &format!("--reuid={who}"),
            &format!("--regid={who}"),
            "--init-groups",
            "sudo",
            "-S",
            "-k",
            "-p",
            "",
            "true",
        ],
        &format!("{answer}\n"),
    )
}

#[test]
fn a_pass_is_not_a_sudo_password_and_service_narrows_a_pass() {
    require_root!();
    if !Path::new("/usr/bin/sudo").exists() {
        panic!("sudo is not installed (apt-get install sudo; the Makefile's deps do)");
    }
    let site = Site::new("");
    let ann = User::with_password("Ann-old-password-1");
    let bob = User::with_password("Bob-old-password-1");
    let code = pass_of(&site.issue(&ann.name, &["--keep-password", "--reusable"]));
    let d = scratch();
    let pamd = pamd_with_tap_in_common_auth(d.path(), &site);
    let s = sudoers(d.path(), &[&ann.name, &bob.name]);
    let sudo_as = |who: &str, answer: &str| sudo_true(&pamd, &s, who, answer);
    // The pass at sudo: refused, audited as such.
    let r = sudo_as(&ann.name, &code);
    assert!(!r.status.success(), "a pass opened sudo: {}", stderr(&r));
    assert!(
        refused_with(&site, &ann.name, "service"),
        "{:?}",
        audit(&site, &ann.name)
    );
    // Passwords at sudo: pam_unix, as ever, for the pass holder and for a user without a pass.
    let r = sudo_as(&ann.name, "Ann-old-password-1");
    assert!(r.status.success(), "ann's password at sudo: {}", stderr(&r));
    let r = sudo_as(&bob.name, "Bob-old-password-1");
    assert!(r.status.success(), "bob's password at sudo: {}", stderr(&r));
    // The same pass still logs in at a login service.
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");

    // --service narrows within the policy's list, never beyond it.
    refused(
        &site.tapctl(&["issue", &bob.name, "--service", "sudo"]),
        &["--service", "sudo"],
    );
    let narrow = pass_of(&site.issue(&bob.name, &["--keep-password", "--reusable", "--service", "login"]));
    assert_eq!(auth(&site, &bob.name, &narrow), "PAM_AUTH_ERR");
    assert!(refused_with(&site, &bob.name, "service"));
    let wide = pass_of(&site.issue(
        &bob.name,
        &[
            "--keep-password",
            "--reusable",
            "--replace",
            "--service",
            "login",
            "--service",
            "svc",
        ],
    ));
    assert_eq!(auth(&site, &bob.name, &wide), "PAM_SUCCESS");
}

#[test]
fn after_a_first_login_the_new_password_opens_sudo_and_the_pass_does_not() {
    require_root!();
    if !Path::new("/usr/bin/sudo").exists() {
        panic!("sudo is not installed (apt-get install sudo; the Makefile's deps do)");
    }
    const NEW_PW: &str = "Cal-chose-this-1";
    let site = Site::new("");
    let cal = User::with_password("Cal-old-password-1");
    // The policy's defaults: an admin reset, the pass one-time.
    let code = pass_of(&site.issue(&cal.name, &[]));
    let first = site.pam(
        &cal.name,
        &["authenticate", "acct_mgmt", "chauthtok_expired"],
        &[&code, NEW_PW, NEW_PW],
    );
    assert_eq!(first.result("chauthtok_expired"), "PAM_SUCCESS", "{}", first.stdout);
    let d = scratch();
    let pamd = pamd_with_tap_in_common_auth(d.path(), &site);
    let s = sudoers(d.path(), &[&cal.name]);
    let sudo_with = |answer: &str| sudo_true(&pamd, &s, &cal.name, answer);
    let r = sudo_with(NEW_PW);
    assert!(r.status.success(), "the new password at sudo: {}", stderr(&r));
    for (what, answer) in [("the pass", code.as_str()), ("the old password", "Cal-old-password-1")] {
        let r = sudo_with(answer);
        assert!(!r.status.success(), "{what} opened sudo after the first login");
    }
}
