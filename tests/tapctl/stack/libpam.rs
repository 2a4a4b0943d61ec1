//! The built pam_tap.so loaded by the real libpam (pam_start_confdir with a private pam.d), against
//! real throwaway users, real pam_unix, a temp config and database.

use crate::support::accounts::User;
use crate::support::drive::{drive_args, run};
use crate::support::site::Site;
use std::process::Command;

const NEW_PW: &str = "Fresh-Horse-Battery-42";

fn pass(v: &serde_json::Value) -> String {
    v["pass"].as_str().unwrap().to_string()
}

#[test]
fn first_login_with_a_pass_forces_a_change_without_a_current_password() {
    require_root!();
    let site = Site::new("");
    let u = User::with_password("Old-Password-99");
    let issued = site.issue(&u.name, &[]);
    assert_eq!(issued["reset_password"], true);
    assert_eq!(issued["one_time"], true);
    // The reset: the old password is gone, a change is forced, and the raw pass is not the password.
    let line = u.shadow();
    assert!(line.split(':').nth(2) == Some("0"), "{line}");
    let d = site.pam(&u.name, &["authenticate"], &["Old-Password-99"]);
    assert_eq!(d.result("authenticate"), "PAM_AUTH_ERR");

    let code = pass(&issued);
    let d = site.pam(
        &u.name,
        &["authenticate", "acct_mgmt", "chauthtok_expired"],
        &[&code, NEW_PW, NEW_PW],
    );
    assert_eq!(d.result("authenticate"), "PAM_SUCCESS", "{}", d.stdout);
    assert_eq!(d.result("acct_mgmt"), "PAM_NEW_AUTHTOK_REQD", "{}", d.stdout);
    assert_eq!(d.result("chauthtok_expired"), "PAM_SUCCESS", "{}", d.stdout);
    assert_eq!(
        d.prompts,
        ["Password: ", "New password: ", "Retype new password: "],
        "no current-password prompt"
    );
    let line = u.shadow();
    assert!(
        line.split(':').nth(1).unwrap().starts_with("$y$"),
        "pam_unix wrote a yescrypt hash: {line}"
    );
    assert_ne!(line.split(':').nth(2), Some("0"));

    let d = site.pam(&u.name, &["authenticate", "acct_mgmt"], &[NEW_PW]);
    assert_eq!(
        (d.result("authenticate"), d.result("acct_mgmt")),
        ("PAM_SUCCESS", "PAM_SUCCESS"),
        "{}",
        d.stdout
    );
    let d = site.pam(&u.name, &["authenticate"], &[&code]);
    assert_eq!(
        d.result("authenticate"),
        "PAM_AUTH_ERR",
        "the pass is dead once the password changed"
    );
    assert_eq!(site.show(&u.name)["status"], "used");
    // `reset`: the changed password ended the reset, and the pass's derive key is gone.
    assert_eq!(site.events(&u.name), ["issued", "used", "reset", "refused"]);
}

#[test]
fn a_non_root_caller_changes_the_password_too() {
    require_root!();
    // su and sudo run setuid root: real uid is the caller, effective uid 0, and pam_unix asks for
    // the current password. A setuid copy of the driver run as another user is that situation.
    let site = Site::new("");
    let u = User::new();
    let caller = User::new();
    let bindir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bindir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let suid = bindir.path().join("pam_drive");
    std::fs::copy(crate::support::paths::pam_drive(), &suid).unwrap();
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let code = pass(&site.issue(&u.name, &[]));
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={}", caller.uid()))
        .arg(format!("--regid={}", caller.uid()))
        .arg("--clear-groups")
        .arg(&suid);
    let ops = ["authenticate", "acct_mgmt", "chauthtok_expired"];
    let d = run(
        drive_args(cmd, &site.pamd, "svc", &u.name, &ops),
        &[&code, NEW_PW, NEW_PW],
    )
    .expect_ran();
    assert_eq!(d.result("authenticate"), "PAM_SUCCESS", "{}", d.stdout);
    assert_eq!(d.result("acct_mgmt"), "PAM_NEW_AUTHTOK_REQD", "{}", d.stdout);
    assert_eq!(d.result("chauthtok_expired"), "PAM_SUCCESS", "{}", d.stdout);
    assert!(!d.prompts.iter().any(|p| p.contains("Current")), "{:?}", d.prompts);
    let d = site.pam(&u.name, &["authenticate"], &[NEW_PW]);
    assert_eq!(d.result("authenticate"), "PAM_SUCCESS");
}

