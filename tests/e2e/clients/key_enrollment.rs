//! Key-only servers: a pass enrolls the SSH key its holder proves in the same connection, through
//! the real sshd and ssh client (tests/e2e/harness/enroll.rs). One test per rule of the feature.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// A refused ssh: sshd's last word to the client.
const DENIED: &str = "Permission denied";

fn refused(k: &KeyOnly, user: &User, key: &Path) -> Transcript {
    drive(&k.site.dir, &[Step::Eof], &k.ssh(&user.name, key, &[]))
}

/// `user` enrolls `key` with `pass`: the prompt, the pass, a shell, `exit`; checked as `what`.
fn enroll(k: &KeyOnly, user: &User, key: &Path, pass: &str, what: &str) -> Transcript {
    let steps = [
        expect(&pass_prompt(&k.fingerprint(key))),
        send(pass),
        expect(r"\$ $"),
        send("exit"),
        Step::Eof,
    ];
    let t = drive(&k.site.dir, &steps, &k.ssh(&user.name, key, &[]));
    k.site.assert_drove(&t, what, Some(&k.host.sshd));
    t
}

/// Rule 1: the key the client proved is the one enrolled; from then on it logs in alone. Before the
/// pass, and for any other key after it, sshd says no.
#[test]
fn e2e_a_pass_enrolls_the_key_proven_in_the_same_connection_and_that_key_then_logs_in_alone() {
    if !can_run("e2e_a_pass_enrolls_the_key_proven_in_the_same_connection_and_that_key_then_logs_in_alone") {
        return;
    }
    let k = KeyOnly::start("");
    let user = User::person().create();
    let key = k.keypair();
    let fp = k.fingerprint(&key);
    let before = refused(&k, &user, &key);
    assert_refused(&before, DENIED, "a key before any pass", Some(&k.host.sshd));

    let issued = k.site.issue(&user, &["--enroll-key"]);
    assert_eq!(k.site.show(&user)["enroll_key"], true);
    let mut steps = vec![expect(&pass_prompt(&fp)), send(&issued.pass)];
    steps.push(expect(&format!(r"Key {} enrolled for {}", regex_quote(&fp), user.name)));
    steps.extend(shell_as(&user.name));
    let first = drive(&k.site.dir, &steps, &k.ssh(&user.name, &key, &[]));
    k.site
        .assert_drove(&first, "first login: the pass enrolls the key", Some(&k.host.sshd));
    assert_eq!(k.enrolled(&user), std::slice::from_ref(&fp));

    let again = drive(&k.site.dir, &shell_as(&user.name), &k.ssh(&user.name, &key, &[]));
    k.site
        .assert_drove(&again, "the enrolled key alone", Some(&k.host.sshd));
    assert!(
        !again.text.contains("Temporary Access Pass"),
        "a prompt for an enrolled key:\n{}",
        again.text
    );

    let other = k.keypair();
    let stranger = refused(&k, &user, &other);
    assert_refused(
        &stranger,
        DENIED,
        "another key after the pass was used",
        Some(&k.host.sshd),
    );
    assert_eq!(k.enrolled(&user), std::slice::from_ref(&fp));
    let events = k.site.events_with_reasons(&user);
    assert!(events.contains(&format!("enrolled:{fp}")), "{events:?}");
    assert_eq!(k.site.show(&user)["status"], "used");
    let listed = k.site.tapctl_ok(&["keys", "list", &user.name]);
    assert!(listed.contains(&fp) && listed.contains("ssh-ed25519"), "{listed}");
    println!("tapctl keys list {}:\n{listed}", user.name);
    keep_transcript(
        "key-enrollment",
        &[
            ("Before the pass: the key alone is refused", &before),
            ("First login: the pass enrolls the key", &first),
            ("From then on: the key alone", &again),
        ],
    );
}

