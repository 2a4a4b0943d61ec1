//! First login with a Temporary Access Pass through the real clients (issue 3): OpenSSH in
//! keyboard-interactive and password mode, /bin/login on a pty, and su, each driven on a pty the way a
//! person types. See tests/e2e/harness.rs for how the private sshd and the private PAM stack are set up
//! without touching the host's /etc/pam.d or sshd_config.
//!
//! Runs only as root (skips loudly otherwise). The module must be built first (`cargo build`).

// These tests drive real programs against the real clock (pass windows, the grace window).
#![allow(clippy::disallowed_methods)]

use crate::harness::*;
use pam_tap::core::CHOOSE_NEW_PASSWORD;

/// The harness itself, with pam_unix only: a forced password change (`chage -d 0`) over ssh
/// keyboard-interactive, ssh password method, login on a pty and su from an unprivileged user. If this
/// fails, the problem is the test machine, not pam_tap.
#[test]
fn e2e_harness_pam_unix_baseline() {
    if !can_run("e2e_harness_pam_unix_baseline") {
        return;
    }
    let scratch = scratch();
    let pam = PamDir::new(&scratch, Stack::UnixOnly, "");
    let user = User::with_password("Ok7-first-Word");
    let caller = User::new();

    // ssh, keyboard-interactive: pam_unix asks for the current password, then the new one.
    user.force_change();
    let sshd = Sshd::start(&scratch, &pam, SshMethod::KeyboardInteractive);
    let mut steps = vec![
        expect("Password: $"),
        send("Ok7-first-Word"),
        expect("required to change your password"),
        expect("Current password: $"),
        send("Ok7-first-Word"),
        expect("New password: $"),
        send("Ok7-second-Word"),
        expect("Retype new password: $"),
        send("Ok7-second-Word"),
    ];
    steps.extend(shell_as(&user.name));
    let t = drive(&scratch, &steps, &sshd.ssh(&user.name, &[]));
    assert_drove(&t, "ssh kbd-int forced change", Some(&sshd));
    drop(sshd);

    // ssh, password method: sshd runs passwd on the tty and logs the user out.
    user.force_change();
    let sshd = Sshd::start(&scratch, &pam, SshMethod::Password);
    let steps = vec![
        expect("password: $"),
        send("Ok7-second-Word"),
        expect("You must change your password now and login again!"),
        expect("Current password: $"),
        send("Ok7-second-Word"),
        expect("New password: $"),
        send("Ok7-third-Word"),
        expect("Retype new password: $"),
        send("Ok7-third-Word"),
        expect("password updated successfully"),
        Step::Eof,
    ];
    let t = drive(&scratch, &steps, &sshd.ssh(&user.name, &[]));
    assert_drove(&t, "ssh password method forced change", Some(&sshd));
    drop(sshd);

    // login on a pty, as getty runs it.
    user.force_change();
    let mut steps = vec![
        expect("login: $"),
        send(&user.name),
        expect("Password: $"),
        send("Ok7-third-Word"),
        expect("Current password: $"),
        send("Ok7-third-Word"),
        expect("New password: $"),
        send("Ok7-fourth-Word"),
        expect("Retype new password: $"),
        send("Ok7-fourth-Word"),
    ];
    steps.extend(shell_as(&user.name));
    let t = drive(&scratch, &steps, &pam.wrap(&[tool("login").to_str().unwrap()]));
    assert_drove(&t, "login forced change", None);

    // su from an unprivileged user's shell.
    user.force_change();
    let t = drive(
        &scratch,
        &su_steps(
            &caller,
            &user,
            "Ok7-fourth-Word",
            &[
                expect("Current password: $"),
                send("Ok7-fourth-Word"),
                expect("New password: $"),
                send("Ok7-fifth-Word"),
                expect("Retype new password: $"),
                send("Ok7-fifth-Word"),
            ],
        ),
        &su_argv(&pam, &caller),
    );
    assert_drove(&t, "su forced change", None);
}

