//! A locked or expired account gets no pass and its pass stops working; wrong answers rest a pass,
//! doubling, and `tapctl unlock` ends the rest.

use super::*;

/// usermod and chage wait out other tests holding the account files' lock.
fn usermod(args: &[&str]) {
    let mut c = Command::new("usermod");
    c.args(args);
    retry(c);
}

fn chage(args: &[&str]) {
    let mut c = Command::new("chage");
    c.args(args);
    retry(c);
}

#[test]
fn a_locked_or_expired_account_gets_no_pass_and_its_pass_stops() {
    require_root!();
    let site = Site::new("");
    let ann = User::with_password("Ann-old-password-1");
    // Issue is refused for a locked account, and the lock survives.
    usermod(&["-L", &ann.name]);
    refused(&site.tapctl(&["issue", &ann.name]), &[&ann.name, "locked"]);
    assert!(ann.shadow().split(':').nth(1).unwrap().starts_with('!'));
    usermod(&["-U", &ann.name]);
    chage(&["-E", "1", &ann.name]);
    refused(&site.tapctl(&["issue", &ann.name]), &[&ann.name, "expired"]);
    chage(&["-E", "-1", &ann.name]);

    // A pass issued before the lock stops at it, with the reason in the audit log.
    let code = pass_of(&site.issue(&ann.name, &["--keep-password", "--reusable"]));
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    usermod(&["-L", &ann.name]);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    assert!(
        refused_with(&site, &ann.name, "locked"),
        "{:?}",
        audit(&site, &ann.name)
    );
    usermod(&["-U", &ann.name]);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    chage(&["-E", "1", &ann.name]);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    assert!(refused_with(&site, &ann.name, "expired"));
    chage(&["-E", "-1", &ann.name]);

    // The pass's own reset state is not a lock.
    let bob = User::with_password("Bob-old-password-1");
    let code = pass_of(&site.issue(&bob.name, &[]));
    assert_eq!(auth(&site, &bob.name, &code), "PAM_SUCCESS");
}

fn rest_left(site: &Site, user: &str) -> i64 {
    let c = rusqlite::Connection::open(&site.db).unwrap();
    c.query_row(
        "SELECT rest_until - CAST(strftime('%s','now') AS INTEGER) FROM passes WHERE user = ?1 ORDER BY id DESC LIMIT 1",
        [user],
        |r| r.get::<_, Option<i64>>(0),
    )
    .unwrap()
    .unwrap_or(0)
}

/// The clock moving past the rest (the rest's end set to a second ago).
fn end_rest(site: &Site, user: &str) {
    let c = rusqlite::Connection::open(&site.db).unwrap();
    c.execute(
        "UPDATE passes SET rest_until = CAST(strftime('%s','now') AS INTEGER) - 1 WHERE user = ?1",
        [user],
    )
    .unwrap();
}

#[test]
fn wrong_answers_rest_a_pass_doubling_and_unlock_ends_the_rest() {
    require_root!();
    let roles = Roles::new();
    let site = Site::new(&roles.config("[pass]\nmax_failures = 2\nlockout = \"60s\"\n"));
    let ivy = User::new();
    ivy.add_group(&roles.issuers.name);
    let val = User::new();
    val.add_group(&roles.viewers.name);
    let ann = User::new();
    let code = pass_of(&site.issue(&ann.name, &["--keep-password", "--reusable"]));
    for w in ["ABCDEFGHJK", "ABCDEFGHJM"] {
        assert_eq!(auth(&site, &ann.name, w), "PAM_AUTH_ERR");
    }
    // Resting for the lockout: the right answer is refused too.
    assert_eq!(site.show(&ann.name)["status"], "resting");
    let left = rest_left(&site, &ann.name);
    assert!((40..=60).contains(&left), "first rest should be ~60 s, {left} s left");
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    // ...but only for a while, not for good as before: once the rest is over, the pass works.
    end_rest(&site, &ann.name);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    // Two more: twice as long.
    for w in ["ABCDEFGHJK", "ABCDEFGHJM"] {
        assert_eq!(auth(&site, &ann.name, w), "PAM_AUTH_ERR");
    }
    let left = rest_left(&site, &ann.name);
    assert!(
        (100..=120).contains(&left),
        "second rest should be ~120 s, {left} s left"
    );
    // A viewer may not unlock; an issuer may, and it is audited.
    refused(&as_op(&site, &val.name, &["unlock", &ann.name]), &["viewer"]);
    ok(&as_op(&site, &ivy.name, &["unlock", &ann.name]));
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    let events: Vec<String> = audit(&site, &ann.name).into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        events,
        [
            "issued", "failed", "failed", "resting", "refused", "used", "failed", "failed", "resting", "unlocked",
            "used"
        ]
    );
    refused(&site.tapctl(&["unlock", &ann.name]), &["neither resting nor locked"]);
}
