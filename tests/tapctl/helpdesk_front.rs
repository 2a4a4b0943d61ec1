//! tapctl's front door, for operators who run it through sudo: what they name is read with their
//! own rights, who they are is never guessed as root, the policy is root's, and no text they or a
//! remote client supply reaches a reader's terminal raw. Operators are emulated as sudo leaves
//! them (tapctl as root with SUDO_USER, or with an audit login uid), plus one real sudo run.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use crate::operators::{OwnedFile, RealSudo};
use crate::support::accounts::Group;
use crate::support::accounts::User;
use crate::support::site::{refused, stderr, stdout, Site};

/// A site with a viewer and an issuer, and the groups that give them their roles.
struct Desk {
    site: Site,
    viewer: User,
    issuer: User,
    viewers: Group,
    _helpdesk: Group,
}

fn desk() -> Desk {
    let (viewers, helpdesk) = (Group::new(), Group::new());
    let site = Site::new(&format!(
        "[roles]\nviewers = [\"{}\"]\nissuers = [\"{}\"]\n",
        viewers.name, helpdesk.name
    ));
    let (viewer, issuer) = (User::new(), User::new());
    viewer.add_group(&viewers.name);
    issuer.add_group(&helpdesk.name);
    Desk {
        site,
        viewer,
        issuer,
        viewers,
        _helpdesk: helpdesk,
    }
}

fn as_op(site: &Site, op: &User, args: &[&str]) -> Output {
    site.tapctl_env(args, &[("SUDO_USER", &op.name)])
}

/// `text` holds nothing of /etc/shadow: no `name:hash` pair and no hash longer than one character.
fn no_shadow_field(text: &str) {
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap();
    let mut hashes = 0;
    for line in shadow.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 2 {
            continue;
        }
        assert!(
            !text.contains(&format!("{}:{}", f[0], f[1])),
            "shadow line of {} in {text:?}",
            f[0]
        );
        if f[1].len() > 1 {
            hashes += 1;
            assert!(!text.contains(f[1]), "the shadow hash of {} in {text:?}", f[0]);
        }
    }
    assert!(hashes > 0, "the test needs at least one real hash in /etc/shadow");
}

fn holds_no_pass(site: &Site, user: &User) {
    let o = site.tapctl(&["show", &user.name]);
    assert!(stderr(&o).contains("holds no pass"), "{}{}", stdout(&o), stderr(&o));
}

/// A root-only file (0600 root in a directory anyone may traverse) holding `text`.
fn root_only_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = dir.path().join("root-only.csv");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = p.to_str().unwrap().to_string();
    (dir, s)
}

