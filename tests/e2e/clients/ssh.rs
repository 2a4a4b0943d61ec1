//! OpenSSH: first login in keyboard-interactive and password mode, with and without a tty, and a
//! reusable pass.

use super::*;

/// Flow 1: ssh keyboard-interactive. TAP → told the password must change → "New password" twice →
/// shell, with no "Current password" prompt; the new password logs in; the one-time TAP is refused.
#[test]
fn e2e_ssh_keyboard_interactive_first_login() {
    if !can_run("e2e_ssh_keyboard_interactive_first_login") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyboardInteractive);
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

    let again = login_with_the_new_password(&tap, &sshd, &user, "Password: $");
    let tap_again = the_used_tap_is_refused(&tap, &sshd, &user, &issued.pass);
    assert_eq!(tap.show(&user)["status"], "used");
    let events = tap.events_with_reasons(&user);
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
    let tap = tap_with("[handoff]\nrelogin = true\n");
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::Password);
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();

    let no_tty = a_command_without_a_tty_is_refused(&tap, &sshd, &user, &issued.pass);
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

    let again = login_with_the_new_password(&tap, &sshd, &user, "password: $");
    let tap_again = the_used_tap_is_refused(&tap, &sshd, &user, &issued.pass);
    let events = tap.events_with_reasons(&user);
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

/// Flow 5: a reusable pass issued with --keep-password logs in twice and forces no change; the
/// account's own password still works and /etc/shadow is never touched.
#[test]
fn e2e_ssh_reusable_keep_password() {
    if !can_run("e2e_ssh_reusable_keep_password") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyboardInteractive);
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

/// With keyboard-interactive the forced change happens inside authentication, as prompts of the
/// conversation, so it needs no tty: `ssh -T host cmd` with the TAP sets the password and runs the
/// command (unlike the password method, see flow 2).
#[test]
fn e2e_ssh_keyboard_interactive_command_without_tty() {
    if !can_run("e2e_ssh_keyboard_interactive_command_without_tty") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyboardInteractive);
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

/// The shipped default `[handoff] relogin = false`: a one-time pass logs in exactly once, so a login
/// that sshd's password method refuses for want of a tty (`ssh host cmd`) spends it; the account
/// keeps the reset password with the change pending, and the user needs a new pass.
#[test]
fn e2e_ssh_password_method_without_tty_spends_a_one_time_pass() {
    if !can_run("e2e_ssh_password_method_without_tty_spends_a_one_time_pass") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::Password);
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    let no_tty = a_command_without_a_tty_is_refused(&tap, &sshd, &user, &issued.pass);
    wait_out_relogin_gap(&tap, &user);
    let retry = drive(&tap.dir, &refused_ssh(&issued.pass), &sshd.ssh(&user.name, &[]));
    assert_refused(&retry, "Permission denied", "the retry on a tty", Some(&sshd));
    assert_eq!(user.shadow(), reset);
    assert_eq!(tap.show(&user)["status"], "used");
    let events = tap.events_with_reasons(&user);
    assert!(events.contains(&"refused:used".to_string()), "{events:?}");
    keep_transcript(
        "no-tty-with-relogin-off",
        &[
            ("`ssh host true` with the TAP", &no_tty),
            ("then `ssh host` with the TAP", &retry),
        ],
    );
}

/// A login with the new password at sshd's `prompt`: straight to a shell.
fn login_with_the_new_password(tap: &Site, sshd: &Sshd, user: &User, prompt: &str) -> Transcript {
    let mut steps = vec![expect(prompt), send(NEW)];
    steps.extend(shell_as(&user.name));
    let again = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
    tap.assert_drove(&again, "login with the new password", Some(sshd));
    again
}

/// The used pass over ssh: refused, the account unchanged.
fn the_used_tap_is_refused(tap: &Site, sshd: &Sshd, user: &User, pass: &str) -> Transcript {
    let before = user.shadow();
    let tap_again = drive(&tap.dir, &refused_ssh(pass), &sshd.ssh(&user.name, &[]));
    assert_refused(&tap_again, "Permission denied", "the used TAP", Some(sshd));
    assert_eq!(user.shadow(), before);
    tap_again
}

/// `ssh host true` with the pass, password method: sshd refuses, for the change needs a tty.
fn a_command_without_a_tty_is_refused(tap: &Site, sshd: &Sshd, user: &User, pass: &str) -> Transcript {
    let no_tty = drive(&tap.dir, &refused_ssh(pass), &sshd.ssh(&user.name, &["true"]));
    assert_refused(
        &no_tty,
        "Password change required but no TTY available",
        "ssh host true",
        Some(sshd),
    );
    no_tty
}
