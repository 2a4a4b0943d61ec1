//! `tapctl migrate --to postgresql://…`: a site that outgrew one machine moves its SQLite store
//! (passes with their ids, audit, clock mark) into an empty PostgreSQL store, all or nothing; the
//! passes then work on every host.

use crate::site::fleet;
use crate::support::accounts::User;
use crate::support::site::{stderr, stdout, Site};

const OWN: &str = "Own-Horse-Battery-31";

#[test]
fn migrate_moves_passes_audit_and_clock_into_postgresql_all_or_nothing() {
    require_root!();
    let local = Site::new("");
    let f = fleet("");
    let (used, live, revoked) = (User::with_password(OWN), User::new(), User::new());
    let (used_pass, live_pass) = a_used_a_live_and_a_revoked_pass(&local, &used, &live, &revoked);
    let sqlite = rusqlite::Connection::open(&local.db).unwrap();
    let clock: i64 = sqlite
        .query_row("SELECT value FROM meta WHERE key = 'clock'", [], |r| r.get(0))
        .unwrap();
    let audit_rows: i64 = sqlite
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();

    let to = f.cluster().uri("tapctl_admin", f.database());
    let out = local.tapctl(&["migrate", "--to", &to]);
    assert!(out.status.success(), "migrate: {}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains('3') && said.contains(&audit_rows.to_string()),
        "what it copied: {said}"
    );
    // The password in the URI is never printed.
    assert!(
        !said.contains(f.cluster().password("tapctl_admin"))
            && !stderr(&out).contains(f.cluster().password("tapctl_admin"))
    );

    the_records_and_audit_are_the_same(&local, &f, &[&used, &live, &revoked]);
    let pg_clock: i64 = f
        .psql("SELECT value FROM pam_tap.meta WHERE key = 'clock'")
        .parse()
        .unwrap();
    assert!(pg_clock >= clock, "clock mark {pg_clock} < {clock}");
    // The fleet's own rows (its hosts bound before the copy) stay, the copied ones follow.
    let copied = "SELECT count(*) FROM pam_tap.audit WHERE event NOT LIKE 'host_%'";
    assert_eq!(f.psql(copied), audit_rows.to_string());

    // The moved passes log in (or not) on the fleet as they would have locally.
    assert_eq!(f.auth("only-b", &live.name, &live_pass).auth(), "PAM_SUCCESS");
    assert_eq!(f.auth("only-c", &live.name, &live_pass).auth(), "PAM_AUTH_ERR");
    assert_eq!(f.auth("only-a", &used.name, &used_pass).auth(), "PAM_SUCCESS");

    // Into a store that is not empty: refused, and nothing is added.
    let (passes, audit) = (
        f.psql("SELECT count(*) FROM pam_tap.passes"),
        f.psql("SELECT count(*) FROM pam_tap.audit"),
    );
    let again = local.tapctl(&["migrate", "--to", &to]);
    assert_eq!(again.status.code(), Some(1), "{}{}", stdout(&again), stderr(&again));
    assert_eq!(f.psql("SELECT count(*) FROM pam_tap.passes"), passes);
    assert_eq!(f.psql("SELECT count(*) FROM pam_tap.audit"), audit);
}

/// On the SQLite site: `used`'s reusable pass used once, `live`'s one-time pass, `revoked`'s pass
/// revoked. Returns the used and the live pass.
fn a_used_a_live_and_a_revoked_pass(local: &Site, used: &User, live: &User, revoked: &User) -> (String, String) {
    let used_pass = local.issue(&used.name, &["--keep-password", "--reusable"]).pass;
    assert_eq!(
        local
            .pam(&used.name, &["authenticate"], &[&used_pass])
            .result("authenticate"),
        "PAM_SUCCESS"
    );
    let live_pass = local.issue(&live.name, &["--keep-password", "--one-time"]).pass;
    local.issue(&revoked.name, &["--keep-password"]);
    assert!(local
        .tapctl(&["revoke", &revoked.name, "--reason", "left"])
        .status
        .success());
    (used_pass, live_pass)
}

