//! Key-only servers on a fleet store: a key enrolled on one host logs in on every host of its
//! pass's scope, revocation reaches every host at its next key lookup, the keys role reads public
//! keys only, and while the store is down enrolled keys a host vouched for lately (and users' own
//! keys) still log in there, while nobody enrolls (tests/e2e/harness/enroll_fleet.rs).

use super::*;
use crate::support::pg_cluster::{psql_uri, PgCluster};
use crate::support::site::Cluster;
use std::path::Path;

const DENIED: &str = "Permission denied";

/// `user` enrolls `key` with `pass` at host `i`.
fn enroll_at(f: &KeyFleet, i: usize, user: &User, key: &Path, pass: &str) -> Transcript {
    let mut steps = vec![expect(&pass_prompt(&fingerprint(key))), send(pass)];
    steps.extend(shell_as(&user.name));
    let t = drive(&f.site.dir, &steps, &f.ssh(i, &user.name, key));
    f.site
        .assert_drove(&t, &format!("enrolling at {}", KEY_HOSTS[i].1), Some(f.sshd(i)));
    t
}

/// The key alone logs in at host `i`.
fn key_logs_in(f: &KeyFleet, i: usize, user: &User, key: &Path, what: &str) -> Transcript {
    let t = drive(&f.site.dir, &shell_as(&user.name), &f.ssh(i, &user.name, key));
    f.site.assert_drove(&t, what, Some(f.sshd(i)));
    assert!(
        !t.text.contains("Temporary Access Pass"),
        "{what}: a prompt\n{}",
        t.text
    );
    t
}

/// A new user whose new key enrolled at host-a and then logged in at host-b (which caches it).
fn enrolled_at_a_and_cached_at_b(f: &KeyFleet) -> (User, std::path::PathBuf) {
    let user = User::person().create();
    let key = f.keypair();
    let p = f.site.issue(&user, &["--enroll-key"]);
    enroll_at(f, 0, &user, &key, &p.pass);
    key_logs_in(f, 1, &user, &key, "at host-b, which caches it");
    (user, key)
}

fn key_refused(f: &KeyFleet, i: usize, user: &User, key: &Path, what: &str) {
    let t = drive(&f.site.dir, &[Step::Eof], &f.ssh(i, &user.name, key));
    assert_refused(&t, DENIED, what, Some(f.sshd(i)));
}

#[test]
fn e2e_fleet_a_key_enrolled_on_one_host_logs_in_on_every_host_of_its_pass_scope() {
    if !can_run("e2e_fleet_a_key_enrolled_on_one_host_logs_in_on_every_host_of_its_pass_scope") {
        return;
    }
    let f = KeyFleet::start(Cluster::Shared(PgCluster::shared()));
    let (both, one) = (User::person().create(), User::person().create());
    let (k_both, k_one) = (f.keypair(), f.keypair());
    let p = f
        .site
        .issue(&both, &["--enroll-key", "--host", "host-a", "--host", "host-b"]);
    let first = enroll_at(&f, 0, &both, &k_both, &p.pass);
    let there = key_logs_in(&f, 1, &both, &k_both, "the key enrolled on host-a, at host-b");
    let p = f.site.issue(&one, &["--enroll-key", "--host", "host-a"]);
    enroll_at(&f, 0, &one, &k_one, &p.pass);
    key_refused(&f, 1, &one, &k_one, "a key whose pass was for host-a only, at host-b");
    let listed = f.site.tapctl_json(&["keys", "list", "--json"]);
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(rows.iter().all(|r| r["host"] == "host-a"), "{listed}");
    let audit = f.site.psql(&format!(
        "SELECT event, host, reason FROM pam_tap.audit WHERE user_name = '{}' AND event = 'enrolled'",
        both.name
    ));
    assert_eq!(audit, format!("enrolled|host-a|{}", fingerprint(&k_both)));
    keep_transcript(
        "key-enrollment-fleet",
        &[("Enrolled on host-a", &first), ("The same key alone on host-b", &there)],
    );
}

