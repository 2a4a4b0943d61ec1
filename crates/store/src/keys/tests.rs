use super::*;
use pam_tap_base::safefile::Trust;

const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIM4pmH4fO4hNTBvtG5iATBC5q8NDTT1XP1qDvLjc2hlm";
const EC: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIiP+rOL0XdatxTjKv+MxG9WBxfvjFtJ09fwXUAAAFCYWEa+3sNV+S3CQEJOPXHsgnDcYwZIvPecc1X3lMtcMvs=";

fn ed() -> PublicKey {
    PublicKey::parse("ssh-ed25519", ED).unwrap()
}

fn ec() -> PublicKey {
    PublicKey::parse("ecdsa-sha2-nistp256", EC).unwrap()
}

#[test]
fn fingerprints_are_the_ones_ssh_keygen_prints() {
    // `ssh-keygen -lf` of the same two keys.
    assert_eq!(ed().fingerprint(), "SHA256:stqvfm2CefTyMhDZBZfOhjjMRGIi1DIqYDSetHLmX0Q");
    assert_eq!(ec().fingerprint(), "SHA256:v1QM3lZEGfDuYI0LrN/CAY6U25S1LEbHAd5MEaWMYvU");
    assert!(plausible_fingerprint(&ed().fingerprint()));
    assert!(!plausible_fingerprint("SHA256:../../etc"));
    assert!(!plausible_fingerprint("MD5:aa"));
}

#[test]
fn a_key_whose_blob_names_another_type_or_is_not_base64_is_refused() {
    assert!(PublicKey::parse("ssh-rsa", ED).is_err());
    assert!(PublicKey::parse("ssh-ed25519", EC).is_err());
    assert!(PublicKey::parse("ssh-ed25519", "not base64!").is_err());
    assert!(PublicKey::parse("ssh-ed25519", "").is_err());
    assert!(PublicKey::parse("ssh-ed25519-cert-v01@openssh.com", ED).is_err());
    assert!(PublicKey::parse("ssh-ed25519", &"A".repeat(5000)).is_err());
}

#[test]
fn the_proven_key_is_the_one_publickey_line_of_the_auth_info() {
    let one = format!("publickey ssh-ed25519 {ED}\n");
    assert_eq!(PublicKey::from_auth_info(&one), Some(ed()));
    // A security key's line carries its signature counter after the key.
    let sk_like = format!("publickey ssh-ed25519 {ED} signature count = 7\n");
    assert_eq!(PublicKey::from_auth_info(&sk_like), Some(ed()));
    assert_eq!(PublicKey::from_auth_info(""), None);
    assert_eq!(PublicKey::from_auth_info("keyboard-interactive/pam\n"), None);
    let two = format!("publickey ssh-ed25519 {ED}\npublickey ecdsa-sha2-nistp256 {EC}\n");
    assert_eq!(PublicKey::from_auth_info(&two), None, "two keys: which one to enroll?");
    assert_eq!(PublicKey::from_auth_info("publickey ssh-ed25519 AAAA\n"), None);
}

fn db(dir: &tempfile::TempDir) -> KeysDb {
    KeysDb::open_write_trusting(&dir.path().join("k/keys.db"), None, Trust::current_user()).unwrap()
}

/// The uid the keys here are enrolled for (alice's).
const ALICE: u32 = 1001;

fn new_key(user: &str, key: PublicKey, pass_id: i64, hosts: Option<&str>) -> NewKey {
    NewKey {
        user: user.into(),
        uid: Some(ALICE),
        key,
        pass_id: Some(pass_id),
        host: Some("ws-1".into()),
        hosts: hosts.map(str::to_string),
        enrolled_at: 100,
    }
}

#[test]
fn a_window_lets_one_user_enroll_on_its_hosts_while_it_lasts() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = db(&dir);
    k.open_window(7, "alice", 100, 200, Some("ws-1,ws-2")).unwrap();
    assert!(k.lookup("alice", ALICE, "ws-1", 150).unwrap().enrolling);
    assert!(
        !k.lookup("alice", ALICE, "ws-3", 150).unwrap().enrolling,
        "another host"
    );
    assert!(!k.lookup("alice", ALICE, "ws-1", 99).unwrap().enrolling, "not yet");
    assert!(!k.lookup("alice", ALICE, "ws-1", 200).unwrap().enrolling, "expired");
    assert!(!k.lookup("bob", ALICE, "ws-1", 150).unwrap().enrolling, "another user");
    k.close_windows("alice").unwrap();
    assert!(!k.lookup("alice", ALICE, "ws-1", 150).unwrap().enrolling, "closed");
}