/// Each user's record (id, status, counts, expiry, issuer) and audit read the same from the
/// SQLite site and the fleet.
fn the_records_and_audit_are_the_same(local: &Site, f: &Site, users: &[&User]) {
    for u in users {
        let (a, b) = (local.show(&u.name), f.show(&u.name));
        for k in ["id", "status", "use_count", "failures", "expires_at", "issued_by"] {
            assert_eq!(a[k], b[k], "{k} of {}: sqlite {a} postgresql {b}", u.name);
        }
        assert_eq!(local.events(&u.name), f.events(&u.name), "audit of {}", u.name);
    }
}

#[test]
fn a_migrate_that_fails_midway_leaves_the_postgresql_store_empty() {
    require_root!();
    let local = Site::new("");
    let f = fleet("");
    let (first, second) = (User::new(), User::new());
    local.issue(&first.name, &["--keep-password"]);
    local.issue(&second.name, &["--keep-password"]);
    // The second pass holds a count SQLite keeps (64-bit) and PostgreSQL's integer column cannot:
    // the copy fails after the first pass went in.
    let sqlite = rusqlite::Connection::open(&local.db).unwrap();
    let changed = sqlite
        .execute(
            "UPDATE passes SET use_count = 3000000000 WHERE user = ?1",
            [&second.name],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let out = local.tapctl(&["migrate", "--to", &f.cluster().uri("tapctl_admin", f.database())]);
    assert!(
        !out.status.success(),
        "migrate took a use_count of 3e9: {}",
        stdout(&out)
    );
    // PostgreSQL's own refusal of the row, inside the copy: not a check made before it began.
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
    assert_eq!(f.psql("SELECT count(*) FROM pam_tap.passes"), "0", "{}", stderr(&out));
    assert_eq!(
        f.psql("SELECT count(*) FROM pam_tap.audit WHERE event NOT LIKE 'host_%'"),
        "0"
    );
}

/// The keys passes enrolled on a single host move with its store: after the copy the fleet store
/// knows them (and the host they were enrolled on), so they keep logging in.
#[test]
fn migrate_moves_the_enrolled_ssh_keys_too() {
    require_root!();
    use pam_tap_store::keys::{KeysDb, NewKey, PublicKey};
    let keys_dir = crate::support::site::PrivateDir::new();
    let keys_db = keys_dir.path().join("keys/keys.db");
    let local = Site::new(&format!("[enroll]\nkeys_db = \"{}\"\n", keys_db.display()));
    let f = fleet("");
    let user = User::new();
    let key = PublicKey::parse(
        "ssh-ed25519",
        "AAAAC3NzaC1lZDI1NTE5AAAAIM4pmH4fO4hNTBvtG5iATBC5q8NDTT1XP1qDvLjc2hlm",
    )
    .unwrap();
    // As the enrollment step leaves it on this host: the key, its pass and where.
    KeysDb::open_write(&keys_db, None)
        .unwrap()
        .enroll(&NewKey {
            user: user.name.clone(),
            uid: Some(user.uid()),
            key: key.clone(),
            pass_id: Some(1),
            host: Some("ws-0421".into()),
            hosts: None,
            enrolled_at: 1_800_000_000,
        })
        .unwrap();
    let to = f.cluster().uri("tapctl_admin", f.database());
    let out = local.tapctl(&["migrate", "--to", &to]);
    assert!(out.status.success(), "migrate: {}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("1 enrolled SSH key(s)"), "{}", stdout(&out));
    assert_eq!(
        f.psql(&format!(
            "SELECT user_name, uid, fingerprint, host FROM pam_tap.keys WHERE user_name = '{}'",
            user.name
        )),
        format!("{}|{}|{}|ws-0421", user.name, user.uid(), key.fingerprint())
    );
    let listed = f.tapctl_json(&["keys", "list", "--json"]);
    assert_eq!(listed[0]["fingerprint"], key.fingerprint(), "{listed}");
}
