//! The password handoff in a fleet: a reset pass issued against PostgreSQL resets the account on
//! the host that accepts it, at that moment (the derived secret into its /etc/shadow, change
//! forced), and that host's own store keeps what was there before. Revoked, expired and completed
//! passes are settled on that host at its next touch. The three hosts share one /etc/shadow here,
//! so which host's store holds the row is what tells them apart.

use std::os::unix::fs::MetadataExt;

use rusqlite::{Connection, OpenFlags};

use crate::site::{fleet, fleet_alone};
use crate::support::accounts::User;
use crate::support::site::Site;

/// A reset pass typed at the real su by an unprivileged user.
mod su;
/// An acceptance undone after the shadow change.
mod undone;

const OWN: &str = "Own-Horse-Battery-31";
const NEW_PW: &str = "Fresh-Staple-Lamp-58";
/// A login that meets the forced change on the same handle (login, su, sshd's kbd-int).
const CHANGE: [&str; 3] = ["authenticate", "acct_mgmt", "chauthtok_expired"];
const LOGIN: [&str; 2] = ["authenticate", "acct_mgmt"];

/// (hash, last-change day) of the user's /etc/shadow line.
fn shadow(u: &User) -> (String, String) {
    let line = u.shadow();
    let f: Vec<&str> = line.split(':').collect();
    (f[1].to_string(), f[2].to_string())
}

/// One pass's row in a host's store.
#[derive(Debug)]
struct HostRow {
    shadow_set: Option<String>,
    shadow_prev: Option<String>,
    shadow_prev_lastchg: Option<i64>,
    /// 0 once the host has settled the pass.
    key_len: i64,
}

/// Pass `id`'s row in host `x`'s store, or `None` when the store or the row is not there.
fn host_row(f: &Site, x: &str, id: i64) -> Option<HostRow> {
    let path = f.host_store(x);
    if !path.exists() {
        return None;
    }
    let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    let mut st = c
        .prepare(
            "SELECT shadow_set, shadow_prev, shadow_prev_lastchg, ifnull(length(derive_key), 0)
             FROM passes WHERE id = ?1",
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = st.query([id]).unwrap();
    let row = rows.next().unwrap()?;
    Some(HostRow {
        shadow_set: row.get(0).unwrap(),
        shadow_prev: row.get(1).unwrap(),
        shadow_prev_lastchg: row.get(2).unwrap(),
        key_len: row.get(3).unwrap(),
    })
}

/// (authenticate, acct_mgmt) of `answer` typed at host `x`'s full stack.
fn login(f: &Site, x: &str, user: &str, answer: &str) -> (String, String) {
    let d = f.pam_on(&format!("full-{x}"), user, &LOGIN, &[answer]);
    (d.result("authenticate").into(), d.result("acct_mgmt").into())
}

fn ok() -> (String, String) {
    ("PAM_SUCCESS".into(), "PAM_SUCCESS".into())
}

/// Accepts `pass` on host `x` without making the change (the person closed the session) and
/// returns the shadow entry the reset left.
fn accept_only(f: &Site, x: &str, u: &User, pass: &str) -> (String, String) {
    let d = f.pam_on(&format!("full-{x}"), &u.name, &LOGIN, &[pass]);
    assert_eq!(
        (d.result("authenticate"), d.result("acct_mgmt")),
        ("PAM_SUCCESS", "PAM_NEW_AUTHTOK_REQD"),
        "{}",
        d.stdout
    );
    shadow(u)
}

#[test]
fn a_reset_pass_resets_the_account_on_the_host_that_accepts_it_and_the_change_follows() {
    require_root!();
    let f = fleet("");
    let u = User::with_password(OWN);
    let before = shadow(&u);
    let pass = f.issue_reset(&u.name, &[]).pass;
    let id = f.newest_id(&u.name);
    assert_eq!(shadow(&u), before, "tapctl issue changed the shadow entry where it ran");
    for x in ["a", "b", "c"] {
        assert!(host_row(&f, x, id).is_none(), "host-{x} recorded a pass nobody used");
    }

    let d = f.pam_on("full-a", &u.name, &CHANGE, &[&pass, NEW_PW, NEW_PW]);
    assert_eq!(
        (
            d.result("authenticate"),
            d.result("acct_mgmt"),
            d.result("chauthtok_expired")
        ),
        ("PAM_SUCCESS", "PAM_NEW_AUTHTOK_REQD", "PAM_SUCCESS"),
        "{}",
        d.stdout
    );
    assert_eq!(
        d.prompts,
        ["Password: ", "New password: ", "Retype new password: "],
        "no current-password prompt"
    );
    // host-a's store holds the reset it made: what it set and what was there before.
    let row = host_row(&f, "a", id).expect("host-a's store holds the pass it accepted");
    assert_eq!(row.shadow_prev.as_deref(), Some(before.0.as_str()), "{row:?}");
    assert_eq!(row.shadow_prev_lastchg, before.1.parse().ok(), "{row:?}");
    let set = row.shadow_set.clone().expect("shadow_set");
    assert!(set.starts_with('$') && set != before.0, "{row:?}");
    for x in ["b", "c"] {
        assert!(host_row(&f, x, id).is_none(), "host-{x} recorded host-a's reset");
    }
    let meta = std::fs::metadata(f.host_store("a")).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid()),
        (0o600, 0),
        "host store mode and owner"
    );

    // pam_unix wrote the new password: it logs in everywhere, the old one nowhere.
    let after = shadow(&u);
    assert!(after.0.starts_with("$y$") && after.0 != set, "{after:?}");
    assert_ne!(after.1, "0", "the change is no longer owed");
    assert_eq!(login(&f, "a", &u.name, NEW_PW), ok());
    assert_eq!(login(&f, "b", &u.name, NEW_PW), ok());
    assert_eq!(login(&f, "a", &u.name, OWN).0, "PAM_AUTH_ERR");
    assert_eq!(f.auth("full-c", &u.name, &pass).auth(), "PAM_AUTH_ERR", "one-time");
    let used_on = f.psql(&format!(
        "SELECT host FROM pam_tap.audit WHERE event = 'used' AND pass_id = {id}"
    ));
    assert_eq!(used_on, "host-a");
    f.check_no_secrets();
}

