//! A reset pass typed at the real `su` by an unprivileged user. su is setuid root: the module runs
//! with euid 0 but the caller's real uid, and shadow's chage goes by the real uid. The su runs in a
//! private mount namespace with host-a's stack as /etc/pam.d/su and su-l.

use std::path::{Path, PathBuf};

use pam_tap_core::login::CHOOSE_NEW_PASSWORD;

use super::{host_row, login, ok, shadow, NEW_PW, OWN};
use crate::site::fleet;
use crate::support::accounts::User;
use crate::support::pty::{drive, expect, send, su_steps, user_shell, with_pamd, Step, Transcript};
use crate::support::site::Site;
use crate::support::site::{debian_stack, module_line};

/// A pam.d holding host-a's Debian stack as su and su-l (`su -`).
fn su_pamd(f: &Site) -> PathBuf {
    let dir = f.dir.join("su-pam.d");
    std::fs::create_dir(&dir).unwrap();
    let args = format!(
        "config={} log_socket={}",
        f.host_config("a").display(),
        f.log.path.display()
    );
    let stack = format!("{}session  required   pam_unix.so\n", debian_stack(&module_line(&args)));
    for service in ["su", "su-l"] {
        std::fs::write(dir.join(service), &stack).unwrap();
    }
    dir
}

/// `caller` types `su - target` in its own shell with `steps` (tests/support/pty.rs `su_steps`).
fn su(f: &Site, pamd: &Path, caller: &User, steps: &[Step]) -> Transcript {
    let shell = user_shell(&caller.name);
    let argv = with_pamd(pamd, &shell.iter().map(String::as_str).collect::<Vec<_>>());
    drive(&f.dir, steps, &argv)
}

#[test]
fn a_reset_pass_typed_at_su_by_an_unprivileged_user_resets_the_account_and_the_change_follows() {
    require_root!();
    let f = fleet("");
    let pamd = su_pamd(&f);
    let caller = User::new();

    the_pass_at_su_puts_the_reset_in_place(&f, &pamd, &caller);
    a_whole_first_login_at_su(&f, &pamd, &caller);
    f.check_no_secrets();
}

/// Accepted, and the forced change asked for: the reset is in place, change forced, and host-a's
/// store holds what was there before. The person goes no further (the terminal closes at the
/// new-password prompt).
fn the_pass_at_su_puts_the_reset_in_place(f: &Site, pamd: &Path, caller: &User) {
    let u = User::with_password(OWN);
    let before = shadow(&u);
    let pass = f.issue_reset(&u.name, &[]).pass;
    let id = f.newest_id(&u.name);
    let to_change = [
        expect(r"\$ $"),
        send(&format!("su - {}", u.name)),
        expect("Password: $"),
        send(&pass),
        expect("You are required to change your password immediately"),
        expect(CHOOSE_NEW_PASSWORD),
        expect("New password: $"),
    ];
    let t = su(f, pamd, caller, &to_change);
    assert!(
        !t.failed_to_drive() && !t.text.contains("Current password"),
        "su with the pass:\n{}\n--- pam_tap ---\n{:#?}",
        t.text,
        f.log.settled_lines()
    );
    let row = host_row(f, "a", id).expect("host-a's store holds the pass su accepted");
    let reset = shadow(&u);
    assert_eq!(row.shadow_set.as_ref(), Some(&reset.0), "{row:?}");
    assert_eq!(reset.1, "0", "the change is forced");
    assert_eq!(row.shadow_prev.as_deref(), Some(before.0.as_str()), "{row:?}");
    assert_eq!(row.shadow_prev_lastchg, before.1.parse().ok(), "{row:?}");
    assert!(row.key_len > 0, "{row:?}");
    let used_on = f.psql(&format!(
        "SELECT host, service FROM pam_tap.audit WHERE event = 'used' AND pass_id = {id}"
    ));
    assert_eq!(used_on, "host-a|su-l");
}

/// The whole first login: the pass, the forced change without a current password, a shell; the
/// new password then works on host-a, the old one does not.
fn a_whole_first_login_at_su(f: &Site, pamd: &Path, caller: &User) {
    let v = User::with_password(OWN);
    let pass = f.issue_reset(&v.name, &[]).pass;
    let change = [
        expect("You are required to change your password immediately"),
        expect(CHOOSE_NEW_PASSWORD),
        expect("New password: $"),
        send(NEW_PW),
        expect("Retype new password: $"),
        send(NEW_PW),
    ];
    let t = su(f, pamd, caller, &su_steps(caller.uid(), &v.name, &pass, &change));
    assert!(
        t.code == 0 && !t.failed_to_drive() && !t.text.contains("Current password"),
        "su through the handoff:\n{}",
        t.text
    );
    let after = shadow(&v);
    assert!(after.0.starts_with("$y$") && after.1 != "0", "{after:?}");
    assert_eq!(login(f, "a", &v.name, NEW_PW), ok());
    assert_eq!(login(f, "a", &v.name, OWN).0, "PAM_AUTH_ERR");
}
