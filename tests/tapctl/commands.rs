//! tapctl through its real binary: every command, the role rules, refusals and JSON shapes.

use crate::support::accounts::Group;
use crate::support::accounts::User;
use crate::support::site::{stderr, stdout, Site};

fn refused(o: &std::process::Output, needle: &str) {
    crate::support::site::refused(o, &[needle]);
}

#[test]
fn issue_prints_the_pass_once_grouped_and_json_has_the_contract_fields() {
    require_root!();
    let site = Site::new("");
    let u = User::new();
    let out = site.tapctl(&["issue", &u.name, "--keep-password", "--reason", "new joiner"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let grouped = text.lines().nth(2).unwrap().trim().to_string();
    assert_eq!(grouped.len(), 12, "10 characters in groups of four: {grouped:?}");
    assert_eq!(grouped.matches('-').count(), 2);
    assert!(text.contains("only time the pass is shown"));
    assert!(
        text.contains("UTC") || text.contains("+00"),
        "local time with zone: {text}"
    );
    assert!(text.contains("Next:"));

    let v = User::new();
    let code = issue_json_has_the_contract_fields(&site, &v);
    show_and_list_never_carry_the_code(&site, &v, &code);
}

/// `issue --json` (2h, 16 characters, reusable) has every field of the contract; returns the pass.
fn issue_json_has_the_contract_fields(site: &Site, v: &User) -> String {
    let j = site.issue(&v.name, &["--lifetime", "2h", "--length", "16", "--reusable"]);
    for k in [
        "user",
        "pass",
        "pass_id",
        "starts_at",
        "expires_at",
        "one_time",
        "reset_password",
        "operator",
    ] {
        assert!(j.get(k).is_some(), "issue --json lacks {k}: {j}");
    }
    let code = j["pass"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 16);
    assert_eq!(j["one_time"], false);
    let starts = chrono::DateTime::parse_from_rfc3339(j["starts_at"].as_str().unwrap()).unwrap();
    let ends = chrono::DateTime::parse_from_rfc3339(j["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((ends - starts).num_seconds(), 7200);

    code
}

/// show and list never carry the code; show --json has the record's fields, list --json one row
/// per pass without pass or hash.
fn show_and_list_never_carry_the_code(site: &Site, v: &User, code: &str) {
    let show = site.tapctl(&["show", &v.name, "--json"]);
    let list = site.tapctl(&["list", "--all", "--json"]);
    let human = site.tapctl(&["show", &v.name]);
    for o in [&show, &list, &human] {
        assert!(o.status.success());
        assert!(!stdout(o).contains(code), "the code leaked: {}", stdout(o));
    }
    let s: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(s["status"], "usable");
    for k in [
        "id",
        "user",
        "uid",
        "status",
        "created_at",
        "starts_at",
        "expires_at",
        "one_time",
        "failures",
        "used_at",
        "revoked_at",
        "locked_at",
        "issued_by",
        "reason",
    ] {
        assert!(s.get(k).is_some(), "show --json lacks {k}: {s}");
    }
    let l: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(l.len(), 2);
    assert!(l.iter().all(|r| r.get("pass").is_none() && r.get("hash").is_none()));
}

#[test]
fn one_live_pass_per_user_unless_replace() {
    require_root!();
    let site = Site::new("");
    let u = User::new();
    let first = site.issue(&u.name, &["--keep-password"]);
    refused(
        &site.tapctl(&["issue", &u.name, "--keep-password"]),
        "already holds a live pass",
    );
    let second = site.issue(&u.name, &["--keep-password", "--replace"]);
    assert_ne!(first["pass_id"], second["pass_id"]);
    let all: Vec<serde_json::Value> =
        serde_json::from_slice(&site.tapctl(&["list", "--all", "--json"]).stdout).unwrap();
    let statuses: Vec<&str> = all.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["usable", "revoked"]);
    let live: Vec<serde_json::Value> = serde_json::from_slice(&site.tapctl(&["list", "--json"]).stdout).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(site.events(&u.name), ["issued", "revoked", "issued"]);
}

#[test]
fn refusals_are_one_clear_line() {
    require_root!();
    let site = Site::new("[pass]\nforce_one_time = true\n");
    let u = User::new();
    refused(&site.tapctl(&["issue", "no-such-user-here"]), "no such user");
    refused(&site.tapctl(&["issue", "../etc"]), "not a valid user name");
    refused(
        &site.tapctl(&["issue", &u.name, "--lifetime", "5m"]),
        "outside the policy",
    );
    refused(
        &site.tapctl(&["issue", &u.name, "--lifetime", "31d"]),
        "outside the policy",
    );
    refused(
        &site.tapctl(&["issue", &u.name, "--lifetime", "soon"]),
        "not a duration",
    );
    refused(&site.tapctl(&["issue", &u.name, "--reusable"]), "forces one-time");
    refused(&site.tapctl(&["issue", &u.name, "--length", "7"]), "--length 7");
    refused(&site.tapctl(&["issue", &u.name, "--length", "49"]), "--length 49");
    refused(&site.tapctl(&["issue", &u.name, "--start", "tomorrow"]), "RFC 3339");
    refused(
        &site.tapctl(&["issue", &u.name, "--start", "2001-01-01T00:00:00Z"]),
        "expired already",
    );
    refused(&site.tapctl(&["issue", "daemon"]), "below min_uid");
    refused(&site.tapctl(&["issue", "root"]), "own pass");
    refused(&site.tapctl(&["show", &u.name]), "holds no pass");
    refused(&site.tapctl(&["revoke", &u.name]), "no pass to revoke");
    // Nothing was written by any refusal.
    assert!(site.events(&u.name).is_empty());
    // A bad config is named with its key.
    std::fs::write(&site.config, "enabled = true\n[pass]\nlength = 99\n").unwrap();
    refused(&site.tapctl(&["issue", &u.name]), "pass.length");
    // Usage errors are clap's (exit 2).
    assert_eq!(
        site.tapctl(&["issue", &u.name, "--one-time", "--reusable"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn roles_decide_who_may_do_what() {
    require_root!();
    let (helpdesk, privileged, viewers, admins) = (Group::new(), Group::new(), Group::new(), Group::new());
    let site = Site::new(&format!(
        "[roles]\nissuers = [\"{}\"]\nprivileged_issuers = [\"{}\"]\nviewers = [\"{}\"]\nadmin_groups = [\"{}\"]\n",
        helpdesk.name, privileged.name, viewers.name, admins.name
    ));
    let (issuer, boss, viewer, nobody, target, admin) = (
        User::new(),
        User::new(),
        User::new(),
        User::new(),
        User::new(),
        User::new(),
    );
    issuer.add_group(&helpdesk.name);
    boss.add_group(&privileged.name);
    viewer.add_group(&viewers.name);
    admin.add_group(&admins.name);
    let as_op = |op: &User, args: &[&str]| site.tapctl_env(args, &[("SUDO_USER", &op.name)]);

    // An issuer acts on ordinary users, never on admins or on themselves; the audit names them.
    assert!(as_op(&issuer, &["issue", &target.name, "--keep-password"])
        .status
        .success());
    refused(
        &as_op(&issuer, &["issue", &admin.name, "--keep-password"]),
        "admin group",
    );
    refused(&as_op(&issuer, &["issue", &issuer.name, "--keep-password"]), "own pass");
    refused(&as_op(&issuer, &["revoke", &admin.name]), "admin group");
    refused(&as_op(&issuer, &["purge"]), "needs the privileged_issuer role");
    // A privileged issuer may act on admins.
    assert!(as_op(&boss, &["issue", &admin.name, "--keep-password"])
        .status
        .success());
    assert!(as_op(&boss, &["purge"]).status.success());
    // A viewer lists and shows only.
    assert!(as_op(&viewer, &["list"]).status.success());
    assert!(as_op(&viewer, &["show", &target.name]).status.success());
    assert!(as_op(&viewer, &["log"]).status.success());
    refused(&as_op(&viewer, &["issue", &nobody.name]), "viewer");
    refused(&as_op(&viewer, &["revoke", &target.name]), "viewer");
    // No role, no access.
    refused(&as_op(&nobody, &["list"]), "holds no tapctl role");
    the_audit_names_who_issued(&site, &[&issuer.name, &boss.name]);
    tapctl_refuses_a_caller_without_root(&site);
}

/// The `issued` rows of the whole audit log name `operators`, in order.
fn the_audit_names_who_issued(site: &Site, operators: &[&str]) {
    let log: Vec<serde_json::Value> = serde_json::from_slice(&site.tapctl(&["log", "--json"]).stdout).unwrap();
    let issued_by: Vec<&str> = log
        .iter()
        .filter(|e| e["event"] == "issued")
        .map(|e| e["operator"].as_str().unwrap())
        .collect();
    assert_eq!(issued_by, operators);
}

/// Run without root at all (nobody): tapctl does not succeed.
fn tapctl_refuses_a_caller_without_root(site: &Site) {
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            crate::support::paths::tapctl().to_str().unwrap(),
            "--config",
        ])
        .arg(&site.config)
        .arg("list")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn revoke_purge_log_policy_and_init() {
    require_root!();
    let site = Site::new("");
    let u = User::new();
    site.issue(&u.name, &["--keep-password"]);
    let out = site.tapctl(&["revoke", &u.name, "--reason", "lost it"]);
    assert!(out.status.success(), "{}", stderr(&out));
    refused(&site.tapctl(&["purge", "--older-than", "forever"]), "not a duration");
    let out = site.tapctl(&["purge", "--older-than", "1h"]);
    assert!(stdout(&out).contains("purged 0"), "{}", stdout(&out));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = site.tapctl(&["purge", "--older-than", "0s"]);
    assert!(stdout(&out).contains("purged 1"), "{}", stdout(&out));
    assert_eq!(
        site.events(&u.name),
        ["issued", "revoked", "purged"],
        "purge keeps the audit"
    );
    let log = stdout(&site.tapctl(&["log", &u.name]));
    assert!(log.contains("reason=lost it") && log.contains("operator=root"), "{log}");

    let p: serde_json::Value = serde_json::from_slice(&site.tapctl(&["policy", "--json"]).stdout).unwrap();
    assert_eq!(p["length"], 10);
    assert_eq!(p["max_failures"], 5);
    assert_eq!(p["lifetime_max"], "15days");
    assert!(stdout(&site.tapctl(&["policy"])).contains("min_uid = 1000"));

    // init is idempotent.
    assert!(site.tapctl(&["init"]).status.success());
    assert_eq!(site.events(&u.name).len(), 3);
}

#[test]
fn revoke_json_names_the_pass_and_whether_the_password_came_back() {
    require_root!();
    let site = Site::new("");
    let u = User::with_password("Old-Passw0rd-55");
    let issued = site.issue(&u.name, &[]);
    // The Cockpit page's form: options first, `--` before the user name.
    let out = site.tapctl(&["revoke", "--json", "--reason=lost it", "--", &u.name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"user": u.name, "pass_id": issued["pass_id"], "restored": true})
    );
}

#[test]
fn a_reader_that_goes_away_ends_tapctl_quietly() {
    require_root!();
    use std::os::unix::process::ExitStatusExt;
    let site = Site::new("");
    // `tapctl policy | head -0`: the reader is gone before tapctl writes its first line.
    let mut c = site.tapctl_cmd(&["policy"], &[], None);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
}

#[test]
fn a_config_holding_the_stores_password_must_be_root_only() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new("");
    let u = User::new();
    // A fleet URI with a password libpq reads past an unencoded `?` (the store need not exist: the
    // file is refused before anything connects).
    let secret = "Xy9?Qz#7";
    let text = format!("enabled = true\ndatabase = \"postgresql://host_a:{secret}@127.0.0.1:1/pam_tap\"\n");
    std::fs::write(&site.config, text).unwrap();
    for mode in [0o640, 0o644] {
        std::fs::set_permissions(&site.config, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = site.tapctl(&["policy"]);
        refused(&o, "chmod 600");
        assert!(
            !stderr(&o).contains(secret) && !stdout(&o).contains(secret),
            "{}",
            stderr(&o)
        );
        let run = site.pam(&u.name, &["authenticate"], &["ABCD-EFGH-JK"]);
        assert_ne!(run.result("authenticate"), "PAM_SUCCESS");
        assert!(
            site.log.settled_lines().iter().any(|l| l.contains("chmod 600")),
            "{:?}",
            site.log.settled_lines()
        );
        let d = site.tapctl(&["doctor", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
        let checks = report["checks"].as_array().unwrap();
        let config = checks.iter().find(|c| c["check"] == "config").unwrap();
        assert_eq!(config["status"], "fail", "{config}");
        assert!(config["fix"].as_str().unwrap().starts_with("chmod 600"), "{config}");
        assert!(!String::from_utf8_lossy(&d.stdout).contains(secret));
    }
    std::fs::set_permissions(&site.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = site.tapctl(&["policy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("password=***") && !stdout(&o).contains(secret),
        "{}",
        stdout(&o)
    );
}