/// argv for an interactive shell of `caller` (an unprivileged user) in the private PAM namespace.
fn su_argv(pam: &PamDir, caller: &User) -> Vec<String> {
    pam.wrap(&[
        tool("setpriv").to_str().unwrap(),
        "--reuid",
        &caller.name,
        "--regid",
        &caller.name,
        "--init-groups",
        "--reset-env",
        "/bin/bash",
        "--noprofile",
        "--norc",
        "-i",
    ])
}

/// `caller` types `su - target`, answers the password prompt with `secret`, then `between`, then
/// checks the shell is target's and leaves both shells.
fn su_steps(caller: &User, target: &User, secret: &str, between: &[Step]) -> Vec<Step> {
    let mut steps = vec![
        expect(r"\$ $"),
        send("echo E2E-CALLER-$(id -u)"),
        expect(&format!(r"E2E-CALLER-{}\r?\n", caller.uid())),
        send(&format!("su - {}", target.name)),
        expect("Password: $"),
        send(secret),
    ];
    steps.extend_from_slice(between);
    steps.extend([
        expect(r"\$ $"),
        send("echo E2E-WHOAMI-$(id -un)"),
        expect(&format!(r"E2E-WHOAMI-{}\r?\n", target.name)),
        send("exit"),
        expect(r"\$ $"),
        send("exit"),
        Step::Eof,
    ]);
    steps
}

/// The account's password as set at useradd time, before any pass (reset by an issue).
const OWN: &str = "Own7-before-Tap";
/// The password the user chooses at first login.
const NEW: &str = "New8-after-Tap";

/// Days field 3 of a shadow line ("last change"): 0 means a change is forced.
fn lastchg(shadow: &str) -> &str {
    shadow.split(':').nth(2).unwrap_or("")
}

/// Steps for one ssh login attempt that must be refused.
fn refused_ssh(secret: &str) -> Vec<Step> {
    vec![expect("assword: $"), send(secret), Step::Eof]
}

#[track_caller]
fn assert_refused(t: &Transcript, want: &str, what: &str, sshd: Option<&Sshd>) {
    if t.code == 0 || t.failed_to_drive() || !t.text.contains(want) {
        panic!(
            "{what}: expected a refusal with {want:?}; exit {}\n--- terminal ---\n{}\n--- sshd ---\n{}",
            t.code,
            t.text,
            sshd.map(|s| s.log_text()).unwrap_or_default()
        );
    }
}

/// Flow 1: ssh keyboard-interactive. TAP → told the password must change → "New password" twice →
/// shell, with no "Current password" prompt; the new password logs in; the one-time TAP is refused.
#[test]
fn e2e_ssh_keyboard_interactive_first_login() {
    if !can_run("e2e_ssh_keyboard_interactive_first_login") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::KeyboardInteractive);
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    assert_eq!(lastchg(&reset), "0", "issue forces a change: {reset}");
    // Issuing is an admin reset: the account's old password stops working at once.
    let old_pw = drive(&tap.dir, &refused_ssh(OWN), &sshd.ssh(&user.name, &[]));
    assert_refused(
        &old_pw,
        "Permission denied",
        "the old password after issue",
        Some(&sshd),
    );
    assert_eq!(user.shadow(), reset);

    let mut steps = vec![
        expect("Password: $"),
        send(&issued.pass),
        expect(r"You are required to change your password immediately"),
        expect(CHOOSE_NEW_PASSWORD),
        expect("New password: $"),
        send(NEW),
        expect("Retype new password: $"),
        send(NEW),
    ];
    steps.extend(shell_as(&user.name));
    let first = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
    tap.assert_drove(&first, "first login with the TAP", Some(&sshd));
    assert!(
        !first.text.contains("Current password"),
        "asked for a current password:\n{}",
        first.text
    );
    assert_ne!(user.shadow(), reset, "the new password was not written");
    assert_ne!(lastchg(&user.shadow()), "0");

    let mut steps = vec![expect("Password: $"), send(NEW)];
    steps.extend(shell_as(&user.name));
    let again = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
    tap.assert_drove(&again, "login with the new password", Some(&sshd));

    let before = user.shadow();
    let tap_again = drive(&tap.dir, &refused_ssh(&issued.pass), &sshd.ssh(&user.name, &[]));
    assert_refused(&tap_again, "Permission denied", "the used TAP", Some(&sshd));
    assert_eq!(user.shadow(), before);
    assert_eq!(tap.show(&user)["status"], "used");
    let events = tap.events(&user);
    assert!(events.iter().any(|e| e.starts_with("used")), "{events:?}");
    assert!(events.iter().any(|e| e == "refused:used"), "{events:?}");

    keep_transcript(
        "flow1-ssh-keyboard-interactive",
        &[
            ("First login: the TAP at the password prompt", &first),
            ("Reconnect with the new password", &again),
            ("The TAP again: refused", &tap_again),
        ],
    );
}