#[test]
fn the_grace_prompt_in_a_fresh_process_takes_the_pass_as_the_current_password() {
    require_root!();
    let f = fleet("");
    let u = User::with_password(OWN);
    let before = shadow(&u);
    let pass = f.issue_reset(&u.name, &[]).pass;
    let id = f.newest_id(&u.name);
    // sshd's password method: authenticate and acct_mgmt, then `passwd` later in a new process.
    let reset = accept_only(&f, "a", &u, &pass);
    let row = host_row(&f, "a", id).expect("host-a's store holds the pass");
    assert_eq!(Some(&reset.0), row.shadow_set.as_ref(), "{row:?}");
    assert_ne!(reset.0, before.0);
    assert_eq!(reset.1, "0", "the change is forced");
    assert!(row.key_len > 0, "{row:?}");
    // The user's own password stopped working with the reset.
    assert_eq!(login(&f, "a", &u.name, OWN).0, "PAM_AUTH_ERR");

    let d = f.pam_on("full-a", &u.name, &["chauthtok_expired"], &[&pass, NEW_PW, NEW_PW]);
    assert_eq!(d.result("chauthtok_expired"), "PAM_SUCCESS", "{}", d.stdout);
    assert_eq!(
        d.prompts,
        ["Current password: ", "New password: ", "Retype new password: "]
    );
    assert_eq!(login(&f, "a", &u.name, NEW_PW), ok());
    assert!(f.events(&u.name).contains(&"grace_used".to_string()));
    f.check_no_secrets();
}

#[test]
fn a_changed_password_is_kept_and_the_pass_settled_at_the_hosts_next_touch() {
    require_root!();
    let f = fleet("");
    let u = User::with_password(OWN);
    let pass = f.issue_reset(&u.name, &[]).pass;
    let id = f.newest_id(&u.name);
    let d = f.pam_on("full-a", &u.name, &CHANGE, &[&pass, NEW_PW, NEW_PW]);
    assert_eq!(d.result("chauthtok_expired"), "PAM_SUCCESS", "{}", d.stdout);
    let changed = shadow(&u);
    // The touch: a pass-shaped answer on host-a (the used pass itself, refused).
    assert_eq!(f.auth("full-a", &u.name, &pass).auth(), "PAM_AUTH_ERR");
    let row = host_row(&f, "a", id).expect("host-a's store holds the pass");
    assert_eq!(row.key_len, 0, "derive key kept after the handoff completed: {row:?}");
    assert_eq!(shadow(&u), changed, "the touch changed the password the user set");
    assert_eq!(login(&f, "a", &u.name, NEW_PW), ok());
    f.check_no_secrets();
}