/// An account deleted and made again under its name (another uid) inherits none of its keys on any
/// host, also at a host whose cache had the key.
#[test]
fn e2e_fleet_a_new_account_under_an_old_name_inherits_no_key_on_any_host() {
    if !can_run("e2e_fleet_a_new_account_under_an_old_name_inherits_no_key_on_any_host") {
        return;
    }
    let f = KeyFleet::start(Cluster::Shared(PgCluster::shared()));
    let (user, key) = enrolled_at_a_and_cached_at_b(&f);
    let old_uid = user.uid();
    user.remake();
    key_refused(
        &f,
        1,
        &user,
        &key,
        "the old account's key for the new account, at host-b",
    );
    key_refused(
        &f,
        0,
        &user,
        &key,
        "the old account's key for the new account, at host-a",
    );
    assert_eq!(
        f.site.psql(&format!(
            "SELECT uid FROM pam_tap.keys WHERE user_name = '{}'",
            user.name
        )),
        old_uid.to_string()
    );
}

#[test]
fn e2e_fleet_a_revoked_key_stops_on_every_host_at_its_next_lookup() {
    if !can_run("e2e_fleet_a_revoked_key_stops_on_every_host_at_its_next_lookup") {
        return;
    }
    let f = KeyFleet::start(Cluster::Shared(PgCluster::shared()));
    let (user, key) = enrolled_at_a_and_cached_at_b(&f);
    f.site.tapctl_ok(&["keys", "revoke", &user.name, &fingerprint(&key)]);
    key_refused(&f, 1, &user, &key, "a revoked key at host-b, which had it cached");
    key_refused(&f, 0, &user, &key, "a revoked key at host-a");
    assert!(f.enrolled(&user).is_empty());
}

#[test]
fn e2e_fleet_the_keys_role_reads_public_keys_and_nothing_else() {
    if !can_run("e2e_fleet_the_keys_role_reads_public_keys_and_nothing_else") {
        return;
    }
    let f = KeyFleet::start(Cluster::Shared(PgCluster::shared()));
    let uri = f.site.store_uri("tapkeys");
    for sql in [
        "SELECT hash FROM pam_tap.passes LIMIT 1",
        "SELECT * FROM pam_tap.keys LIMIT 1",
        "SELECT * FROM pam_tap.audit LIMIT 1",
        "SELECT * FROM pam_tap.host_latest('x')",
        "SELECT pam_tap.host_key_known('x', 1, 'ssh-ed25519', 'AAAA')",
        "DELETE FROM pam_tap.keys",
    ] {
        let out = psql_uri(&uri, sql);
        assert!(!out.status.success(), "the keys role ran {sql}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("permission denied"),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = psql_uri(&uri, "SELECT count(*) FROM pam_tap.keys_for('nobody', 1, 'host-a')");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn e2e_fleet_while_the_store_is_down_known_keys_log_in_and_nobody_enrolls() {
    if !can_run("e2e_fleet_while_the_store_is_down_known_keys_log_in_and_nobody_enrolls") {
        return;
    }
    let f = KeyFleet::start(Cluster::Own(PgCluster::private(&[])));
    let (enrolled_user, newcomer) = (User::person().create(), User::person().create());
    let (key, new_key) = (f.keypair(), f.keypair());
    let p = f.site.issue(&enrolled_user, &["--enroll-key"]);
    enroll_at(&f, 0, &enrolled_user, &key, &p.pass);
    let waiting = f.site.issue(&newcomer, &["--enroll-key"]);
    f.site.cluster().stop_immediate();
    let down = key_logs_in(&f, 0, &enrolled_user, &key, "an enrolled key while the store is down");
    let log = f.sshd(0).log_text();
    assert!(
        log.contains("answering from this host's cache"),
        "the keys command did not miss the store:\n{log}"
    );
    key_refused(&f, 0, &newcomer, &new_key, "enrolling while the store is down");
    f.site.cluster().start();
    enroll_at(&f, 0, &newcomer, &new_key, &waiting.pass);
    keep_transcript(
        "key-enrollment-fleet-outage",
        &[("The store is down: the enrolled key still logs in", &down)],
    );
}