/// The least time between two logins with one pass inside the grace window (pam_tap's
/// GRACE_RELOGIN_GAP, 10 s, plus a second for the clock's whole seconds).
const RELOGIN_GAP: chrono::Duration = chrono::Duration::seconds(11);

/// Waits until a re-login with the pass may be accepted: RELOGIN_GAP after its last use.
fn wait_out_relogin_gap(tap: &Tap, user: &User) {
    let last = tap
        .audit(user)
        .iter()
        .filter(|e| matches!(e["event"].as_str(), Some("used" | "grace_used")))
        // `log --json` gives `at` in Unix seconds; accept RFC 3339 too, as `show --json` uses.
        .filter_map(|e| match &e["at"] {
            serde_json::Value::Number(n) => chrono::DateTime::from_timestamp(n.as_i64()?, 0),
            serde_json::Value::String(t) => chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.to_utc()),
            _ => None,
        })
        .max()
        .expect("the pass was never used");
    let until = last + RELOGIN_GAP;
    assert!(
        until < chrono::Utc::now() + chrono::Duration::seconds(30),
        "last use {last}"
    );
    while chrono::Utc::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Flow 2: ssh password method (Debian's default). Without a tty the login is refused by sshd and,
/// with `[handoff] relogin = true`, nothing is lost; on a tty sshd runs passwd, the TAP is typed again
/// at "Current password:", the new password is set, the user is logged out, and the new password logs
/// in. (With the shipped `relogin = false` the no-tty attempt spends a one-time pass: see
/// e2e_ssh_password_method_without_tty_spends_a_one_time_pass.)
#[test]
fn e2e_ssh_password_method_first_login() {
    if !can_run("e2e_ssh_password_method_first_login") {
        return;
    }
    let tap = Tap::with_config("[handoff]\nrelogin = true\n");
    let user = User::with_password(OWN);
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::Password);
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();

    let no_tty = drive(&tap.dir, &refused_ssh(&issued.pass), &sshd.ssh(&user.name, &["true"]));
    assert_refused(
        &no_tty,
        "Password change required but no TTY available",
        "ssh host true",
        Some(&sshd),
    );
    assert_eq!(user.shadow(), reset, "a refused no-tty login changed the account");
    // A person reads sshd's message and tries again on a tty; pam_tap accepts the used pass again
    // only some seconds after its last use (so that racing logins cannot share a one-time pass).
    wait_out_relogin_gap(&tap, &user);

    let first = drive(
        &tap.dir,
        &[
            expect("password: $"),
            send(&issued.pass),
            expect("You must change your password now and login again!"),
            expect("Current password: $"),
            send(&issued.pass),
            expect(CHOOSE_NEW_PASSWORD),
            expect("New password: $"),
            send(NEW),
            expect("Retype new password: $"),
            send(NEW),
            expect("password updated successfully"),
            Step::Eof,
        ],
        &sshd.ssh(&user.name, &[]),
    );
    tap.assert_drove(&first, "first login with the TAP (password method)", Some(&sshd));
    assert_ne!(user.shadow(), reset, "the new password was not written");

    let mut steps = vec![expect("password: $"), send(NEW)];
    steps.extend(shell_as(&user.name));
    let again = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
    tap.assert_drove(&again, "login with the new password", Some(&sshd));

    let before = user.shadow();
    let tap_again = drive(&tap.dir, &refused_ssh(&issued.pass), &sshd.ssh(&user.name, &[]));
    assert_refused(&tap_again, "Permission denied", "the used TAP", Some(&sshd));
    assert_eq!(user.shadow(), before);
    let events = tap.events(&user);
    assert!(
        events.iter().filter(|e| e.starts_with("grace_used")).count() >= 2,
        "the tty login and passwd's prompt should both be grace uses: {events:?}"
    );

    keep_transcript(
        "flow2-ssh-password-method",
        &[
            ("`ssh host true` with the TAP: no tty, refused", &no_tty),
            ("Login on a tty with the TAP: sshd runs passwd", &first),
            ("Reconnect with the new password", &again),
            ("The TAP again: refused", &tap_again),
        ],
    );
}

