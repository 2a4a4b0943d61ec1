//! Security keys through the real OpenSSH 9.2, without hardware: `sk-` keys enrolled by the real
//! ssh-keygen with the soft security key (crates/soft_sk, tests/support/soft_sk.rs) and offered by
//! the real ssh log in through the private sshd with passwords off, a key not listed is refused,
//! and `verify-required` on the authorized_keys line holds against a key made without it.

use super::*;
use crate::support::soft_sk::{SkKey, SkKind, SoftSk};

/// What the user types when ssh asks for the key's PIN (the soft key checks none).
const PIN: &str = "2468";

/// `user` offers `key` (and only it) to `sshd`, driven through `steps` on a pty.
fn offer(tap: &Site, sshd: &Sshd, user: &User, key: &SkKey, steps: &[Step]) -> Transcript {
    drive(
        &tap.dir,
        steps,
        &sshd.ssh_with_identity(&user.name, &key.private, &SoftSk::ssh_options(), &[]),
    )
}

/// sshd's "Accepted publickey for USER ... ssh2: TYPE SHA256:..." line for `key`, if it logged one.
fn accepted_line(sshd: &Sshd, user: &User, key: &SkKey) -> Option<String> {
    let fingerprint = key.fingerprint();
    sshd.log_text()
        .lines()
        .find(|l| {
            l.contains(&format!("Accepted publickey for {} from 127.0.0.1", user.name))
                && l.contains(&format!("ssh2: {} {fingerprint}", key.kind.log_name()))
        })
        .map(str::to_string)
}

#[track_caller]
fn assert_logged_in(tap: &Site, sshd: &Sshd, user: &User, key: &SkKey, t: &Transcript, what: &str) {
    tap.assert_drove(t, what, Some(sshd));
    match accepted_line(sshd, user, key) {
        Some(line) => println!("{what}: sshd: {line}"),
        None => panic!(
            "{what}: no Accepted publickey line for the {} key\n--- sshd ---\n{}",
            key.kind.log_name(),
            sshd.log_text()
        ),
    }
}

#[track_caller]
fn assert_key_refused(sshd: &Sshd, user: &User, key: &SkKey, t: &Transcript, what: &str) {
    assert_refused(t, "Permission denied (publickey)", what, Some(sshd));
    assert!(
        t.text.contains("Permission denied") && !t.text.contains("E2E-WHOAMI"),
        "{what}: a shell ran\n{}",
        t.text
    );
    assert_eq!(
        accepted_line(sshd, user, key),
        None,
        "{what}: sshd accepted the key\n{}",
        sshd.log_text()
    );
}

/// An ed25519-sk and an ecdsa-sk key, each listed in authorized_keys, log in with keys only.
#[test]
fn e2e_security_keys_of_both_types_log_in_with_keys_only() {
    if !can_run("e2e_security_keys_of_both_types_log_in_with_keys_only") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyOnly);
    let keys = [SkKind::Ed25519, SkKind::Ecdsa].map(|kind| SoftSk::keygen(kind, &tap.dir, false));
    sshd.authorize_lines(&user, &keys.iter().map(|k| k.public_line.as_str()).collect::<Vec<_>>());
    let mut parts = vec![];
    for key in &keys {
        let t = offer(&tap, &sshd, &user, key, &shell_as(&user.name));
        assert_logged_in(
            &tap,
            &sshd,
            &user,
            key,
            &t,
            &format!("login with the {} key", key.kind.log_name()),
        );
        assert!(!t.text.contains("assword"), "a password prompt:\n{}", t.text);
        parts.push((format!("A listed {} key", key.kind.log_name()), t));
    }
    let parts: Vec<_> = parts.iter().map(|(title, t)| (title.as_str(), t)).collect();
    keep_transcript("security-keys-log-in", &parts);
}

/// A soft key that is not in authorized_keys (another one is) is refused, for either type.
#[test]
fn e2e_a_security_key_not_listed_is_refused() {
    if !can_run("e2e_a_security_key_not_listed_is_refused") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyOnly);
    let listed = SoftSk::keygen(SkKind::Ed25519, &tap.dir, false);
    sshd.authorize_lines(&user, &[&listed.public_line]);
    for kind in [SkKind::Ed25519, SkKind::Ecdsa] {
        let stranger = SoftSk::keygen(kind, &tap.dir, false);
        let t = offer(&tap, &sshd, &user, &stranger, &[Step::Eof]);
        assert_key_refused(
            &sshd,
            &user,
            &stranger,
            &t,
            &format!("an unlisted {} key", kind.log_name()),
        );
    }
    // The listed key still logs in: the refusals were about the keys, not the set-up.
    let t = offer(&tap, &sshd, &user, &listed, &shell_as(&user.name));
    assert_logged_in(&tap, &sshd, &user, &listed, &t, "the listed key after the refusals");
}

/// `verify-required` on the authorized_keys line: a key made without user verification signs
/// without it and sshd refuses; a key made with `-O verify-required` makes ssh ask for the PIN,
/// signs with the user-verified flag, and logs in.
#[test]
fn e2e_verify_required_refuses_a_key_without_verification() {
    if !can_run("e2e_verify_required_refuses_a_key_without_verification") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyOnly);
    let mut parts = vec![];
    for kind in [SkKind::Ed25519, SkKind::Ecdsa] {
        let plain = SoftSk::keygen(kind, &tap.dir, false);
        let verified = SoftSk::keygen(kind, &tap.dir, true);
        let lines = [&plain, &verified].map(|k| format!("verify-required {}", k.public_line));
        sshd.authorize_lines(&user, &[&lines[0], &lines[1]]);

        let t = offer(&tap, &sshd, &user, &plain, &[Step::Eof]);
        assert_key_refused(&sshd, &user, &plain, &t, "a key without verification, verify-required");
        assert!(!t.text.contains("Enter PIN"), "asked for a PIN:\n{}", t.text);
        let rejected = format!(
            "public key {} {} signature for {} from 127.0.0.1",
            kind.log_name(),
            plain.fingerprint(),
            user.name
        );
        assert!(
            sshd.log_text()
                .lines()
                .any(|l| l.contains(&rejected) && l.contains("user verification requirement not met")),
            "sshd did not refuse for want of verification:\n{}",
            sshd.log_text()
        );

        let mut steps = vec![expect(&format!("Enter PIN for {} key ", kind.log_name())), send(PIN)];
        steps.extend(shell_as(&user.name));
        let v = offer(&tap, &sshd, &user, &verified, &steps);
        assert_logged_in(&tap, &sshd, &user, &verified, &v, "a verify-required key with its PIN");
        parts.push((format!("{}: made without verification", kind.log_name()), t));
        parts.push((format!("{}: made with -O verify-required", kind.log_name()), v));
    }
    let parts: Vec<_> = parts.iter().map(|(title, t)| (title.as_str(), t)).collect();
    keep_transcript("security-keys-verify-required", &parts);
}
