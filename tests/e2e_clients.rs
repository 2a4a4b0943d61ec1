//! First login with a Temporary Access Pass through the real clients (issue 3): OpenSSH in
//! keyboard-interactive and password mode, /bin/login on a pty, and su, each driven on a pty the way a
//! person types. See tests/e2e/harness.rs for how the private sshd and the private PAM stack are set up
//! without touching the host's /etc/pam.d or sshd_config.
//!
//! Runs only as root (skips loudly otherwise). The module must be built first (`cargo build`).

#[path = "e2e/harness.rs"]
mod harness;

use harness::*;

/// The harness itself, with pam_unix only: a forced password change (`chage -d 0`) over ssh
/// keyboard-interactive, ssh password method, login on a pty and su from an unprivileged user. If this
/// fails, the problem is the test machine, not pam_tap.
#[test]
fn e2e_harness_pam_unix_baseline() {
    if !can_run("e2e_harness_pam_unix_baseline") {
        return;
    }
    let scratch = Scratch::new();
    let pam = PamDir::new(&scratch, Stack::UnixOnly, "");
    let user = User::with_password("Ok7-first-Word");
    let caller = User::new();
    let expire =
        |u: &User| run_ok(std::process::Command::new(tool("chage")).args(["-d", "0", &u.name]));

    // ssh, keyboard-interactive: pam_unix asks for the current password, then the new one.
    expire(&user);
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
    expire(&user);
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
    expire(&user);
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
    let t = drive(
        &scratch,
        &steps,
        &pam.wrap(&[tool("login").to_str().unwrap()]),
    );
    assert_drove(&t, "login forced change", None);

    // su from an unprivileged user's shell.
    expire(&user);
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