/// Flow 3: /bin/login on a pty, as getty runs it.
#[test]
fn e2e_console_login_first_login() {
    if !can_run("e2e_console_login_first_login") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let issued = tap.issue(&user, &[]);
    let mut steps = vec![
        expect("login: $"),
        send(&user.name),
        expect("Password: $"),
        send(&issued.pass),
        expect("You are required to change your password immediately"),
        expect(CHOOSE_NEW_PASSWORD),
        expect("New password: $"),
        send(NEW),
        expect("Retype new password: $"),
        send(NEW),
    ];
    steps.extend(shell_as(&user.name));
    let t = drive(&tap.dir, &steps, &tap.pam.wrap(&[tool("login").to_str().unwrap()]));
    tap.assert_drove(&t, "login with the TAP", None);
    assert!(!t.text.contains("Current password"), "{}", t.text);

    let mut steps = vec![expect("login: $"), send(&user.name), expect("Password: $"), send(NEW)];
    steps.extend(shell_as(&user.name));
    let again = drive(&tap.dir, &steps, &tap.pam.wrap(&[tool("login").to_str().unwrap()]));
    tap.assert_drove(&again, "login with the new password", None);
    keep_transcript(
        "flow3-console-login",
        &[("login with the TAP", &t), ("login with the new password", &again)],
    );
}

/// Flow 4: su from an unprivileged user's shell.
#[test]
fn e2e_su_first_login() {
    if !can_run("e2e_su_first_login") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let caller = User::new();
    let issued = tap.issue(&user, &[]);
    let t = drive(
        &tap.dir,
        &su_steps(
            &caller,
            &user,
            &issued.pass,
            &[
                expect("You are required to change your password immediately"),
                expect(CHOOSE_NEW_PASSWORD),
                expect("New password: $"),
                send(NEW),
                expect("Retype new password: $"),
                send(NEW),
            ],
        ),
        &su_argv(&tap.pam, &caller),
    );
    tap.assert_drove(&t, "su with the TAP", None);
    assert!(!t.text.contains("Current password"), "{}", t.text);
    let again = drive(
        &tap.dir,
        &su_steps(&caller, &user, NEW, &[]),
        &su_argv(&tap.pam, &caller),
    );
    tap.assert_drove(&again, "su with the new password", None);
    keep_transcript(
        "flow4-su",
        &[("su with the TAP", &t), ("su with the new password", &again)],
    );
}

/// Flow 5: a reusable pass issued with --keep-password logs in twice and forces no change; the
/// account's own password still works and /etc/shadow is never touched.
#[test]
fn e2e_ssh_reusable_keep_password() {
    if !can_run("e2e_ssh_reusable_keep_password") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::KeyboardInteractive);
    let before = user.shadow();
    let issued = tap.issue(&user, &["--reusable", "--keep-password"]);
    assert_eq!(user.shadow(), before, "--keep-password touched the account");
    let mut parts = vec![];
    for round in ["first", "second"] {
        let mut steps = vec![expect("Password: $"), send(&issued.pass)];
        steps.extend(shell_as(&user.name));
        let t = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
        tap.assert_drove(&t, &format!("{round} login with the reusable TAP"), Some(&sshd));
        assert!(
            !t.text.contains("New password") && !t.text.contains("change your password"),
            "{}",
            t.text
        );
        parts.push(t);
    }
    let mut steps = vec![expect("Password: $"), send(OWN)];
    steps.extend(shell_as(&user.name));
    let own = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
    tap.assert_drove(&own, "login with the account's own password", Some(&sshd));
    assert_eq!(user.shadow(), before);
    let show = tap.show(&user);
    assert_eq!(show["status"], "usable", "{show}");
    assert_eq!(show["use_count"], 2, "{show}");
    keep_transcript(
        "flow5-reusable-keep-password",
        &[("first", &parts[0]), ("second", &parts[1]), ("own password", &own)],
    );
}

