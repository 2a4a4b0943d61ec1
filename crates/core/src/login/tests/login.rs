//! `authenticate`: what each answer does to a pass, and what each broken input or file does.

use super::*;

#[test]
fn valid_pass_is_accepted_once_and_logged_without_the_secret() {
    let mut w = world("");
    let (id, _) = w.put("alice", NORMAL);
    assert_eq!(
        w.auth(T0 + 10, accepted("alice", b"k7qx-m9tr-wp", None)),
        Outcome::Accepted
    );
    assert_eq!(w.record(id).used_at, Some(T0 + 10));
    assert_eq!(
        w.auth(T0 + 20, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Used)
    );
    assert_eq!(w.events(), ["issued", "used", "refused"]);
    assert!(w
        .log
        .0
        .iter()
        .any(|(l, m)| *l == Level::Info && m.contains("user=alice") && m.contains("outcome=accepted")));
    for (_, m) in &w.log.0 {
        assert!(!m.to_uppercase().contains("K7QX"), "secret in log: {m}");
    }
}

#[test]
fn reusable_pass_works_twice_and_resets_failures() {
    let mut w = world("");
    let (id, _) = w.put(
        "alice",
        Put {
            one_time: false,
            ..NORMAL
        },
    );
    assert_eq!(w.auth(T0 + 1, answer("alice", b"ABCDEFGHJK")), Outcome::Wrong);
    assert_eq!(w.record(id).failures, 1);
    assert_eq!(
        w.auth(T0 + 2, accepted("alice", CODE.as_bytes(), None)),
        Outcome::Accepted
    );
    assert_eq!(
        w.auth(T0 + 3, accepted("alice", CODE.as_bytes(), None)),
        Outcome::Accepted
    );
    let r = w.record(id);
    assert_eq!((r.use_count, r.failures), (2, 0));
}

#[test]
fn window_statuses_are_refused_with_their_reason() {
    let mut w = world("");
    w.put("alice", NORMAL);
    assert_eq!(
        w.auth(T0 + 3600, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Expired)
    );
    let mut w = world("");
    w.put(
        "alice",
        Put {
            starts: T0 + 600,
            expires: T0 + 4200,
            ..NORMAL
        },
    );
    assert_eq!(
        w.auth(T0, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::NotYetValid)
    );
    assert_eq!(w.events(), ["issued", "refused"]);
}

#[test]
fn clock_set_back_does_not_revive_an_expired_pass() {
    let mut w = world("");
    w.put(
        "alice",
        Put {
            one_time: false,
            ..NORMAL
        },
    );
    w.put("bob", NORMAL);
    // Something was recorded after alice's pass expired...
    assert_eq!(
        w.auth(T0 + 7200, answer("bob", CODE.as_bytes())),
        Outcome::Unusable(Status::Expired)
    );
    // ...so a clock set back into alice's window still finds it expired.
    assert_eq!(
        w.auth(T0 + 100, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Expired)
    );
}

#[test]
fn failures_rest_the_pass_doubling_each_time_and_kill_it_at_100() {
    let mut w = world("[pass]\nmax_failures = 3\nlockout = \"60s\"\n");
    let (id, _) = w.put(
        "alice",
        Put {
            one_time: false,
            ..NORMAL
        },
    );
    assert_eq!(w.auth(T0 + 1, answer("alice", b"ABCDEFGHJK")), Outcome::Wrong);
    assert_eq!(w.auth(T0 + 2, answer("alice", b"ABCDEFGHJM")), Outcome::Wrong);
    assert_eq!(w.auth(T0 + 3, answer("alice", b"ABCDEFGHJN")), Outcome::NowLocked);
    // Resting: even the right answer is refused, and wrong ones are not counted.
    assert_eq!(
        w.auth(T0 + 4, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Resting)
    );
    assert_eq!(w.auth(T0 + 5, answer("alice", b"ABCDEFGHJP")), Outcome::Wrong);
    assert_eq!(w.record(id).rest_until, Some(T0 + 3 + 60));
    assert!(w.record(id).locked_at.is_none());
    // The rest ends; the next three wrong answers rest it twice as long.
    for t in 0..3 {
        w.auth(T0 + 63 + t, answer("alice", b"ABCDEFGHJK"));
    }
    assert_eq!(w.record(id).rest_until, Some(T0 + 65 + 120));
    assert_eq!(
        w.auth(T0 + 65 + 120, accepted("alice", CODE.as_bytes(), None)),
        Outcome::Accepted
    );
    assert_eq!(
        w.events(),
        [
            "issued", "failed", "failed", "failed", "resting", "refused", "failed", "failed", "failed", "resting",
            "used"
        ]
    );
    // 100 wrong answers in all: dead, for good.
    w.store
        .raw_connection()
        .execute("UPDATE passes SET total_failures = 99", [])
        .unwrap();
    assert_eq!(w.auth(T0 + 400, answer("alice", b"ABCDEFGHJK")), Outcome::NowLocked);
    assert!(w.record(id).locked_at.is_some());
    assert_eq!(
        w.auth(T0 + 100_000, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Locked)
    );
}

#[test]
fn answers_that_cannot_be_a_pass_are_not_counted() {
    let mut w = world("");
    let (id, _) = w.put("alice", NORMAL);
    assert_eq!(
        w.auth(T0 + 1, answer("alice", b"my ordinary password!")),
        Outcome::NotAPass
    );
    assert_eq!(w.record(id).failures, 0);
}