/// Rule 2: a wrong pass enrolls nothing and counts as a failed login; no password is ever asked.
#[test]
fn e2e_a_wrong_pass_enrolls_nothing_and_counts_as_a_failure() {
    if !can_run("e2e_a_wrong_pass_enrolls_nothing_and_counts_as_a_failure") {
        return;
    }
    let k = KeyOnly::start("");
    let user = User::person().password(OWN).create();
    let key = k.keypair();
    let fp = k.fingerprint(&key);
    let issued = k.site.issue(&user, &["--enroll-key"]);
    let steps = [expect(&pass_prompt(&fp)), send(&wrong_pass(&issued.pass)), Step::Eof];
    let wrong = drive(&k.site.dir, &steps, &k.ssh(&user.name, &key, &[]));
    assert_refused(&wrong, DENIED, "a wrong pass", Some(&k.host.sshd));
    assert!(k.enrolled(&user).is_empty());
    assert_eq!(k.site.show(&user)["failures"], 1);
    // The account's own password is no answer either: key-only stays key-only.
    let steps = [expect(&pass_prompt(&fp)), send(OWN), Step::Eof];
    let password = drive(&k.site.dir, &steps, &k.ssh(&user.name, &key, &[]));
    assert_refused(
        &password,
        DENIED,
        "the account's password at the pass prompt",
        Some(&k.host.sshd),
    );
    assert!(k.enrolled(&user).is_empty());
    assert_eq!(k.site.show(&user)["failures"], 2);
    // The password method is not offered at all.
    let argv = k.ssh(
        &user.name,
        &key,
        &[
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
        ],
    );
    let by_password = drive(&k.site.dir, &[Step::Eof], &argv);
    assert_refused(&by_password, DENIED, "the password method", Some(&k.host.sshd));
    assert!(
        !by_password.text.contains("assword:"),
        "a password prompt:\n{}",
        by_password.text
    );
    // The right pass still enrolls.
    enroll(&k, &user, &key, &issued.pass, "the right pass after wrong ones");
    assert_eq!(k.enrolled(&user), [fp]);
}

/// Rule 3: keys in the user's own authorized_keys log in as before, with no new prompt, whether or
/// not pam_tap's store is there at all.
#[test]
fn e2e_a_key_in_authorized_keys_logs_in_as_before_with_no_prompt() {
    if !can_run("e2e_a_key_in_authorized_keys_logs_in_as_before_with_no_prompt") {
        return;
    }
    let k = KeyOnly::start("");
    let user = User::person().create();
    let key = k.keypair();
    k.authorize(&user, &key);
    let plain = drive(&k.site.dir, &shell_as(&user.name), &k.ssh(&user.name, &key, &[]));
    k.site
        .assert_drove(&plain, "a key from authorized_keys", Some(&k.host.sshd));
    assert!(!plain.text.contains("Temporary Access Pass"), "{}", plain.text);
    // Without the store (moved away) nothing changes for them.
    let moved = k.site.db.with_extension("away");
    fs::rename(&k.site.db, &moved).unwrap();
    let no_store = drive(&k.site.dir, &shell_as(&user.name), &k.ssh(&user.name, &key, &[]));
    fs::rename(&moved, &k.site.db).unwrap();
    k.site.assert_drove(
        &no_store,
        "a key from authorized_keys with no store",
        Some(&k.host.sshd),
    );
    assert!(k.enrolled(&user).is_empty());
}

/// Rule 4: racing connections with two keys on one pass: exactly one key is enrolled.
#[test]
fn e2e_one_pass_enrolls_exactly_one_key_when_two_connections_race() {
    if !can_run("e2e_one_pass_enrolls_exactly_one_key_when_two_connections_race") {
        return;
    }
    let k = KeyOnly::start("");
    let user = User::person().create();
    let keys = [k.keypair(), k.keypair()];
    let issued = k.site.issue(&user, &["--enroll-key"]);
    let both_at_prompt: Vec<PathBuf> = (0..2).map(|i| k.site.dir.join(format!("at-prompt-{i}"))).collect();
    let go = k.site.dir.join("go");
    let runs: Vec<Transcript> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let fp = k.fingerprint(&keys[i]);
                let steps = vec![
                    expect(&pass_prompt(&fp)),
                    Step::Mark(both_at_prompt[i].clone()),
                    Step::Await(go.clone()),
                    send(&issued.pass),
                    expect(r"\$ $|Permission denied"),
                    send("exit"),
                    Step::Eof,
                ];
                let argv = k.ssh(&user.name, &keys[i], &[]);
                let dir = &k.site.dir;
                s.spawn(move || drive(dir, &steps, &argv))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !both_at_prompt.iter().all(|p| p.exists()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        fs::write(&go, "").unwrap();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        both_at_prompt.iter().all(|p| p.exists()),
        "both connections reached the pass prompt"
    );
    let logged_in = runs.iter().filter(|t| t.code == 0).count();
    assert_eq!(
        logged_in, 1,
        "exactly one connection opens a session:\n{}\n---\n{}",
        runs[0].text, runs[1].text
    );
    assert_eq!(k.enrolled(&user).len(), 1, "exactly one key enrolled");
}