/// Flow 6: refusals as a person sees them. Each is sshd's "Permission denied" (or login's "Login
/// incorrect"), the audit log says why, and the account's shadow entry is unchanged.
#[test]
fn e2e_refusals() {
    if !can_run("e2e_refusals") {
        return;
    }
    let tap = Tap::new();
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::KeyboardInteractive);
    let ssh_refused = |user: &User, secret: &str, what: &str| {
        let before = user.shadow();
        let t = drive(&tap.dir, &refused_ssh(secret), &sshd.ssh(&user.name, &[]));
        assert_refused(&t, "Permission denied", what, Some(&sshd));
        assert_eq!(user.shadow(), before, "{what}: the account changed");
        t
    };
    // A reset pass that ended (locked, expired) is settled at this login: the account is locked,
    // so the secret derived from the pass opens nothing any more.
    let ssh_refused_ends = |user: &User, secret: &str, what: &str| {
        let t = drive(&tap.dir, &refused_ssh(secret), &sshd.ssh(&user.name, &[]));
        assert_refused(&t, "Permission denied", what, Some(&sshd));
        assert_eq!(
            user.shadow().split(':').nth(1),
            Some("!"),
            "{what}: the account is locked"
        );
        t
    };

    // Expired: the shortest lifetime the policy allows, started so that it ends in 15 s (checked last).
    let expired = User::with_password(OWN);
    let start = chrono::Utc::now() - chrono::Duration::seconds(600 - 15);
    let start = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let exp = tap.issue(&expired, &["--lifetime", "10m", "--start", &start]);

    let not_yet = User::with_password(OWN);
    let ny = tap.issue(&not_yet, &["--start", "+1h"]);
    let t = ssh_refused(&not_yet, &ny.pass, "not yet valid");
    assert_eq!(tap.show(&not_yet)["status"], "not_yet_valid");
    let events = tap.events(&not_yet);
    assert!(events.contains(&"refused:not_yet_valid".to_string()), "{events:?}");
    let mut parts = vec![("not yet valid", t)];

    let wrong = User::with_password(OWN);
    let w = tap.issue(&wrong, &[]);
    let t = ssh_refused(&wrong, &wrong_pass(&w.pass), "wrong pass");
    let events = tap.events(&wrong);
    assert!(events.iter().any(|e| e.starts_with("failed")), "{events:?}");
    assert_eq!(tap.show(&wrong)["failures"], 1);
    parts.push(("wrong pass (ssh)", t));
    // The same through login on a pty.
    let before = wrong.shadow();
    let t = drive(
        &tap.dir,
        &[
            expect("login: $"),
            send(&wrong.name),
            expect("Password: $"),
            send(&wrong_pass(&w.pass)),
            expect("Login incorrect"),
        ],
        &tap.pam.wrap(&[tool("login").to_str().unwrap()]),
    );
    tap.assert_drove(&t, "login with a wrong pass", None);
    assert_eq!(wrong.shadow(), before);
    parts.push(("wrong pass (login)", t));

    let revoked = User::with_password(OWN);
    let r = tap.issue(&revoked, &[]);
    tap.tapctl_ok(&["revoke", &revoked.name, "--reason", "e2e"]);
    let t = ssh_refused(&revoked, &r.pass, "revoked");
    let events = tap.events(&revoked);
    assert!(events.contains(&"refused:revoked".to_string()), "{events:?}");
    parts.push(("revoked", t));

    let locked = User::with_password(OWN);
    let l = tap.issue(&locked, &[]);
    for _ in 0..MAX_FAILURES {
        ssh_refused(&locked, &wrong_pass(&l.pass), "wrong pass before the lockout");
    }
    assert_eq!(tap.show(&locked)["status"], "resting");
    let t = ssh_refused(&locked, &l.pass, "resting");
    let events = tap.events(&locked);
    assert!(events.iter().any(|e| e.starts_with("resting")), "{events:?}");
    assert!(events.contains(&"refused:resting".to_string()), "{events:?}");
    parts.push(("resting (the right pass after 3 wrong ones)", t));

    // By now the expired pass has ended.
    let expires = chrono::DateTime::parse_from_rfc3339(exp.json["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        expires < chrono::Utc::now() + chrono::Duration::seconds(60),
        "expires_at {expires}"
    );
    while chrono::Utc::now() <= expires {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let t = ssh_refused_ends(&expired, &exp.pass, "expired");
    assert_eq!(tap.show(&expired)["status"], "expired");
    let events = tap.events(&expired);
    assert!(events.contains(&"refused:expired".to_string()), "{events:?}");
    parts.push(("expired", t));

    // syslog says why, one line per decision.
    for (u, outcome) in [
        (&not_yet, "not_yet_valid"),
        (&wrong, "wrong"),
        (&revoked, "revoked"),
        (&locked, "resting"),
        (&expired, "expired"),
    ] {
        let lines = tap.syslog_for(u);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("pam_tap[") && l.ends_with(&format!("outcome={outcome}"))),
            "no syslog line with outcome={outcome} for {}:\n{}",
            u.name,
            tap.log.text()
        );
    }
    // A refused pass is told nothing a wrong password is not told.
    for (what, t) in &parts {
        assert!(!t.text.contains(CHOOSE_NEW_PASSWORD), "{what}: {}", t.text);
    }
    let refs: Vec<(&str, &Transcript)> = parts.iter().map(|(n, t)| (*n, t)).collect();
    keep_transcript("flow6-refusals", &refs);
    let mut why = String::new();
    for (what, u) in [
        ("not yet valid", &not_yet),
        ("wrong", &wrong),
        ("revoked", &revoked),
        ("resting", &locked),
        ("expired", &expired),
    ] {
        why.push_str(&format!("# {what}\n  audit: {:?}\n", tap.events(u)));
        for line in tap.syslog_for(u) {
            why.push_str(&format!("  syslog: {line}\n"));
        }
    }
    println!("{why}");
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-transcripts/flow6-why.txt"),
        why,
    )
    .unwrap();
}

