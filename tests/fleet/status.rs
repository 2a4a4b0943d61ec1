//! `tapctl status` on the fleet store agrees with host-a's module: for each state a pass can be in
//! that the store decides (window, use, revocation, lock, back-off rest, host and service scope,
//! enrollment-only, the uid the pass was issued for), tapctl's admin connection is asked `status
//! --host host-a --service only-a --json`, then the module runs at host-a as its host role with the
//! pass itself (pam_tap alone on the stack, with DEBUG lines), and the two must agree: usable ⇔ the
//! module accepts, and for a refusal the module's auth line gives the outcome `status` says it will
//! log. The states of the account and the policy are the same code on either store
//! (tests/tapctl/status.rs).

use crate::site::fleet;
use crate::support::accounts::User;
use crate::support::figures::figure;
use crate::support::site::{module_line, only_stack, stderr, Site};

/// A pass-shaped answer for cells with no pass of their own.
const ANY_PASS: &str = "ABCDEFGHJK";

/// One state: the reason status should give, the user and what they type at host-a.
struct Cell {
    state: &'static str,
    user: String,
    answer: String,
}

/// A fresh user with a pass issued with `extra`; both.
fn issued(f: &Site, users: &mut Vec<User>, extra: &[&str]) -> (String, String) {
    let u = User::new();
    let name = u.name.clone();
    users.push(u);
    let pass = f.issue_keeping(&name, extra).pass;
    (name, pass)
}

/// The module at host-a: its code and its auth line.
fn module(f: &Site, user: &str, answer: &str) -> (String, String) {
    f.log.clear();
    let run = f.auth("only-a", user, answer);
    let lines = f.log.settled_lines();
    let line = lines
        .iter()
        .find(|l| l.contains("auth service=") && (l.contains(&format!("user={user} ")) || l.contains("user=(unknown)")))
        .cloned()
        .unwrap_or_else(|| panic!("no auth line for {user}: {lines:?}"));
    (run.auth().to_string(), line)
}

/// Updates `user`'s pass as the superuser, as the other fleet tests move the clock.
fn tamper(f: &Site, set: &str, user: &str) {
    f.psql(&format!("UPDATE pam_tap.passes SET {set} WHERE user_name = '{user}'"));
}

fn build(f: &Site, users: &mut Vec<User>) -> Vec<Cell> {
    let mut cells = vec![];
    let mut cell = |state, user: String, answer: String| cells.push(Cell { state, user, answer });
    let (u, p) = issued(f, users, &[]);
    cell("usable", u, p);
    cell("unknown_user", "taptnosuchuser".into(), ANY_PASS.into());
    let nobody = User::new();
    cell("no_pass", nobody.name.clone(), ANY_PASS.into());
    users.push(nobody);
    let (u, p) = issued(f, users, &["--service", "full-a"]);
    cell("service_out_of_scope", u, p);
    let (u, p) = issued(f, users, &["--host", "host-b"]);
    cell("host_out_of_scope", u, p);
    let (u, p) = issued(f, users, &["--enroll-key"]);
    cell("enroll_only", u, p);
    let (u, p) = issued(f, users, &["--start", "+10m"]);
    cell("not_yet_valid", u, p);
    let (u, p) = issued(f, users, &[]);
    tamper(f, "expires_at = extract(epoch FROM now())::bigint - 1", &u);
    cell("expired", u, p);
    let (u, p) = issued(f, users, &["--one-time"]);
    assert_eq!(f.auth("only-b", &u, &p).auth(), "PAM_SUCCESS", "used at host-b first");
    cell("used", u, p);
    let (u, p) = issued(f, users, &[]);
    f.tapctl_ok(&["revoke", &u]);
    cell("revoked", u, p);
    let (u, p) = issued(f, users, &[]);
    tamper(f, "locked_at = extract(epoch FROM now())::bigint", &u);
    cell("locked", u, p);
    let (u, p) = issued(f, users, &["--reusable"]);
    // Two wrong answers at host-c: the pass rests, on every host.
    for wrong in ["ABCDEFGHJK", "ABCDEFGHJM"] {
        assert_ne!(f.auth("only-c", &u, wrong).auth(), "PAM_SUCCESS");
    }
    cell("resting", u, p);
    // The account deleted and made again under its name: the uid the store kept for the pass is
    // not the account's now.
    let (u, p) = issued(f, users, &[]);
    users.last().unwrap().remake();
    cell("uid_changed", u, p);
    cells
}

#[test]
fn status_on_the_fleet_store_agrees_with_the_hosts_module() {
    require_root!();
    let f = fleet("[pass]\nmax_failures = 2\nlockout = \"10m\"\n");
    // host-a's pam_tap alone, with DEBUG lines (no pass and unknown users log only at DEBUG).
    let debug = f.module_args_on(&f.host_config("a"), "debug");
    f.write_service("only-a", &only_stack(&module_line(&debug)));
    let mut users = vec![];
    let cells = build(&f, &mut users);
    for c in &cells {
        let args = ["status", &c.user, "--host", "host-a", "--service", "only-a", "--json"];
        let out = f.tapctl(&args);
        assert!(out.status.success(), "{}: {}", c.state, stderr(&out));
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (code, line) = module(&f, &c.user, &c.answer);
        eprintln!(
            "cell {:<22} status {:<22} module {code:<13} {line}",
            c.state, s["reason"]
        );
        assert_eq!(s["reason"], c.state, "{s}");
        assert_eq!(
            s["usable"] == true,
            code == "PAM_SUCCESS",
            "{}: {s} but {code}: {line}",
            c.state
        );
        let want = format!("outcome={}", s["log_outcome"].as_str().unwrap());
        assert!(
            line.contains(&format!("{want} ")) || line.ends_with(&want),
            "{}: status says the module logs {want}: {line}",
            c.state
        );
    }
    f.check_no_secrets();
    figure(
        "status_agreement_fleet",
        &format!(
            "{} cells, tapctl status (admin connection) and host-a's module agree on each",
            cells.len()
        ),
    );
}