#[test]
fn a_revoked_reset_pass_gives_the_previous_password_back_at_that_hosts_next_touch() {
    require_root!();
    let f = fleet("");
    for touch in ["a pass-shaped login", "tapctl purge with host-a's config"] {
        let u = User::with_password(OWN);
        let before = shadow(&u);
        let pass = f.issue_reset(&u.name, &[]).pass;
        let id = f.newest_id(&u.name);
        let reset = accept_only(&f, "a", &u, &pass);
        assert_ne!(reset, before);
        let out = f.tapctl(&["revoke", &u.name]);
        assert!(out.status.success(), "revoke: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            shadow(&u),
            reset,
            "{touch}: revoke with tapctl's config touched the shadow here"
        );
        // An ordinary password never reaches the store: it is no touch, and still fails.
        assert_eq!(login(&f, "a", &u.name, OWN).0, "PAM_AUTH_ERR", "{touch}");
        // host-b never held the reset: its touch has nothing to give back.
        assert_eq!(f.auth("full-b", &u.name, &pass).auth(), "PAM_AUTH_ERR");
        assert_eq!(shadow(&u), reset, "{touch}: host-b gave back host-a's reset");
        let said = if touch.starts_with("tapctl") {
            let out = f.tapctl_on(&f.host_config("a"), &["purge"]);
            format!("{out:?}")
        } else {
            let d = f.auth("full-a", &u.name, &pass);
            assert_eq!(d.auth(), "PAM_AUTH_ERR", "{}", d.stdout);
            d.stdout
        };
        assert_eq!(shadow(&u), before, "{touch}: previous password not back: {said}");
        assert_eq!(login(&f, "a", &u.name, OWN), ok(), "{touch}");
        let row = host_row(&f, "a", id).expect("host-a's store holds the pass");
        assert_eq!(row.key_len, 0, "{touch}: derive key kept: {row:?}");
    }
    f.check_no_secrets();
}

#[test]
fn a_reset_pass_that_ended_before_the_change_locks_the_account_at_the_next_touch() {
    require_root!();
    let f = fleet("");
    let u = User::with_password(OWN);
    let pass = f.issue_reset(&u.name, &[]).pass;
    let id = f.newest_id(&u.name);
    let reset = accept_only(&f, "a", &u, &pass);
    // The pass ends with the change never made.
    let ended = f.psql(&format!(
        "UPDATE pam_tap.passes SET expires_at = extract(epoch FROM now())::bigint - 1
         WHERE id = {id} RETURNING id"
    ));
    assert_eq!(ended, id.to_string());
    assert_eq!(shadow(&u), reset);
    assert_eq!(f.auth("full-a", &u.name, &pass).auth(), "PAM_AUTH_ERR");
    assert_eq!(shadow(&u).0, "!", "the reset outlived its pass");
    let row = host_row(&f, "a", id).expect("host-a's store holds the pass");
    assert_eq!(row.key_len, 0, "derive key kept: {row:?}");
    assert_eq!(login(&f, "a", &u.name, OWN).0, "PAM_AUTH_ERR");
    f.check_no_secrets();
}