/// With keyboard-interactive the forced change happens inside authentication, as prompts of the
/// conversation, so it needs no tty: `ssh -T host cmd` with the TAP sets the password and runs the
/// command (unlike the password method, see flow 2).
#[test]
fn e2e_ssh_keyboard_interactive_command_without_tty() {
    if !can_run("e2e_ssh_keyboard_interactive_command_without_tty") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::KeyboardInteractive);
    let issued = tap.issue(&user, &[]);
    let t = drive(
        &tap.dir,
        &[
            expect("Password: $"),
            send(&issued.pass),
            expect("New password: $"),
            send(NEW),
            expect("Retype new password: $"),
            send(NEW),
            expect(r"E2E-RAN-AS-\w+"),
            Step::Eof,
        ],
        &sshd.ssh(&user.name, &["-T", "echo E2E-RAN-AS-$(id -un)"]),
    );
    tap.assert_drove(&t, "ssh -T host cmd with the TAP", Some(&sshd));
    assert!(t.text.contains(&format!("E2E-RAN-AS-{}", user.name)), "{}", t.text);
    assert_ne!(lastchg(&user.shadow()), "0", "the change was not made");
    keep_transcript("kbdint-command-without-tty", &[("ssh -T host cmd with the TAP", &t)]);
}

/// What cannot work: key-only SSH before the change. A key login never shows the pass to PAM, yet
/// the issue forced a change, so sshd runs passwd, which asks for a current password the user never
/// had (the pass is not accepted there, being unused). The change fails, the user is logged out, and
/// nothing is lost: the account and the pass are as they were, for a login that can take the pass.
#[test]
fn e2e_ssh_key_only_before_the_change_cannot_change() {
    if !can_run("e2e_ssh_key_only_before_the_change_cannot_change") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::KeyOnly);
    sshd.authorize_key(&user);
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    let t = drive(
        &tap.dir,
        &[
            expect("You must change your password now and login again!"),
            expect("Current password: $"),
            send(&issued.pass),
            expect("password unchanged"),
            Step::Eof,
        ],
        &sshd.ssh(&user.name, &[]),
    );
    if t.failed_to_drive() {
        tap.assert_drove(&t, "key-only login before the change", Some(&sshd));
    }
    assert_eq!(user.shadow(), reset, "the account changed");
    assert_eq!(tap.show(&user)["status"], "usable");
    keep_transcript(
        "key-only-before-the-change",
        &[("ssh with a key, before the change", &t)],
    );
}