#[test]
fn csv_is_read_with_the_operators_rights_and_errors_quote_no_field() {
    require_root!();
    let d = desk();
    let _with_hash = User::with_password("Shadow-pw-1!");
    // A viewer is refused by the command table before the file is named; an issuer may issue,
    // and reads the file with their own rights.
    let o = as_op(&d.site, &d.viewer, &["issue", "--csv", "/etc/shadow"]);
    refused(&o, &["needs the issuer role"]);
    no_shadow_field(&format!("{}{}", stdout(&o), stderr(&o)));
    let o = as_op(&d.site, &d.issuer, &["issue", "--csv", "/etc/shadow"]);
    refused(&o, &["cannot read /etc/shadow", "Permission denied"]);
    no_shadow_field(&format!("{}{}", stdout(&o), stderr(&o)));

    // A root-only CSV: the issuer may issue, but not from a file only root can read.
    let target = User::new();
    let (_dir, secret_csv) = root_only_file(&format!("{},1h,no,root-only-reason-text\n", target.name));
    let o = as_op(&d.site, &d.issuer, &["issue", "--csv", &secret_csv, "--keep-password"]);
    refused(&o, &["cannot read", "Permission denied"]);
    assert!(!stderr(&o).contains("root-only-reason"), "{}", stderr(&o));
    holds_no_pass(&d.site, &target);

    the_operators_own_file_is_read_and_quoted_by_line(&d, &target);
    standard_input_is_the_operators_own(&d, &target);
    // Root reads what root may read.
    let other = User::new();
    let (_dir2, root_csv) = root_only_file(&format!("{}\n", other.name));
    let o = d.site.tapctl(&["issue", "--csv", &root_csv, "--keep-password"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The operator's own file with a shadow-shaped line: the error names the line, not the field;
/// a FIFO of theirs does not hang tapctl: only regular files are read.
fn the_operators_own_file_is_read_and_quoted_by_line(d: &Desk, target: &User) {
    let own = OwnedFile::new(
        &d.issuer,
        "mine.csv",
        "victim:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\n",
    );
    let o = as_op(&d.site, &d.issuer, &["issue", "--csv", own.arg()]);
    refused(&o, &["line 1", "not a valid user name"]);
    assert!(!stderr(&o).contains("SECRET"), "{}", stderr(&o));
    let own = OwnedFile::new(&d.issuer, "mine2.csv", &format!("{},SECRETLIFETIME\n", target.name));
    let o = as_op(&d.site, &d.issuer, &["issue", "--csv", own.arg()]);
    refused(&o, &["line 1", "lifetime"]);
    assert!(!stderr(&o).contains("SECRET"), "{}", stderr(&o));

    let fifo = own.path.with_file_name("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::os::unix::fs::chown(&fifo, Some(d.issuer.uid()), None).unwrap();
    let o = as_op(&d.site, &d.issuer, &["issue", "--csv", fifo.to_str().unwrap()]);
    refused(&o, &["not a regular file", "--csv -"]);
}

/// Standard input is the operator's own: `--csv -` works, and the audit names the operator.
fn standard_input_is_the_operators_own(d: &Desk, target: &User) {
    let mut c = d.site.tapctl_cmd(
        &["issue", "--csv", "-", "--keep-password", "--json"],
        &[("SUDO_USER", &d.issuer.name)],
        None,
    );
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", target.name).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["user"], target.name.as_str());
    assert_eq!(v[0]["operator"], d.issuer.name.as_str());
}

#[test]
fn the_operator_is_sudo_user_then_the_login_uid_and_never_a_guessed_root() {
    require_root!();
    let d = desk();
    let target = User::new();
    let issue = ["issue", target.name.as_str(), "--keep-password", "--json"];
    let run = |env: &[(&str, &str)], loginuid: Option<u32>| d.site.tapctl_cmd(&issue, env, loginuid).output().unwrap();

    // su/doas/pkexec: no SUDO_USER, but the login session is the viewer's.
    refused(&run(&[], Some(d.viewer.uid())), &[&d.viewer.name]);
    // sudo from a root shell that the viewer's login opened (su): still the viewer.
    refused(&run(&[("SUDO_USER", "root")], Some(d.viewer.uid())), &[&d.viewer.name]);
    // A login uid that names nobody: refused, not root.
    refused(&run(&[], Some(3_999_999)), &["login uid 3999999 names no user"]);
    holds_no_pass(&d.site, &target);

    // The issuer's login session: they are the operator, and the audit says so.
    let o = run(&[], Some(d.issuer.uid()));
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["operator"], d.issuer.name.as_str());
    let o = d.site.tapctl(&["revoke", &target.name]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Root itself: login uid 0, or none at all (a console, a service).
    for loginuid in [Some(0), Some(u32::MAX)] {
        let o = run(&[], loginuid);
        assert!(o.status.success(), "{loginuid:?}: {}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["operator"], "root");
        assert!(d.site.tapctl(&["revoke", &target.name]).status.success());
    }
}

#[test]
fn operators_name_no_policy_and_run_neither_init_nor_doctor() {
    require_root!();
    let d = desk();
    let config = d.site.config.to_str().unwrap();
    let op = [("SUDO_USER", d.issuer.name.as_str())];
    // Plain tapctl as sudo leaves it, naming the (perfectly good) site config, in a root login
    // session (login uid 0) so that only SUDO_USER makes the operator.
    let direct = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            r#"echo 0 > /proc/self/loginuid && exec "$@""#,
            "sh",
            crate::support::paths::tapctl().to_str().unwrap(),
        ])
        .args(args)
        .env_remove("SUDO_USER")
        .env_remove("PAM_TAP_CONFIG")
        .envs(env.iter().copied());
        c.output().unwrap()
    };
    refused(
        &direct(&["--config", config, "list"], &op),
        &["--config", "root's only"],
    );
    refused(&direct(&["list", "--config", config], &op), &["root's only"]);
    let env_op = [op[0], ("PAM_TAP_CONFIG", config)];
    refused(&direct(&["list"], &env_op), &["PAM_TAP_CONFIG", "root's only"]);
    // Even where the default path holds the same policy.
    refused(&d.site.tapctl_env(&["list"], &env_op), &["PAM_TAP_CONFIG"]);

    // `--config /etc/nologin init` would create that file as root; here a throwaway path.
    let tmp = tempfile::tempdir().unwrap();
    let nologin = tmp.path().join("nologin");
    refused(
        &direct(&["--config", nologin.to_str().unwrap(), "init"], &op),
        &["root's only"],
    );
    assert!(!nologin.exists(), "an operator's init created {}", nologin.display());

    refused(&as_op(&d.site, &d.issuer, &["init"]), &["init is root's only"]);
    refused(&as_op(&d.site, &d.issuer, &["doctor"]), &["doctor is root's only"]);
    refused(
        &as_op(&d.site, &d.issuer, &["doctor", "--root", "/"]),
        &["doctor is root's only"],
    );
    // What an issuer may do still works under the system policy.
    let o = as_op(&d.site, &d.issuer, &["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Root names any config.
    assert!(direct(&["--config", config, "list"], &[]).status.success());
}

/// The control characters in `text` other than its line ends: C0, DEL, C1 and the bidi controls.
fn controls_in(text: &str) -> Vec<char> {
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    text.chars()
        .filter(|&c| c != '\n' && (c.is_control() || bidi(c)))
        .collect()
}

#[test]
fn control_characters_are_refused_in_and_escaped_out() {
    require_root!();
    let site = Site::new("");
    let u = User::new();
    reasons_with_control_characters_are_refused(&site, &u);
    a_refused_revoke_reason_writes_nothing(&site, &u);
    rows_written_elsewhere_hold_control_characters(&site, &u);
    each_is_printed_escaped(&site, &u);
}

/// `issue --reason` with ESC, LF, CR, C1, a bidi override or DEL, and a CSV reason with ESC: one
/// refusal line each, with no control character in it, and nothing issued.
fn reasons_with_control_characters_are_refused(site: &Site, u: &User) {
    for reason in [
        "a\u{1b}[2Jb",
        "a\nissued user=root",
        "a\rb",
        "a\u{9b}31mb",
        "\u{202e}txet",
        "a\u{7f}",
    ] {
        let o = site.tapctl(&["issue", &u.name, "--keep-password", "--reason", reason]);
        refused(&o, &["--reason", "control character"]);
        assert!(controls_in(&stderr(&o)).is_empty());
    }
    holds_no_pass(site, u);
    let csv = site.dir.path().join("esc.csv");
    std::fs::write(&csv, format!("{},1h,no,\"x\u{1b}[2J\"\n", u.name)).unwrap();
    refused(
        &site.tapctl(&["issue", "--csv", csv.to_str().unwrap(), "--keep-password"]),
        &["line 1", "control character"],
    );
}

/// A revoke reason with a line break is refused and writes no audit row; a plain one revokes.
fn a_refused_revoke_reason_writes_nothing(site: &Site, u: &User) {
    site.issue(&u.name, &["--keep-password", "--reason", "new laptop"]);
    let events = site.events(&u.name).len();
    let o = site.tapctl(&[
        "revoke",
        &u.name,
        "--reason",
        "gone\n2026-01-01 00:00:00 UTC  issued     user=root",
    ]);
    refused(&o, &["--reason", "control character"]);
    assert_eq!(
        site.events(&u.name).len(),
        events,
        "a refused revoke wrote to the audit"
    );
    let o = site.tapctl(&["revoke", &u.name, "--reason", "left the company"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Rows an older version or the module (a remote client's rhost) wrote, with control characters
/// in reason, issuer, service, rhost.
fn rows_written_elsewhere_hold_control_characters(site: &Site, u: &User) {
    let db = rusqlite::Connection::open(&site.db).unwrap();
    db.execute(
        "UPDATE passes SET reason = ?1, issued_by = ?2",
        ["old\u{1b}]0;owned\u{7}\nreason", "op\u{9b}2J"],
    )
    .unwrap();
    db.execute(
        "INSERT INTO audit (at, event, user, pass_id, operator, service, rhost, reason)
         VALUES (1, 'failed', ?1, 1, NULL, ?2, ?3, ?4)",
        [
            u.name.as_str(),
            "ssh\u{202e}d",
            "evil\u{1b}[2J\n2026-01-01 00:00:00 UTC  issued     user=root",
            "x\r\ny",
        ],
    )
    .unwrap();
    drop(db);
}

/// `log`, `show` and `list` print them escaped, one line per audit row; JSON keeps the stored text
/// (serde escapes it).
fn each_is_printed_escaped(site: &Site, u: &User) {
    let rows = site.events(&u.name).len();
    let log = site.tapctl(&["log", &u.name]);
    assert!(log.status.success(), "{}", stderr(&log));
    let text = stdout(&log);
    assert_eq!(text.lines().count(), rows, "one line per audit row: {text}");
    assert!(controls_in(&text).is_empty(), "{text:?}");
    assert!(text.contains("rhost=evil\\u{1b}[2J\\n2026"), "{text}");
    for args in [vec!["show", u.name.as_str()], vec!["list", "--all"]] {
        let o = site.tapctl(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(controls_in(&text).is_empty(), "{args:?}: {text:?}");
        assert!(!text.contains("owned\u{7}"), "{text}");
        assert!(text.contains("op\\u{9b}2J"), "{args:?}: {text}");
    }
    // JSON keeps the stored text (serde escapes it).
    let j = site.tapctl(&["show", &u.name, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["issued_by"], "op\u{9b}2J");
}

/// One real sudo run: a throwaway sudoers rule (`%viewers ALL=(root) NOPASSWD: tapctl`, the guide's
/// rule, docs/guide/src/cockpit.md) bind-mounted over /etc/sudoers in a private mount namespace, the
/// site over /etc/security; the viewer runs `sudo tapctl` for real.
#[test]
fn real_sudo_viewer_reads_no_shadow_and_names_no_policy() {
    require_root!();
    let d = desk();
    let _with_hash = User::with_password("Shadow-pw-2!");
    let Some(sudo) = RealSudo::new(&d.site, &[d.viewers.name.as_str(), d._helpdesk.name.as_str()]) else {
        panic!("sudo is not installed (make deps installs it)");
    };
    let tapctl_lines = RealSudo::tapctl_lines;

    let o = sudo.tapctl(&d.viewer.name, &["list"]);
    assert!(o.status.success(), "the sudo rule works: {}", stderr(&o));
    // A viewer may not issue at all: refused by the command table, before the file is named.
    let o = sudo.tapctl(&d.viewer.name, &["issue", "--csv", "/etc/shadow"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = tapctl_lines(&o);
    assert_eq!(lines.len(), 1, "{}", stderr(&o));
    assert!(lines[0].contains("needs the issuer role"), "{lines:?}");
    assert!(
        lines[0].contains(&d.viewer.name),
        "sudo's SUDO_USER is the operator: {lines:?}"
    );
    no_shadow_field(&format!("{}{}", stdout(&o), stderr(&o)));
    // An issuer may: the file is read with their rights.
    let o = sudo.tapctl(&d.issuer.name, &["issue", "--csv", "/etc/shadow"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = tapctl_lines(&o);
    assert_eq!(lines.len(), 1, "{}", stderr(&o));
    assert!(lines[0].contains("cannot read /etc/shadow"), "{lines:?}");
    assert!(lines[0].contains(&d.issuer.name), "{lines:?}");
    no_shadow_field(&format!("{}{}", stdout(&o), stderr(&o)));

    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let nologin = tmp.path().join("nologin");
    let o = sudo.tapctl(&d.viewer.name, &["--config", nologin.to_str().unwrap(), "init"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(tapctl_lines(&o)[0].contains("root's only"), "{}", stderr(&o));
    assert!(!nologin.exists());
}
