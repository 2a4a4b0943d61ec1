//! `tapctl issue --enroll-key` (also with `--csv`), `revoke` and `keys`: what they leave in the keys
//! database sshd's keys command reads (a window per enrollment pass, closed by revoke), and the
//! refusals of `keys revoke`.

use pam_tap_store::keys::KeysDb;

use crate::support::accounts::User;
use crate::support::site::{refused, stderr, PrivateDir, Site};

/// A site whose keys database is in a directory of the test's own.
fn site_with_keys() -> (Site, PrivateDir, std::path::PathBuf) {
    let dir = PrivateDir::new();
    let keys = dir.path().join("keys/keys.db");
    let site = Site::new(&format!("[enroll]\nkeys_db = \"{}\"\n", keys.display()));
    (site, dir, keys)
}

fn enrolling(site: &Site, keys: &std::path::Path, user: &str) -> bool {
    let host = site.tapctl_json(&["policy", "--json"])["host_name"]
        .as_str()
        .unwrap()
        .to_string();
    #[allow(clippy::disallowed_methods)] // the keys command's own clock, as it reads it
    let now = chrono::Utc::now().timestamp();
    KeysDb::open_read(keys)
        .unwrap()
        .lookup(user, pam_tap_base::users::uid_of(user).unwrap().unwrap(), &host, now)
        .unwrap()
        .enrolling
}

#[test]
fn an_enrollment_pass_opens_a_window_for_the_keys_command_and_revoke_closes_it() {
    require_root!();
    let (site, _dir, keys) = site_with_keys();
    let user = User::with_password("Own-pw-before-7");
    let shadow = user.shadow();
    let issued = site.tapctl_json(&["issue", &user.name, "--enroll-key", "--json"]);
    assert_eq!(issued["enroll_key"], true, "{issued}");
    assert_eq!(
        issued["reset_password"], false,
        "an enrollment pass never resets: {issued}"
    );
    assert_eq!(user.shadow(), shadow, "the password was touched");
    assert!(enrolling(&site, &keys, &user.name));
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&keys).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o640, "the keys database is readable by its group only");
    site.tapctl_ok(&["revoke", &user.name]);
    assert!(!enrolling(&site, &keys, &user.name), "revoke closes the window");
    // A login pass opens no window.
    site.tapctl_ok(&["issue", &user.name, "--keep-password"]);
    assert!(!enrolling(&site, &keys, &user.name));
}

#[test]
fn a_csv_issue_with_enroll_key_opens_a_window_per_row() {
    require_root!();
    let (site, _dir, keys) = site_with_keys();
    let users = [User::new(), User::new()];
    let csv = site.dir.path().join("joiners.csv");
    std::fs::write(&csv, format!("user\n{}\n{}\n", users[0].name, users[1].name)).unwrap();
    let out = site.tapctl(&["issue", "--csv", csv.to_str().unwrap(), "--enroll-key", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.iter().all(|r| r["enroll_key"] == true), "{rows:?}");
    for u in &users {
        assert!(enrolling(&site, &keys, &u.name), "{}", u.name);
        assert_eq!(site.show(u)["enroll_key"], true);
    }
}

#[test]
fn keys_revoke_refuses_what_is_not_a_fingerprint_or_not_enrolled() {
    require_root!();
    let (site, _dir, _keys) = site_with_keys();
    let user = User::new();
    assert_eq!(site.tapctl_json(&["keys", "list", "--json"]), serde_json::json!([]));
    refused(
        &site.tapctl(&["keys", "revoke", &user.name, "../../etc/passwd"]),
        &["is not a key fingerprint"],
    );
    let fp = "SHA256:stqvfm2CefTyMhDZBZfOhjjMRGIi1DIqYDSetHLmX0Q";
    refused(
        &site.tapctl(&["keys", "revoke", &user.name, fp]),
        &[&format!("{} has no enrolled key {fp}", user.name)],
    );
    refused(&site.tapctl(&["keys", "revoke", "no such user", fp]), &["no such user"]);
}

/// The guide's Key-only servers page quotes the shipped sshd block and pam.d include line for line
/// (comments aside), so the documented set-up is the packaged one.
#[test]
fn the_guide_quotes_the_shipped_sshd_block_and_pam_include() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/guide/src/key-only.md")).unwrap();
    for shipped in [
        "packaging/key-only/pam_tap_enroll.conf",
        "packaging/key-only/pam-tap-enroll",
    ] {
        let text = std::fs::read_to_string(root.join(shipped)).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        assert!(!lines.is_empty(), "{shipped}");
        assert!(
            guide.contains(&format!("```\n{}\n```", lines.join("\n"))),
            "key-only.md does not quote {shipped}"
        );
    }
}