#[test]
fn the_fleet_purge_keeps_a_reset_pass_for_its_hosts_and_wipes_its_derive_key() {
    require_root!();
    let f = fleet("");
    let u = User::with_password(OWN);
    let before = shadow(&u);
    let pass = f.issue_reset(&u.name, &[]).pass;
    let id = f.newest_id(&u.name);
    accept_only(&f, "a", &u, &pass);
    let out = f.tapctl(&["revoke", &u.name]);
    assert!(out.status.success(), "revoke: {}", String::from_utf8_lossy(&out.stderr));
    // Revoked two days ago, as the database sees it; a plain pass that ended as long ago goes.
    let v = User::with_password(OWN);
    f.issue_keeping(&v.name, &[]);
    let plain = f.newest_id(&v.name);
    f.psql(&format!(
        "UPDATE pam_tap.passes SET revoked_at = extract(epoch FROM now())::bigint - 172800
         WHERE id IN ({id}, {plain})"
    ));
    let out = f.tapctl(&["purge"]);
    assert!(out.status.success(), "purge: {}", String::from_utf8_lossy(&out.stderr));
    let left = f.psql(&format!(
        "SELECT id, length(derive_key) FROM pam_tap.passes WHERE id IN ({id}, {plain})"
    ));
    assert_eq!(
        left,
        format!("{id}|0"),
        "the reset pass's row stays, keyless; the plain one goes"
    );
    // The row still tells host-a to put the previous password back.
    let out = f.tapctl_on(&f.host_config("a"), &["purge"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(shadow(&u), before);
    assert_eq!(login(&f, "a", &u.name, OWN), ok());
    f.check_no_secrets();
}

#[test]
fn a_reset_pass_scoped_to_host_b_is_refused_on_host_a_which_leaves_the_account_alone() {
    require_root!();
    let f = fleet("");
    let u = User::with_password(OWN);
    let before = shadow(&u);
    let pass = f.issue_reset(&u.name, &["--host", "host-b"]).pass;
    let id = f.newest_id(&u.name);
    f.assert_refused_for_host("a", &u.name, &pass, id);
    assert_eq!(shadow(&u), before, "a refused pass reset the account");
    assert!(host_row(&f, "a", id).is_none());
    assert_eq!(login(&f, "a", &u.name, OWN), ok());
    // On host-b it is taken, and host-b's store records the reset.
    let reset = accept_only(&f, "b", &u, &pass);
    assert_eq!(reset.1, "0");
    assert!(host_row(&f, "b", id).is_some());
    f.check_no_secrets();
}

#[test]
fn logins_racing_one_reset_pass_from_three_hosts_reset_the_account_once() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = fleet_alone("");
    // As in the race test: 60 logins at once on a shared machine outlast the default 5 s.
    f.write_host_configs("&connect_timeout=30", "");
    let mut failures = vec![];
    for round in 0..3 {
        let u = User::with_password(OWN);
        let before = shadow(&u);
        let pass = f.issue_reset(&u.name, &["--one-time"]).pass;
        let id = f.newest_id(&u.name);
        let runs = crate::race::stampede(&f, &u.name, &pass);
        let won: Vec<&str> = runs
            .iter()
            .filter(|(_, r)| r.auth() == "PAM_SUCCESS")
            .map(|(x, _)| *x)
            .collect();
        let others: Vec<String> = runs
            .iter()
            .filter(|(_, r)| !matches!(r.auth(), "PAM_SUCCESS" | "PAM_AUTH_ERR"))
            .map(|(x, r)| format!("{x}:{}", r.auth()))
            .collect();
        let holders: Vec<&str> = ["a", "b", "c"]
            .into_iter()
            .filter(|x| host_row(&f, x, id).is_some())
            .collect();
        let now = shadow(&u);
        let row = won.first().and_then(|x| host_row(&f, x, id));
        // Reset once: the winner's row saw the account as it was before any reset, and the
        // shadow holds what that row says it set.
        let once = row.as_ref().is_some_and(|r| {
            r.shadow_prev.as_deref() == Some(before.0.as_str())
                && r.shadow_set.as_deref() == Some(now.0.as_str())
                && now.1 == "0"
        });
        if won.len() != 1 || holders != won || !others.is_empty() || !once {
            failures.push(format!(
                "round {round}: won on {won:?}, rows on {holders:?}, other codes {others:?}, \
                 shadow {now:?} (before {:?}), winner's row {row:?}",
                before.0
            ));
        }
    }
    f.check_no_secrets();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_host_store_in_a_directory_others_control_is_never_written_and_no_reset_is_made() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let f = fleet("");
    let config = f.host_config("a");
    let text = std::fs::read_to_string(&config).unwrap();
    let store = f.host_store("a").display().to_string();
    for (label, mode, owned_by_user) in [("a user's", 0o700, true), ("a world-writable", 0o777, false)] {
        let u = User::with_password(OWN);
        let before = shadow(&u);
        let open = f.dir.join(format!("open-{mode:o}"));
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(mode)).unwrap();
        if owned_by_user {
            std::os::unix::fs::chown(&open, Some(u.uid()), None).unwrap();
        }
        let elsewhere = open.join("host.db").display().to_string();
        std::fs::write(&config, text.replace(&store, &elsewhere)).unwrap();
        let pass = f.issue_reset(&u.name, &[]).pass;
        let d = f.pam_on("full-a", &u.name, &LOGIN, &[&pass]);
        assert_ne!(
            d.result("authenticate"),
            "PAM_SUCCESS",
            "{label} directory: {}",
            d.stdout
        );
        let written: Vec<_> = std::fs::read_dir(&open).unwrap().collect();
        assert!(written.is_empty(), "root wrote into {label} directory: {written:?}");
        assert_eq!(shadow(&u), before, "{label} directory: the account was reset");
        // The pass was not spent on the failed attempt: with the store back in place it works.
        std::fs::write(&config, &text).unwrap();
        accept_only(&f, "a", &u, &pass);
    }
    f.check_no_secrets();
}
