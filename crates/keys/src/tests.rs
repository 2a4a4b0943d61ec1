use super::*;
use pam_tap_store::keys::NewKey;

const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIM4pmH4fO4hNTBvtG5iATBC5q8NDTT1XP1qDvLjc2hlm";
const EC: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIiP+rOL0XdatxTjKv+MxG9WBxfvjFtJ09fwXUAAAFCYWEa+3sNV+S3CQEJOPXHsgnDcYwZIvPecc1X3lMtcMvs=";

fn policy(dir: &tempfile::TempDir, database: &str, enroll: &str) -> Policy {
    let db = dir.path().join("k/keys.db");
    Policy::parse(&format!(
        "database = \"{database}\"\nhost_name = \"ws-1\"\n[enroll]\nkeys_db = \"{}\"\n{enroll}",
        db.display()
    ))
    .unwrap()
}

fn keys_db(p: &Policy) -> KeysDb {
    KeysDb::open_write_trusting(&p.enroll.keys_db, None, Trust::current_user()).unwrap()
}

fn req(user: &str, key_type: &str, blob: &str) -> Request {
    Request {
        config: "/unused".into(),
        user: user.into(),
        key_type: key_type.into(),
        blob: blob.into(),
    }
}

/// alice's uid in these tests.
const ALICE: u32 = 1001;

fn unreachable(_: &pam_tap_store::Conninfo, _: &str, _: u32, _: &str) -> Result<Lookup> {
    Err(Error::Store("connection refused".into()))
}

fn lines(p: &Policy, r: &Request, now: i64) -> Vec<String> {
    lines_for(p, r, ALICE, now)
}

/// The lines for `r` when its user's account has uid `uid`.
fn lines_for(p: &Policy, r: &Request, uid: u32, now: i64) -> Vec<String> {
    answer_trusting(p, r, uid, now, &unreachable, Trust::current_user()).unwrap()
}

fn key(t: &str, b: &str) -> PublicKey {
    PublicKey::parse(t, b).unwrap()
}

#[test]
fn the_command_line_is_sshds_three_tokens_after_an_optional_config() {
    let a: Vec<String> = ["alice", "ssh-ed25519", ED].map(String::from).to_vec();
    assert_eq!(parse_args(&a).unwrap().config, PathBuf::from(DEFAULT_CONFIG));
    let b: Vec<String> = ["--config", "/etc/k.toml", "alice", "ssh-ed25519", ED]
        .map(String::from)
        .to_vec();
    assert_eq!(parse_args(&b).unwrap().config, PathBuf::from("/etc/k.toml"));
    assert!(parse_args(&a[..2]).is_err());
    let mut out = Vec::new();
    let e = run(&a, 0, 0, &mut out).unwrap_err();
    assert!(e.to_string().contains("refusing to run as root"), "{e}");
    assert!(out.is_empty());
}

#[test]
fn the_offered_key_is_named_only_while_an_enrollment_window_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(&dir, "/var/lib/pam_tap/tap.db", "");
    let r = req("alice", "ssh-ed25519", ED);
    assert!(lines(&p, &r, 150).is_empty(), "no keys database yet");
    keys_db(&p).open_window(7, "alice", 100, 200, None).unwrap();
    assert_eq!(lines(&p, &r, 150), [format!("ssh-ed25519 {ED}")]);
    assert!(lines(&p, &r, 200).is_empty(), "the window ended");
    assert!(
        lines(&p, &req("bob", "ssh-ed25519", ED), 150).is_empty(),
        "another user"
    );
    assert!(
        lines(&p, &req("alice", "ssh-ed25519", "AAAA"), 150).is_empty(),
        "not a key"
    );
    assert!(
        lines(&p, &req("../x", "ssh-ed25519", ED), 150).is_empty(),
        "not a user name"
    );
}