#[test]
fn a_pass_enrolls_one_key_which_then_logs_in_on_its_hosts_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = db(&dir);
    k.open_window(7, "alice", 100, 200, None).unwrap();
    k.enroll(&new_key("alice", ed(), 7, Some("ws-1"))).unwrap();
    assert!(
        !k.lookup("alice", ALICE, "ws-1", 150).unwrap().enrolling,
        "enrolling closes the window"
    );
    let err = k.enroll(&new_key("alice", ec(), 7, None)).unwrap_err();
    assert!(err.to_string().contains("enrolled a key already"), "{err}");
    assert_eq!(k.lookup("alice", ALICE, "ws-1", 150).unwrap().keys, [ed()]);
    assert!(
        k.lookup("alice", ALICE, "ws-2", 150).unwrap().keys.is_empty(),
        "out of the pass's hosts"
    );
    assert!(k.is_enrolled("alice", ALICE, &ed(), "ws-1", 0).unwrap());
    assert!(!k.is_enrolled("alice", ALICE, &ec(), "ws-1", 0).unwrap());
    assert!(!k.is_enrolled("bob", ALICE, &ed(), "ws-1", 0).unwrap());
    assert!(
        !k.is_enrolled("alice", ALICE, &ed(), "ws-1", 101).unwrap(),
        "seen before the freshness bound"
    );
    assert_eq!(k.list(None).unwrap().len(), 1);
    let gone = k.revoke("alice", &ed().fingerprint()).unwrap().unwrap();
    assert_eq!(gone.key, ed());
    assert!(k.lookup("alice", ALICE, "ws-1", 150).unwrap().keys.is_empty());
    assert!(k.revoke("alice", &ed().fingerprint()).unwrap().is_none());
}

#[test]
fn the_reader_opens_read_only_and_refuses_a_file_others_may_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut k = db(&dir);
    k.open_window(1, "alice", 0, 10, None).unwrap();
    let path = dir.path().join("k/keys.db");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let r = KeysDb::open_read_trusting(&path, Trust::current_user()).unwrap();
    assert!(r.lookup("alice", ALICE, "h", 5).unwrap().enrolling);
    assert!(
        r.conn.execute("DELETE FROM enrolling", []).is_err(),
        "a reader cannot write"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(KeysDb::open_read_trusting(&path, Trust::current_user()).is_err());
}

#[test]
fn a_key_logs_in_as_the_uid_it_was_enrolled_for_and_a_new_pass_rebinds_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = db(&dir);
    k.enroll(&new_key("alice", ed(), 7, None)).unwrap();
    assert!(k.is_enrolled("alice", ALICE, &ed(), "ws-1", 0).unwrap());
    // alice deleted, and a new account made under the name with another uid.
    let later = ALICE + 1;
    assert!(!k.is_enrolled("alice", later, &ed(), "ws-1", 0).unwrap());
    assert!(k.lookup("alice", later, "ws-1", 150).unwrap().keys.is_empty());
    // The new alice proves the same key with a pass of her own: it is hers from then on.
    let mut again = new_key("alice", ed(), 8, None);
    again.uid = Some(later);
    k.enroll(&again).unwrap();
    assert!(k.is_enrolled("alice", later, &ed(), "ws-1", 0).unwrap());
    assert!(!k.is_enrolled("alice", ALICE, &ed(), "ws-1", 0).unwrap());
    assert_eq!(k.list(Some("alice")).unwrap()[0].uid, Some(later));
}

#[test]
fn a_keys_database_from_before_uids_gets_the_column_and_its_keys_log_in_as_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k/keys.db");
    drop(db(&dir));
    {
        // The table as it was: no uid column, one key.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE keys;
             CREATE TABLE keys (id INTEGER PRIMARY KEY, user TEXT NOT NULL, key_type TEXT NOT NULL,
                 blob TEXT NOT NULL, fingerprint TEXT NOT NULL, pass_id INTEGER, host TEXT, hosts TEXT,
                 enrolled_at INTEGER NOT NULL, seen_at INTEGER NOT NULL, UNIQUE (user, fingerprint));",
        )
        .unwrap();
        c.execute(
            "INSERT INTO keys (user, key_type, blob, fingerprint, enrolled_at, seen_at) VALUES ('alice', ?1, ?2, ?3, 1, 1)",
            rusqlite::params![ed().key_type, ed().blob, ed().fingerprint()],
        )
        .unwrap();
    }
    let k = db(&dir);
    assert_eq!(k.list(None).unwrap()[0].uid, None);
    assert!(!k.is_enrolled("alice", ALICE, &ed(), "ws-1", 0).unwrap());
    assert!(k.lookup("alice", ALICE, "ws-1", 5).unwrap().keys.is_empty());
}
