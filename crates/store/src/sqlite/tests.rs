//! The SQLite store's own rules, on the in-memory store where no file is involved.

use std::time::Duration;

use super::*;
use crate::NewPass;
use crate::Status;

pub(super) fn new_pass(user: &str, now: i64, one_time: bool) -> NewPass {
    NewPass {
        user: user.into(),
        uid: 1001,
        hash: "h".into(),
        derive_key: vec![1; 32],
        created_at: now,
        starts_at: now,
        expires_at: now + 3600,
        one_time,
        reset_password: false,
        issued_by: "root".into(),
        reason: None,
        shadow_set: None,
        shadow_prev: None,
        shadow_prev_lastchg: None,
        issuer_role: None,
        services: None,
        hosts: None,
        enroll_key: false,
    }
}

fn put(s: &mut SqliteStore, user: &str, now: i64, one_time: bool) -> i64 {
    let new = new_pass(user, now, one_time);
    s.insert_pass(user, now, &Context::default(), |_, _| Ok((new, None)), |_| Ok(()))
        .unwrap()
        .0
}

#[test]
fn create_is_idempotent_and_root_only() {
    use pam_tap_base::safefile::Trust;
    use std::os::unix::fs::PermissionsExt;
    // The owner check trusts the test's own uid: the same checks as root's, as any user.
    let trust = Trust::current_user();
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::create_trusting(&dir.path().join("db/tap.db"), trust).unwrap();
    assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
    drop(s);
    let p = dir.path().join("db/tap.db");
    let s = SqliteStore::create_trusting(&p, trust).unwrap();
    drop(s);
    SqliteStore::open_trusting(&p, trust).unwrap();
    let s = SqliteStore::create_trusting(&p, trust).unwrap();
    assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
    assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(p.parent().unwrap()).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn one_time_redeems_once_and_failures_lock() {
    let mut s = SqliteStore::in_memory().unwrap();
    let ctx = Context::default();
    let id = put(&mut s, "u", 1000, true);
    assert!(matches!(
        s.redeem(
            &Touch {
                id,
                now: 1001,
                ctx: &ctx
            },
            true
        )
        .unwrap(),
        Redeemed::Ok(_)
    ));
    assert!(matches!(
        s.redeem(
            &Touch {
                id,
                now: 1002,
                ctx: &ctx
            },
            true
        )
        .unwrap(),
        Redeemed::Refused(Status::Used)
    ));
    let id2 = put(&mut s, "v", 1000, false);
    let rest = Duration::from_secs(60);
    for i in 1..3 {
        assert!(!s
            .record_failure(
                &Touch {
                    id: id2,
                    now: 1000 + i,
                    ctx: &ctx
                },
                &Backoff {
                    max_failures: 3,
                    lockout: rest
                }
            )
            .unwrap());
    }
    assert!(s
        .record_failure(
            &Touch {
                id: id2,
                now: 1004,
                ctx: &ctx
            },
            &Backoff {
                max_failures: 3,
                lockout: rest
            }
        )
        .unwrap());
    assert_eq!(s.get(id2).unwrap().unwrap().status(1005, true), Status::Resting);
    assert_eq!(s.get(id2).unwrap().unwrap().status(1004 + 60, true), Status::Usable);
    let events: Vec<String> = s.log(Some("v")).unwrap().into_iter().map(|e| e.event).collect();
    assert_eq!(events, ["issued", "failed", "failed", "failed", "resting"]);
}

#[test]
fn clock_high_water_only_rises() {
    let mut s = SqliteStore::in_memory().unwrap();
    let ctx = Context::default();
    s.audit(&AuditRow {
        at: 5000,
        event: Event::Refused,
        user: None,
        pass_id: None,
        reason: None,
        ctx: &ctx,
    })
    .unwrap();
    s.audit(&AuditRow {
        at: 4000,
        event: Event::Refused,
        user: None,
        pass_id: None,
        reason: None,
        ctx: &ctx,
    })
    .unwrap();
    assert_eq!(s.clock_high_water().unwrap(), 5000);
    assert_eq!(s.effective_now(100).unwrap(), 5000);
    assert_eq!(s.effective_now(6000).unwrap(), 6000);
}

#[test]
fn statuses() {
    let mut r = PassRecord {
        id: 1,
        user: "u".into(),
        uid: 1,
        starts_at: 100,
        expires_at: 200,
        one_time: true,
        issued_by: "root".into(),
        ..PassRecord::default()
    };
    assert_eq!(r.status(50, true), Status::NotYetValid);
    assert_eq!(r.status(150, true), Status::Usable);
    assert_eq!(r.status(150, false), Status::DisabledByPolicy);
    assert_eq!(r.status(200, true), Status::Expired);
    r.locked_at = Some(1);
    assert_eq!(r.status(150, true), Status::Locked);
    r.used_at = Some(1);
    assert_eq!(r.status(150, true), Status::Used);
    r.revoked_at = Some(1);
    assert_eq!(r.status(150, true), Status::Revoked);
}

#[test]
fn purge_keeps_audit_and_live_passes() {
    let mut s = SqliteStore::in_memory().unwrap();
    let ctx = Context::default();
    let old = put(&mut s, "a", 1000, true);
    let live = put(&mut s, "b", 9000, true);
    let gone = s.purge(10_000, 9_000, &ctx).unwrap();
    assert_eq!(gone, vec![(old, "a".to_string())]);
    assert!(s.get(live).unwrap().is_some());
    assert_eq!(s.log(Some("a")).unwrap().len(), 2);
}

#[test]
fn a_pass_keeps_its_host_scope() {
    let mut s = SqliteStore::in_memory().unwrap();
    let new = NewPass {
        hosts: Some("ws-0421,ws-0422".into()),
        enroll_key: false,
        ..new_pass("alice", 1_800_000_000, true)
    };
    let (id, _) = s
        .insert_pass(
            "alice",
            1_800_000_000,
            &Context::default(),
            |_, _| Ok((new, None)),
            |_| Ok(()),
        )
        .unwrap();
    assert_eq!(s.get(id).unwrap().unwrap().hosts.as_deref(), Some("ws-0421,ws-0422"));
    let unscoped = put(&mut s, "bob", 1_800_000_000, true);
    assert_eq!(s.get(unscoped).unwrap().unwrap().hosts, None);
}

#[test]
fn a_version_3_file_gains_the_hosts_column_with_every_pass_unscoped() {
    let mut s = SqliteStore::in_memory().unwrap();
    s.conn
        .execute_batch(
            "DROP TABLE requests; ALTER TABLE passes DROP COLUMN enroll_key; ALTER TABLE passes DROP COLUMN hosts;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    s.conn
        .execute(
            "INSERT INTO passes(user, uid, hash, derive_key, created_at, starts_at, expires_at, one_time,
             reset_password, issued_by) VALUES('alice', 1001, 'h', x'01', 1, 1, 2, 1, 0, 'root')",
            [],
        )
        .unwrap();
    s.migrate().unwrap();
    assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
    assert_eq!(s.latest_for("alice").unwrap().unwrap().hosts, None);
}

#[test]
fn a_version_4_file_gains_enroll_key_with_every_pass_a_login_pass() {
    let mut s = SqliteStore::in_memory().unwrap();
    s.conn
        .execute_batch("DROP TABLE requests; ALTER TABLE passes DROP COLUMN enroll_key; PRAGMA user_version = 4;")
        .unwrap();
    s.conn
        .execute(
            "INSERT INTO passes(user, uid, hash, derive_key, created_at, starts_at, expires_at, one_time,
             reset_password, issued_by) VALUES('alice', 1001, 'h', x'01', 1, 1, 2, 1, 0, 'root')",
            [],
        )
        .unwrap();
    s.migrate().unwrap();
    assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
    assert!(!s.latest_for("alice").unwrap().unwrap().enroll_key);
}

