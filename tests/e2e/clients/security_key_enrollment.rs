//! Key-only servers with security keys: `sk-` keys made by the real ssh-keygen with the soft
//! security key (crates/soft_sk) enroll like other keys, and policy can demand them and their user
//! verification (`[enroll] key_types`, `verify_required`).

use super::*;
use crate::support::soft_sk::{SkKey, SkKind, SoftSk};

/// What the user types when ssh asks for the key's PIN (the soft key checks none).
const PIN: &str = "2468";

fn offer(k: &KeyOnly, user: &User, key: &SkKey, steps: &[Step]) -> Transcript {
    let argv = k
        .host
        .sshd
        .ssh_with_identity(&user.name, &key.private, &SoftSk::ssh_options(), &[]);
    drive(&k.site.dir, steps, &argv)
}

/// Rule 6: an ed25519-sk and an ecdsa-sk key each enroll with a pass, then log in alone.
#[test]
fn e2e_security_keys_of_both_types_enroll_like_other_keys() {
    if !can_run("e2e_security_keys_of_both_types_enroll_like_other_keys") {
        return;
    }
    let k = KeyOnly::start("");
    let mut parts = vec![];
    for kind in [SkKind::Ed25519, SkKind::Ecdsa] {
        let user = User::person().create();
        let key = SoftSk::keygen(kind, &k.site.dir, false);
        let issued = k.site.issue(&user, &["--enroll-key"]);
        let mut steps = vec![expect(&pass_prompt(&key.fingerprint())), send(&issued.pass)];
        steps.extend(shell_as(&user.name));
        let first = offer(&k, &user, &key, &steps);
        k.site.assert_drove(
            &first,
            &format!("enrolling a {} key", kind.log_name()),
            Some(&k.host.sshd),
        );
        assert_eq!(k.enrolled(&user), [key.fingerprint()]);
        let again = offer(&k, &user, &key, &shell_as(&user.name));
        k.site.assert_drove(
            &again,
            &format!("the enrolled {} key alone", kind.log_name()),
            Some(&k.host.sshd),
        );
        assert!(!again.text.contains("Temporary Access Pass"), "{}", again.text);
        parts.push((format!("{}: the pass enrolls it", kind.log_name()), first));
        parts.push((format!("{}: then the key alone", kind.log_name()), again));
    }
    let parts: Vec<_> = parts.iter().map(|(title, t)| (title.as_str(), t)).collect();
    keep_transcript("key-enrollment-security-keys", &parts);
}

/// Rule 6: policy can demand security keys that prove user verification. A plain key, and a
/// security key made without verification, enroll nothing; a key made with `-O verify-required`
/// enrolls after its PIN and must show it again at every login.
#[test]
fn e2e_policy_can_require_security_keys_with_user_verification() {
    if !can_run("e2e_policy_can_require_security_keys_with_user_verification") {
        return;
    }
    let k = KeyOnly::start_enroll(
        "",
        "key_types = [\"sk-ssh-ed25519@openssh.com\", \"sk-ecdsa-sha2-nistp256@openssh.com\"]\nverify_required = true\n",
    );
    let user = User::person().create();
    let issued = k.site.issue(&user, &["--enroll-key"]);

    let plain = k.keypair();
    let t = drive(&k.site.dir, &[Step::Eof], &k.ssh(&user.name, &plain, &[]));
    assert_refused(
        &t,
        "Permission denied",
        "a plain key where policy wants security keys",
        Some(&k.host.sshd),
    );
    assert!(!t.text.contains("Temporary Access Pass"), "{}", t.text);

    let unverified = SoftSk::keygen(SkKind::Ed25519, &k.site.dir, false);
    let t = offer(&k, &user, &unverified, &[Step::Eof]);
    assert_refused(
        &t,
        "Permission denied",
        "a security key without verification",
        Some(&k.host.sshd),
    );
    assert!(
        k.host.sshd.log_text().contains("user verification requirement not met"),
        "sshd did not refuse for want of verification:\n{}",
        k.host.sshd.log_text()
    );
    assert!(k.enrolled(&user).is_empty());

    let verified = SoftSk::keygen(SkKind::Ecdsa, &k.site.dir, true);
    let pin = expect(&format!("Enter PIN for {} key ", SkKind::Ecdsa.log_name()));
    let mut steps = vec![
        pin.clone(),
        send(PIN),
        expect(&pass_prompt(&verified.fingerprint())),
        send(&issued.pass),
    ];
    steps.extend(shell_as(&user.name));
    let first = offer(&k, &user, &verified, &steps);
    k.site
        .assert_drove(&first, "enrolling a verified security key", Some(&k.host.sshd));
    assert_eq!(k.enrolled(&user), [verified.fingerprint()]);
    let mut steps = vec![pin, send(PIN)];
    steps.extend(shell_as(&user.name));
    let again = offer(&k, &user, &verified, &steps);
    k.site
        .assert_drove(&again, "the verified key with its PIN", Some(&k.host.sshd));
}
