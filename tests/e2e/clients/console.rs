//! /bin/login on a pty and su from an unprivileged user's shell.

use super::*;

/// Flow 3: /bin/login on a pty, as getty runs it.
#[test]
fn e2e_console_login_first_login() {
    if !can_run("e2e_console_login_first_login") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
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
    let t = drive(&tap.dir, &steps, &tap.wrap(&[tool("login").to_str().unwrap()]));
    tap.assert_drove(&t, "login with the TAP", None);
    assert!(!t.text.contains("Current password"), "{}", t.text);

    let mut steps = vec![expect("login: $"), send(&user.name), expect("Password: $"), send(NEW)];
    steps.extend(shell_as(&user.name));
    let again = drive(&tap.dir, &steps, &tap.wrap(&[tool("login").to_str().unwrap()]));
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
    let tap = tap();
    let user = User::person().password(OWN).create();
    let caller = User::person().create();
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
        &su_argv(&tap.pamd, &caller),
    );
    tap.assert_drove(&t, "su with the TAP", None);
    assert!(!t.text.contains("Current password"), "{}", t.text);
    let again = drive(
        &tap.dir,
        &su_steps(&caller, &user, NEW, &[]),
        &su_argv(&tap.pamd, &caller),
    );
    tap.assert_drove(&again, "su with the new password", None);
    keep_transcript(
        "flow4-su",
        &[("su with the TAP", &t), ("su with the new password", &again)],
    );
}

/// A reset left to the next touch and settled from `su`, which is setuid root: the module runs
/// with the caller's real uid, and shadow's chage goes by the real uid. The victim's change was
/// forced by an admin (`chage -d 0`); the reset pass's issue was cut short (the row still marked
/// `issue` by a tapctl that is gone, as a SIGKILL after the reset and before the last commit
/// leaves it). Another user's pass-shaped answer at `su - victim` is that next touch: the entry
/// comes back exactly as before the pass, forced change included, and the audit says so.
#[test]
fn e2e_su_by_another_user_settles_a_cut_short_reset_back_to_the_exact_entry() {
    if !can_run("e2e_su_by_another_user_settles_a_cut_short_reset_back_to_the_exact_entry") {
        return;
    }
    let tap = tap();
    let victim = User::person().password(OWN).create();
    victim.force_change();
    let caller = User::person().create();
    let before = victim.shadow();
    assert_eq!(lastchg(&before), "0", "{before}");
    let issued = tap.issue(&victim, &[]);
    let reset = victim.shadow();
    assert_ne!(
        reset.split(':').nth(1),
        before.split(':').nth(1),
        "the issue reset the account"
    );
    // A pid above any pid_max: an owner that is surely gone.
    let marked = rusqlite::Connection::open(&tap.db)
        .unwrap()
        .execute(
            "UPDATE passes SET pending = 'issue', pending_owner = '999999999:1' WHERE id = ?1",
            [issued.id],
        )
        .unwrap();
    assert_eq!(marked, 1);

    let steps = [
        expect(r"\$ $"),
        send(&format!("su - {}", victim.name)),
        expect("Password: $"),
        send(&wrong_pass(&issued.pass)),
        expect("Authentication failure"),
        expect(r"\$ $"),
        send("exit 0"),
        Step::Eof,
    ];
    let t = drive(&tap.dir, &steps, &su_argv(&tap.pamd, &caller));
    tap.assert_drove(&t, "another user's pass-shaped answer at su", None);
    let events = tap.events_with_reasons(&victim);
    assert_eq!(
        victim.shadow(),
        before,
        "the entry is not as it was before the pass (lastchg {}); audit: {events:?}",
        lastchg(&victim.shadow())
    );
    let settled = [
        "reset:issue cut short after the shadow change: pass revoked, previous password restored",
        "reset:previous password restored",
    ];
    assert!(events.ends_with(&settled.map(String::from)), "{events:?}");
    assert!(!events.iter().any(|e| e.contains("changed")), "{events:?}");
    assert_eq!(tap.show(&victim)["status"], "revoked");
    keep_transcript("su-settles-a-cut-short-reset", &[("a junk answer at su", &t)]);
}
