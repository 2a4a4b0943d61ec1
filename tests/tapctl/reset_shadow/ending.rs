//! How a reset pass ends (used, revoked, expired, locked, purged) leaves no working shadow secret,
//! and the login-time check that settles it costs little.

use super::*;

#[test]
fn a_reusable_reset_pass_ends_when_the_user_sets_a_password() {
    require_root!();
    let site = Site::new("");
    let u = User::with_password(ORIGINAL);
    let pass = pass_of(&site.issue(&u.name, &["--reusable"]));
    let d = site.pam(
        &u.name,
        &["authenticate", "acct_mgmt", "chauthtok_expired"],
        &[&pass, FRESH, FRESH],
    );
    assert_eq!(d.result("chauthtok_expired"), "PAM_SUCCESS", "{}", d.stdout);
    let d = site.pam(&u.name, &["authenticate"], &[&pass]);
    assert_eq!(
        d.result("authenticate"),
        "PAM_AUTH_ERR",
        "the reusable pass is dead once the user set a password: {}",
        d.stdout
    );
    assert_eq!(site.show(&u.name)["status"], "revoked");
    assert_eq!(key_len(&site, &u.name), 0, "derive key wiped");
    let d = site.pam(&u.name, &["authenticate", "acct_mgmt"], &[FRESH]);
    assert_eq!(
        (d.result("authenticate"), d.result("acct_mgmt")),
        ("PAM_SUCCESS", "PAM_SUCCESS"),
        "{}",
        d.stdout
    );
}

/// How each way a reset pass can end is brought about, and which touch settles it.
enum End {
    Revoke,
    ExpireThenLogin,
    LockThenShow,
    ExpireThenPurge,
    UsedWithoutHandoffThenLogin,
}

#[test]
fn a_dead_reset_pass_leaves_no_working_shadow_secret() {
    require_root!();
    let site = Site::new("");
    let mut failures = vec![];
    for (label, end) in [
        ("revoked", End::Revoke),
        ("expired, next login", End::ExpireThenLogin),
        ("locked, next tapctl command", End::LockThenShow),
        ("expired, purge", End::ExpireThenPurge),
        ("used, handoff never done, next login", End::UsedWithoutHandoffThenLogin),
    ] {
        let u = User::with_password(ORIGINAL);
        let before = shadow(&u);
        let pass = pass_of(&site.issue(&u.name, &[]));
        let secret = derived(&site, &pass);
        // While the pass lives, the derived secret is the account's password: that is the reset.
        assert_ne!(shadow(&u).0, before.0, "{label}: the issue reset the password");
        end_and_touch(&site, &u, &end);
        // The side door: the derived secret typed at a login prompt, straight into pam_unix.
        let d = site.pam(&u.name, &["authenticate"], &[&secret]);
        if d.result("authenticate") != "PAM_AUTH_ERR" {
            failures.push(format!(
                "{label}: the derived secret still logs in: {}",
                d.result("authenticate")
            ));
        }
        let after = shadow(&u);
        match end {
            End::Revoke => {
                if after != before {
                    failures.push(format!("{label}: previous password not restored: {after:?}"));
                }
            }
            _ => {
                if after.0 != "!" {
                    failures.push(format!("{label}: account not locked: {after:?}"));
                }
            }
        }
        if key_len(&site, &u.name) != 0 {
            failures.push(format!("{label}: derive key kept"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Brings `end` about for `u`'s pass as the database records it (the clock moves on, or tapctl
/// revokes it), then the touch that settles it when that is not the next login.
fn end_and_touch(site: &Site, u: &User, end: &End) {
    let sql = |q: &str| {
        db(site).execute(q, [&u.name]).unwrap();
    };
    match end {
        End::Revoke => {
            let out = site.tapctl(&["revoke", &u.name]);
            assert!(out.status.success(), "{}", crate::support::site::stderr(&out));
        }
        End::ExpireThenLogin | End::ExpireThenPurge => {
            sql("UPDATE passes SET starts_at = starts_at - 7200, expires_at = created_at - 60 WHERE user = ?1")
        }
        End::LockThenShow => sql("UPDATE passes SET locked_at = created_at WHERE user = ?1"),
        End::UsedWithoutHandoffThenLogin => sql(
            "UPDATE passes SET used_at = created_at - 86400, use_count = 1, starts_at = created_at - 90000
                 WHERE user = ?1",
        ),
    }
    match end {
        End::LockThenShow => {
            let _ = site.tapctl(&["show", &u.name]);
        }
        End::ExpireThenPurge => {
            let out = site.tapctl(&["purge"]);
            assert!(out.status.success(), "{}", crate::support::site::stderr(&out));
        }
        _ => {}
    }
}

#[test]
fn the_login_time_check_costs_little_and_settling_runs_once() {
    require_root!();
    use pam_tap_base::users::System;
    use pam_tap_core::config::Policy;
    use pam_tap_core::reset;
    use pam_tap_store::{Context, SqliteStore};
    let site = Site::new("");
    let u = User::with_password(ORIGINAL);
    site.issue(&u.name, &["--reusable"]);
    let policy = Policy::load(&site.config).unwrap();
    let mut store = SqliteStore::open(&site.db).unwrap();
    let rec = store.latest_for(&u.name).unwrap().unwrap();
    // A moment after the issue.
    let now = rec.created_at + 1;
    let ctx = Context::default();
    const N: u32 = 2000;
    let t = Instant::now();
    for _ in 0..N {
        let r = reset::at_login(&mut store, &System, &policy, rec.clone(), now, &ctx).unwrap();
        assert_eq!((r.id, r.revoked_at), (rec.id, None));
    }
    let live = t.elapsed() / N;
    // The pass ends: the next login attempt locks the account, once.
    let t = Instant::now();
    let r = reset::at_login(&mut store, &System, &policy, rec.clone(), rec.expires_at, &ctx).unwrap();
    let settle = t.elapsed();
    assert!(r.derive_key.is_empty(), "settled");
    assert_eq!(shadow(&u).0, reset::LOCKED);
    let t = Instant::now();
    for _ in 0..N {
        reset::at_login(&mut store, &System, &policy, r.clone(), rec.expires_at, &ctx).unwrap();
    }
    let settled = t.elapsed() / N;
    eprintln!(
        "figure reset_login: live reset pass check {live:?}/login, settled pass {settled:?}/login, \
         settling a dead pass (lock via chpasswd+chage) {settle:?} once"
    );
    assert!(live < Duration::from_millis(5), "{live:?}");
}