#[test]
fn enrolled_keys_are_named_and_policy_narrows_what_may_enroll() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(
        &dir,
        "/var/lib/pam_tap/tap.db",
        "key_types = [\"ecdsa-sha2-nistp256\"]\nverify_required = true\n",
    );
    let mut db = keys_db(&p);
    db.open_window(7, "alice", 100, 200, None).unwrap();
    // A type policy does not allow is never offered for enrollment.
    assert!(lines(&p, &req("alice", "ssh-ed25519", ED), 150).is_empty());
    assert_eq!(
        lines(&p, &req("alice", "ecdsa-sha2-nistp256", EC), 150),
        [format!("ecdsa-sha2-nistp256 {EC}")]
    );
    db.enroll(&NewKey {
        user: "alice".into(),
        uid: Some(ALICE),
        key: key("ssh-ed25519", ED),
        pass_id: Some(7),
        host: None,
        hosts: Some("ws-1".into()),
        enrolled_at: 150,
    })
    .unwrap();
    // Enrolled: named whatever key is offered, and the window is closed.
    assert_eq!(
        lines(&p, &req("alice", "ecdsa-sha2-nistp256", EC), 160),
        [format!("ssh-ed25519 {ED}")]
    );
    let other_host = Policy {
        host_name: "ws-2".into(),
        ..p.clone()
    };
    assert!(lines(&other_host, &req("alice", "ssh-ed25519", ED), 160).is_empty());
    // A later account named alice (another uid) inherits none of the keys.
    assert!(lines_for(&p, &req("alice", "ssh-ed25519", ED), ALICE + 1, 160).is_empty());
}

#[test]
fn verify_required_reaches_sshd_for_security_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(&dir, "/var/lib/pam_tap/tap.db", "verify_required = true\n");
    let sk = "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIM4pmH4fO4hNTBvtG5iATBC5q8NDTT1XP1qDvLjc2hlmAAAABHNzaDo=";
    keys_db(&p).open_window(7, "alice", 100, 200, None).unwrap();
    assert_eq!(
        lines(&p, &req("alice", "sk-ssh-ed25519@openssh.com", sk), 150),
        [format!("verify-required sk-ssh-ed25519@openssh.com {sk}")]
    );
    assert_eq!(
        lines(&p, &req("alice", "ssh-ed25519", ED), 150),
        [format!("ssh-ed25519 {ED}")]
    );
}

#[test]
fn a_fleet_store_out_of_reach_leaves_the_fresh_cache_and_no_enrollment() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(
        &dir,
        "postgresql://tapkeys@db.example/pam_tap?sslmode=verify-full",
        "cache_for = \"1h\"\n",
    );
    let mut db = keys_db(&p);
    let cached = NewKey {
        user: "alice".into(),
        uid: Some(ALICE),
        key: key("ssh-ed25519", ED),
        pass_id: None,
        host: Some("ws-1".into()),
        hosts: None,
        enrolled_at: 1000,
    };
    db.cache(&cached, 1000).unwrap();
    db.open_window(7, "alice", 0, 1_000_000, None).unwrap();
    let r = req("alice", "ecdsa-sha2-nistp256", EC);
    assert_eq!(
        lines(&p, &r, 1000 + 3599),
        [format!("ssh-ed25519 {ED}")],
        "fresh: the cache answers"
    );
    assert!(lines(&p, &r, 1000 + 3601).is_empty(), "stale: nothing");
    assert!(
        lines_for(&p, &r, ALICE + 1, 1000 + 3599).is_empty(),
        "the cache names no key to another account of the name"
    );
    let answered = |_: &pam_tap_store::Conninfo, _: &str, _: u32, _: &str| -> Result<Lookup> {
        Ok(Lookup {
            keys: vec![],
            enrolling: true,
        })
    };
    let got = answer_trusting(&p, &r, ALICE, 5000, &answered, Trust::current_user()).unwrap();
    assert_eq!(
        got,
        [format!("ecdsa-sha2-nistp256 {EC}")],
        "the store's answer, not the cache's"
    );
}
