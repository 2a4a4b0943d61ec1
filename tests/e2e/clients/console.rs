//! /bin/login on a pty and su from an unprivileged user's shell.

use super::*;

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