#[test]
fn users_without_pass_unknown_users_and_revoked_passes() {
    let mut w = world("");
    assert_eq!(w.auth(T0, answer("alice", CODE.as_bytes())), Outcome::NoPass);
    assert_eq!(w.auth(T0, answer("mallory", CODE.as_bytes())), Outcome::UnknownUser);
    assert_eq!(
        w.auth(T0, answer("../../etc/passwd", CODE.as_bytes())),
        Outcome::UnknownUser
    );
    let (id, _) = w.put("alice", NORMAL);
    w.store
        .revoke(
            &Touch {
                id,
                now: T0 + 1,
                ctx: &Context::default(),
            },
            None,
            &mut |_| Ok(()),
        )
        .unwrap();
    assert_eq!(
        w.auth(T0 + 2, answer("alice", CODE.as_bytes())),
        Outcome::Unusable(Status::Revoked)
    );
    assert!(!w
        .log
        .0
        .iter()
        .any(|(_, m)| m.contains("mallory") || m.contains("passwd")));
}

#[test]
fn ineligible_users_are_refused_at_login() {
    let mut w = world("[users]\nexclude_groups = [\"sudo\"]\n");
    w.put("bob", NORMAL);
    w.put("daemon", NORMAL);
    assert_eq!(w.auth(T0 + 1, answer("bob", CODE.as_bytes())), Outcome::NotEligible);
    assert_eq!(w.auth(T0 + 1, answer("daemon", CODE.as_bytes())), Outcome::NotEligible);
    let mut w = world("[users]\ninclude_groups = [\"staff\"]\n");
    w.put("alice", NORMAL);
    assert_eq!(w.auth(T0 + 1, answer("alice", CODE.as_bytes())), Outcome::NotEligible);
}

#[test]
fn disabled_policy_never_prompts() {
    let mut w = world("");
    w.put("alice", NORMAL);
    w.policy.enabled = false;
    assert_eq!(w.auth(T0 + 1, vec![]), Outcome::Disabled);
}

#[test]
fn bad_input_conversation_errors_and_broken_files_fail_closed() {
    let mut w = world("");
    w.put("alice", NORMAL);
    assert_eq!(w.auth(T0, answer("alice", b"")), Outcome::BadInput);
    assert_eq!(w.auth(T0, answer("alice", &[b'A'; 513])), Outcome::BadInput);
    assert_eq!(
        w.auth(
            T0,
            vec![Call::User(Ok("alice")), Call::Authtok(Err(HandleError::Conversation))]
        ),
        Outcome::Conversation
    );
    assert_eq!(
        w.auth(T0, vec![Call::User(Err(HandleError::System))]),
        Outcome::UnknownUser
    );
    w.store_gone = true;
    let before = w.log.0.len();
    assert_eq!(
        w.auth(T0, answer("alice", CODE.as_bytes())),
        Outcome::Failed(ErrorKind::Store)
    );
    // One refused login, one syslog line: the outcome and why, at ERR.
    let lines = &w.log.0[before..];
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].0, Level::Err);
    assert!(
        lines[0].1.contains("outcome=error_store") && lines[0].1.contains("unable to open database file"),
        "{lines:?}"
    );
    let bad = Policy::parse("enabled = 3").unwrap_err();
    assert_eq!(w.auth_without_policy(&bad), Outcome::Failed(ErrorKind::Config));
    assert!(w.log.0.iter().any(|(l, m)| *l == Level::Alert && m.contains("config")));
}

#[test]
fn unsafe_config_is_refused_with_an_alert() {
    let mut w = world("");
    w.put("alice", NORMAL);
    // A config anyone may write, loaded the way the module loads it.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pam_tap.toml");
    std::fs::write(&cfg, "enabled = true\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o666)).unwrap();
    let unsafe_cfg = Policy::load(&cfg).unwrap_err();
    let why = unsafe_cfg.to_string();
    assert_eq!(w.auth_without_policy(&unsafe_cfg), Outcome::Failed(ErrorKind::Unsafe));
    assert!(w.log.0.iter().any(|(l, m)| *l == Level::Alert && m.contains(&why)));
    if nix::unistd::geteuid().is_root() {
        // As root the file's owner passes, so the mode is what is refused.
        assert!(why.contains("writable"), "{why}");
    }
}

#[test]
fn setcred_succeeds_only_after_an_accepted_pass() {
    let mut w = world("");
    w.put("alice", NORMAL);
    let mut h = Fake::new(accepted("alice", CODE.as_bytes(), None));
    assert_eq!(setcred(&h), CredOutcome::NoPassHere);
    let mut env = env_at(&w.dir, &mut w.log, T0 + 1, true);
    assert_eq!(
        authenticate(&mut h, &w.policy, &mut w.store, &mut env),
        Outcome::Accepted
    );
    assert_eq!(setcred(&h), CredOutcome::PassAccepted);
}

#[test]
fn tampered_hash_fails_closed() {
    let mut w = world("");
    let (id, _) = w.put("alice", NORMAL);
    w.store
        .raw_connection()
        .execute(
            "UPDATE passes SET hash = replace(hash, 'm=19456', 'm=99999999') WHERE id = ?1",
            [id],
        )
        .unwrap();
    assert_eq!(
        w.auth(T0 + 1, answer("alice", CODE.as_bytes())),
        Outcome::Failed(ErrorKind::Hash)
    );
    assert_eq!(w.record(id).used_at, None);
}