/// Users who hold no pass see no difference: one `Password:` prompt over ssh, and `passwd` run by the
/// user asks for the current password and then the new one, exactly as without pam_tap.
#[test]
fn e2e_users_without_a_pass_are_unaffected() {
    if !can_run("e2e_users_without_a_pass_are_unaffected") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::KeyboardInteractive);
    let mut steps = vec![expect("Password: $"), send(OWN)];
    steps.extend(shell_as(&user.name));
    let t = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
    tap.assert_drove(&t, "ssh with the account's own password", Some(&sshd));
    assert_eq!(
        t.text.matches("assword:").count(),
        1,
        "more than one prompt:\n{}",
        t.text
    );

    let before = user.shadow();
    let steps = [
        expect("Current password: $"),
        send(OWN),
        expect("New password: $"),
        send(NEW),
        expect("Retype new password: $"),
        send(NEW),
        expect("password updated successfully"),
        Step::Eof,
    ];
    let argv = tap.pam.wrap(&[
        tool("setpriv").to_str().unwrap(),
        "--reuid",
        &user.name,
        "--regid",
        &user.name,
        "--init-groups",
        "--reset-env",
        tool("passwd").to_str().unwrap(),
    ]);
    let p = drive(&tap.dir, &steps, &argv);
    tap.assert_drove(&p, "passwd run by a user without a pass", None);
    assert_ne!(user.shadow(), before, "passwd did not change the password");
    keep_transcript(
        "users-without-a-pass",
        &[("ssh with the own password", &t), ("passwd run by the user", &p)],
    );
}

/// The shipped default `[handoff] relogin = false`: a one-time pass logs in exactly once, so a login
/// that sshd's password method refuses for want of a tty (`ssh host cmd`) spends it; the account
/// keeps the reset password with the change pending, and the user needs a new pass.
#[test]
fn e2e_ssh_password_method_without_tty_spends_a_one_time_pass() {
    if !can_run("e2e_ssh_password_method_without_tty_spends_a_one_time_pass") {
        return;
    }
    let tap = Tap::new();
    let user = User::with_password(OWN);
    let sshd = Sshd::start(&tap.dir, &tap.pam, SshMethod::Password);
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    let no_tty = drive(&tap.dir, &refused_ssh(&issued.pass), &sshd.ssh(&user.name, &["true"]));
    assert_refused(
        &no_tty,
        "Password change required but no TTY available",
        "ssh host true",
        Some(&sshd),
    );
    wait_out_relogin_gap(&tap, &user);
    let retry = drive(&tap.dir, &refused_ssh(&issued.pass), &sshd.ssh(&user.name, &[]));
    assert_refused(&retry, "Permission denied", "the retry on a tty", Some(&sshd));
    assert_eq!(user.shadow(), reset);
    assert_eq!(tap.show(&user)["status"], "used");
    let events = tap.events(&user);
    assert!(events.contains(&"refused:used".to_string()), "{events:?}");
    keep_transcript(
        "no-tty-with-relogin-off",
        &[
            ("`ssh host true` with the TAP", &no_tty),
            ("then `ssh host` with the TAP", &retry),
        ],
    );
}