/// A settle marks its row before the shadow change; an `issue` mark stays `issue` (only its owner
/// changes), so a settle of an issue cut short, itself cut short, is still judged as one, and a
/// fleet host still forgets the row of an acceptance it undid.
#[test]
fn a_settle_keeps_an_issue_mark_and_marks_anything_else_settle() {
    use crate::{Pending, ISSUE, SETTLE};
    let mut s = SqliteStore::in_memory().unwrap();
    let ctx = Context::default();
    let mut new = new_pass("u", 1000, true);
    new.reset_password = true;
    new.shadow_set = Some("$y$set".into());
    new.shadow_prev = Some("$y$prev".into());
    let rows = s
        .insert_pending(
            &crate::admin::Batch {
                users: &["u"],
                now: 1000,
                ctx: &ctx,
                owner: "1:1",
            },
            &mut |_, _, _| Ok((new.clone(), None)),
        )
        .unwrap();
    let id = rows[0].0;
    let mark = |what: &str, owner: &str| {
        Some(Pending {
            what: what.into(),
            owner: owner.into(),
        })
    };
    let mut undo = |_: &PassRecord, _: Option<&Pending>, _: i64| Ok(Some(Some("undoing".to_string())));
    s.begin_settle(
        &Touch {
            id,
            now: 1001,
            ctx: &ctx,
        },
        "2:2",
        &mut undo,
    )
    .unwrap();
    assert_eq!(s.pending(id).unwrap(), mark(ISSUE, "2:2"));
    s.begin_settle(
        &Touch {
            id,
            now: 1002,
            ctx: &ctx,
        },
        "3:3",
        &mut undo,
    )
    .unwrap();
    assert_eq!(s.pending(id).unwrap(), mark(ISSUE, "3:3"));
    s.clear_pending(&[id]).unwrap();
    s.begin_settle(
        &Touch {
            id,
            now: 1003,
            ctx: &ctx,
        },
        "4:4",
        &mut undo,
    )
    .unwrap();
    assert_eq!(s.pending(id).unwrap(), mark(SETTLE, "4:4"));
    s.end_settle(
        &Touch {
            id,
            now: 1004,
            ctx: &ctx,
        },
        true,
        "done",
    )
    .unwrap();
    assert_eq!(s.pending(id).unwrap(), None);
}