/// Rule 4: a pass revoked between sshd's key lookup and the answer to its prompt enrolls nothing.
#[test]
fn e2e_a_pass_revoked_while_its_prompt_waits_enrolls_nothing() {
    if !can_run("e2e_a_pass_revoked_while_its_prompt_waits_enrolls_nothing") {
        return;
    }
    let k = KeyOnly::start("");
    let user = User::person().create();
    let key = k.keypair();
    let fp = k.fingerprint(&key);
    let issued = k.site.issue(&user, &["--enroll-key"]);
    let (at_prompt, go) = (k.site.dir.join("at-prompt"), k.site.dir.join("go"));
    let steps = vec![
        expect(&pass_prompt(&fp)),
        Step::Mark(at_prompt.clone()),
        Step::Await(go.clone()),
        send(&issued.pass),
        Step::Eof,
    ];
    let argv = k.ssh(&user.name, &key, &[]);
    let t = std::thread::scope(|s| {
        let dir = &k.site.dir;
        let h = s.spawn(move || drive(dir, &steps, &argv));
        assert!(wait_for_file(&at_prompt), "the prompt never came");
        k.site.tapctl_ok(&["revoke", &user.name]);
        fs::write(&go, "").unwrap();
        h.join().unwrap()
    });
    assert_refused(
        &t,
        DENIED,
        "the pass revoked while its prompt waited",
        Some(&k.host.sshd),
    );
    assert!(k.enrolled(&user).is_empty());
}

/// A new person, their new key and its fingerprint, enrolled with a pass.
fn enrolled_person(k: &KeyOnly) -> (User, PathBuf, String) {
    let user = User::person().create();
    let key = k.keypair();
    let fp = k.fingerprint(&key);
    enroll(
        k,
        &user,
        &key,
        &k.site.issue(&user, &["--enroll-key"]).pass,
        "enrolling",
    );
    (user, key, fp)
}

/// Rule 7: revoking an enrolled key stops it at once.
#[test]
fn e2e_revoking_an_enrolled_key_stops_it_at_once() {
    if !can_run("e2e_revoking_an_enrolled_key_stops_it_at_once") {
        return;
    }
    let k = KeyOnly::start("");
    let (user, key, fp) = enrolled_person(&k);
    let out = k
        .site
        .tapctl_ok(&["keys", "revoke", &user.name, &fp, "--reason", "laptop lost"]);
    assert!(out.contains(&format!("revoked key {fp}")), "{out}");
    let after = refused(&k, &user, &key);
    assert_refused(&after, DENIED, "a revoked key", Some(&k.host.sshd));
    assert!(k.enrolled(&user).is_empty());
    let events = k.site.events_with_reasons(&user);
    assert!(events.contains(&format!("key_revoked:{fp}: laptop lost")), "{events:?}");
}

/// Keys are bound to the account, not only its name: the account deleted and a new one made under
/// the same name (another uid, a new home) inherits no key; a pass issued for the new account
/// enrolls the same key for it, and from then on it logs in.
#[test]
fn e2e_a_new_account_under_an_old_name_inherits_none_of_its_keys() {
    if !can_run("e2e_a_new_account_under_an_old_name_inherits_none_of_its_keys") {
        return;
    }
    let k = KeyOnly::start("");
    let (user, key, fp) = enrolled_person(&k);
    let old_uid = user.uid();
    user.remake();
    assert_ne!(user.uid(), old_uid);
    assert_eq!(
        k.enrolled(&user),
        vec![fp.clone()],
        "the old account's key stays listed"
    );
    let t = refused(&k, &user, &key);
    assert_refused(
        &t,
        DENIED,
        "the old account's key, for the new account",
        Some(&k.host.sshd),
    );
    let pass = k.site.issue(&user, &["--enroll-key"]).pass;
    enroll(&k, &user, &key, &pass, "enrolling for the new account");
    let t = drive(&k.site.dir, &shell_as(&user.name), &k.ssh(&user.name, &key, &[]));
    k.site
        .assert_drove(&t, "the key, now the new account's", Some(&k.host.sshd));
    assert!(!t.text.contains("Temporary Access Pass"), "{}", t.text);
    let listed = k.site.tapctl_json(&["keys", "list", &user.name, "--json"]);
    assert_eq!(listed[0]["uid"], user.uid(), "{listed}");
}

/// Rule 5: the keys command is never root: it refuses to run as root.
#[test]
fn e2e_the_keys_command_refuses_to_run_as_root() {
    if !can_run("e2e_the_keys_command_refuses_to_run_as_root") {
        return;
    }
    let k = KeyOnly::start("");
    let out = run(Command::new(k.host.run_dir.join("pam_tap_keys")).args([
        "--config",
        k.host.run_dir.join("pam_tap.toml").to_str().unwrap(),
        "root",
        "ssh-ed25519",
        "AAAA",
    ]));
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "printed keys as root");
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to run as root"));
}

fn wait_for_file(p: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !p.exists() {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}