#[test]
fn wrong_expired_not_yet_valid_and_revoked_passes_are_refused() {
    require_root!();
    let site = Site::new("");
    let u = User::new();
    let code = pass(&site.issue(&u.name, &["--keep-password"]));
    let d = site.pam(&u.name, &["authenticate"], &["ABCD-EFGH-JK"]);
    assert_eq!(d.result("authenticate"), "PAM_AUTH_ERR");
    assert_eq!(site.show(&u.name)["failures"], 1);

    // Expired: move the window into the past.
    let conn = rusqlite::Connection::open(&site.db).unwrap();
    conn.execute(
        "UPDATE passes SET starts_at = starts_at - 7200, expires_at = expires_at - 7200",
        [],
    )
    .unwrap();
    assert_eq!(site.show(&u.name)["status"], "expired");
    assert_eq!(
        site.pam(&u.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_AUTH_ERR"
    );

    let v = User::new();
    let code = pass(&site.issue(&v.name, &["--keep-password", "--start", "+1h"]));
    assert_eq!(site.show(&v.name)["status"], "not_yet_valid");
    assert_eq!(
        site.pam(&v.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_AUTH_ERR"
    );
    let out = site.tapctl(&["revoke", &v.name, "--reason", "left the company"]);
    assert!(out.status.success());
    assert_eq!(site.show(&v.name)["status"], "revoked");
    assert_eq!(
        site.pam(&v.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_AUTH_ERR"
    );
    assert_eq!(site.events(&u.name), ["issued", "failed", "refused"]);
    assert_eq!(site.events(&v.name), ["issued", "refused", "revoked", "refused"]);
}

#[test]
fn reusable_works_twice_one_time_does_not() {
    require_root!();
    let site = Site::new("");
    let u = User::new();
    let code = pass(&site.issue(&u.name, &["--keep-password", "--reusable"]));
    for _ in 0..2 {
        let d = site.pam(&u.name, &["authenticate", "acct_mgmt"], &[&code]);
        assert_eq!(
            (d.result("authenticate"), d.result("acct_mgmt")),
            ("PAM_SUCCESS", "PAM_SUCCESS"),
            "{}",
            d.stdout
        );
    }
    assert_eq!(site.show(&u.name)["use_count"], 2);

    let v = User::new();
    let code = pass(&site.issue(&v.name, &["--keep-password", "--one-time"]));
    assert_eq!(
        site.pam(&v.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_SUCCESS"
    );
    assert_eq!(
        site.pam(&v.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_AUTH_ERR"
    );
    assert_eq!(site.show(&v.name)["status"], "used");
}

#[test]
fn policy_switch_and_target_groups_are_enforced_at_login() {
    require_root!();
    let site = Site::new("");
    let u = User::new();
    let code = pass(&site.issue(&u.name, &["--keep-password", "--reusable"]));
    site.write_config("");
    std::fs::write(
        &site.config,
        std::fs::read_to_string(&site.config)
            .unwrap()
            .replace("enabled = true", "enabled = false"),
    )
    .unwrap();
    let d = site.pam(&u.name, &["authenticate"], &[&code]);
    assert_eq!(
        d.result("authenticate"),
        "PAM_AUTH_ERR",
        "pam_unix must not take the raw pass"
    );
    assert_eq!(d.prompts.len(), 1, "one prompt when disabled: {:?}", d.prompts);
    assert_eq!(site.show(&u.name)["status"], "disabled_by_policy");

    site.write_config("[users]\ninclude_groups = [\"tap-nobody-group\"]\n");
    assert_eq!(
        site.pam(&u.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_AUTH_ERR"
    );
    assert_eq!(site.events(&u.name).last().unwrap(), "refused");
    site.write_config("");
    assert_eq!(
        site.pam(&u.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_SUCCESS"
    );
}

#[test]
fn max_failures_rest_the_pass() {
    require_root!();
    let site = Site::new("[pass]\nmax_failures = 3\n");
    let u = User::new();
    let code = pass(&site.issue(&u.name, &["--keep-password"]));
    let results: Vec<String> = ["ABCDEFGHJK", "ABCDEFGHJM", "ABCDEFGHJN"]
        .iter()
        .map(|w| {
            site.pam(&u.name, &["authenticate"], &[w])
                .result("authenticate")
                .to_string()
        })
        .collect();
    // The stack ignores pam_tap's failure codes and lets pam_unix judge; the answer fails there too.
    assert_eq!(results, ["PAM_AUTH_ERR", "PAM_AUTH_ERR", "PAM_AUTH_ERR"]);
    assert_eq!(site.show(&u.name)["status"], "resting");
    assert_eq!(
        site.pam(&u.name, &["authenticate"], &[&code]).result("authenticate"),
        "PAM_AUTH_ERR"
    );
    assert_eq!(
        site.events(&u.name),
        ["issued", "failed", "failed", "failed", "resting", "refused"]
    );
}

#[test]
fn users_without_a_pass_fall_through_to_pam_unix_with_one_prompt() {
    require_root!();
    let site = Site::new("");
    let u = User::with_password("Plain-Password-7");
    let d = site.pam(&u.name, &["authenticate", "acct_mgmt"], &["Plain-Password-7"]);
    assert_eq!(
        (d.result("authenticate"), d.result("acct_mgmt")),
        ("PAM_SUCCESS", "PAM_SUCCESS"),
        "{}",
        d.stdout
    );
    assert_eq!(d.prompts, ["Password: "]);
    let d = site.pam(&u.name, &["authenticate"], &["wrong"]);
    assert_eq!(d.result("authenticate"), "PAM_AUTH_ERR");
    assert_eq!(d.prompts.len(), 1);
    // A user holding a pass can still log in with their own password in keep-password mode.
    site.issue(&u.name, &["--keep-password"]);
    let d = site.pam(&u.name, &["authenticate"], &["Plain-Password-7"]);
    assert_eq!(d.result("authenticate"), "PAM_SUCCESS");
    assert_eq!(d.prompts.len(), 1);
    // An ordinary `passwd` by root for this user is untouched by pam_tap: no extra prompt.
    let d = site.pam(&u.name, &["chauthtok"], &["Next-Password-8", "Next-Password-8"]);
    assert_eq!(d.result("chauthtok"), "PAM_SUCCESS", "{}", d.stdout);
    assert_eq!(d.prompts, ["New password: ", "Retype new password: "]);
}

#[test]
fn revoking_an_unused_pass_restores_the_old_password() {
    require_root!();
    let site = Site::new("");
    let u = User::with_password("Old-Password-99");
    let before = u.shadow();
    site.issue(&u.name, &[]);
    assert_ne!(u.shadow(), before);
    let out = site.tapctl(&["revoke", &u.name]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("previous password is back"));
    assert_eq!(u.shadow(), before);
    assert_eq!(
        site.pam(&u.name, &["authenticate"], &["Old-Password-99"])
            .result("authenticate"),
        "PAM_SUCCESS"
    );
}

fn race(site: &Site, user: &str, code: &str, n: usize) -> (usize, usize) {
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut c = Command::new(crate::support::paths::pam_drive());
            c.arg("--confdir").arg(&site.pamd).args(["svc", user, "authenticate"]);
            c.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped());
            let mut child = c.spawn().unwrap();
            use std::io::Write;
            writeln!(child.stdin.take().unwrap(), "{code}").unwrap();
            child
        })
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned())
        .collect();
    let ok = outputs
        .iter()
        .filter(|o| o.contains("result authenticate=PAM_SUCCESS"))
        .count();
    let refused = outputs
        .iter()
        .filter(|o| o.contains("result authenticate=PAM_AUTH_ERR"))
        .count();
    (ok, refused)
}

#[test]
fn thirty_two_processes_racing_one_one_time_pass_yield_one_success() {
    require_root!();
    let site = Site::new("");
    // Without and with the password reset (whose grace window must not let racers in).
    for extra in [&["--keep-password"][..], &[]] {
        let u = User::new();
        let code = pass(&site.issue(&u.name, &[&["--one-time"][..], extra].concat()));
        let result = race(&site, &u.name, &code, 32);
        let ev = site.events(&u.name);
        assert_eq!(result, (1, 31), "{extra:?}: {ev:?}");
        assert_eq!(ev.iter().filter(|e| *e == "used").count(), 1);
        assert_eq!(ev.iter().filter(|e| *e == "grace_used").count(), 0);
        assert_eq!(site.show(&u.name)["use_count"], 1);
    }
}
