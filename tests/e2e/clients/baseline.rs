//! The harness itself, with pam_unix only: if this fails, the problem is the test machine.

use std::path::Path;

use super::*;

/// The harness itself, with pam_unix only: a forced password change (`chage -d 0`) over ssh
/// keyboard-interactive, ssh password method, login on a pty and su from an unprivileged user. If this
/// fails, the problem is the test machine, not pam_tap.
#[test]
fn e2e_harness_pam_unix_baseline() {
    if !can_run("e2e_harness_pam_unix_baseline") {
        return;
    }
    let scratch = scratch();
    let pamd = debian_pamd(&scratch, Stack::UnixOnly, "");
    let user = User::person().password("Ok7-first-Word").create();
    let caller = User::person().create();
    ssh_keyboard_interactive_forced_change(&scratch, &pamd, &user);
    ssh_password_method_forced_change(&scratch, &pamd, &user);
    login_forced_change(&scratch, &pamd, &user);
    su_forced_change(&scratch, &pamd, &caller, &user);
}

/// ssh, keyboard-interactive: pam_unix asks for the current password, then the new one.
fn ssh_keyboard_interactive_forced_change(scratch: &Scratch, pamd: &Path, user: &User) {
    user.force_change();
    let sshd = Sshd::start(scratch, pamd, SshMethod::KeyboardInteractive);
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
    let t = drive(scratch, &steps, &sshd.ssh(&user.name, &[]));
    assert_drove(&t, "ssh kbd-int forced change", Some(&sshd));
}

/// ssh, password method: sshd runs passwd on the tty and logs the user out.
fn ssh_password_method_forced_change(scratch: &Scratch, pamd: &Path, user: &User) {
    user.force_change();
    let sshd = Sshd::start(scratch, pamd, SshMethod::Password);
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
    let t = drive(scratch, &steps, &sshd.ssh(&user.name, &[]));
    assert_drove(&t, "ssh password method forced change", Some(&sshd));
}

/// login on a pty, as getty runs it.
fn login_forced_change(scratch: &Scratch, pamd: &Path, user: &User) {
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
    let t = drive(scratch, &steps, &with_pamd(pamd, &[tool("login").to_str().unwrap()]));
    assert_drove(&t, "login forced change", None);
}

/// su from an unprivileged user's shell.
fn su_forced_change(scratch: &Scratch, pamd: &Path, caller: &User, user: &User) {
    user.force_change();
    let t = drive(
        scratch,
        &su_steps(
            caller,
            user,
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
        &su_argv(pamd, caller),
    );
    assert_drove(&t, "su forced change", None);
}
