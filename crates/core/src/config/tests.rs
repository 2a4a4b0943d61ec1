use super::*;

#[test]
fn shipped_example_parses_and_matches_defaults_except_enabled() {
    let p = Policy::parse(EXAMPLE).unwrap();
    let d = Policy::default();
    assert_eq!(
        p,
        Policy {
            enabled: p.enabled,
            ..d
        }
    );
}

#[test]
fn a_config_holding_a_password_must_be_root_only() {
    let with = Policy::parse("database = \"postgresql://h:Xy9?Qz#7@db/x\"").unwrap();
    for mode in [0o640, 0o604, 0o644, 0o660] {
        let why = with.secret_readable_by_others(mode).unwrap();
        assert!(why.contains("chmod 600") && !why.contains("Xy9"), "{why}");
    }
    assert_eq!(with.secret_readable_by_others(0o600), None);
    assert_eq!(with.secret_readable_by_others(0o400), None);
    let encoded = Policy::parse("database = \"postgresql://db/x?%70assword=s3cret\"").unwrap();
    assert!(encoded.secret_readable_by_others(0o644).is_some());
    for without in ["database = \"postgresql://h@db/x?sslmode=disable\"", ""] {
        let p = Policy::parse(without).unwrap();
        assert_eq!(p.secret_readable_by_others(0o644), None, "{without}");
    }
}

#[test]
fn empty_config_gives_seed_defaults() {
    let p = Policy::parse("").unwrap();
    assert!(p.enabled);
    assert_eq!(p.length, 10);
    assert_eq!(p.lifetime_min, Duration::from_secs(600));
    assert_eq!(p.lifetime_default, Duration::from_secs(3600));
    assert_eq!(p.lifetime_max, Duration::from_secs(15 * 86400));
    assert_eq!(p.max_failures, 5);
    assert_eq!(p.min_uid, 1000);
    assert_eq!(
        p.kdf,
        KdfParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
    );
    assert!(p.reset_password);
}

#[test]
fn unknown_keys_and_bad_values_are_errors_naming_the_key() {
    for (text, needle) in [
        ("enabeld = true", "unknown field"),
        ("[pass]\nlength = 7", "pass.length"),
        ("[pass]\nlength = 49", "pass.length"),
        ("[pass]\nmax_failures = 101", "pass.max_failures"),
        ("[pass]\nmax_failures = 0", "pass.max_failures"),
        ("[pass]\nlifetime_max = \"31d\"", "pass.lifetime_max"),
        ("[pass]\nlifetime_min = \"5m\"", "pass.lifetime_min"),
        ("[pass]\nlifetime_default = \"soon\"", "pass.lifetime_default"),
        (
            "[pass]\nlifetime_min = \"2h\"\nlifetime_default = \"1h\"",
            "lifetime_min <=",
        ),
        ("[hash]\nmemory_kib = 1024", "hash.memory_kib"),
        ("[hash]\nmemory_kib = 99999999", "hash.memory_kib"),
        ("database = \"relative.db\"", "absolute"),
        ("host_name = \"ws_0421\"", "host_name"),
        ("host_name = \"\"", "host_name"),
        ("enabled = \"yes\"", "invalid type"),
        ("[users]\ninclude_groups = [\"a:b\"]", "users.include_groups"),
        ("[handoff]\ngrace = \"2d\"", "handoff.grace"),
        ("[pass]\nlockout = \"0s\"", "pass.lockout"),
        ("services = [\"sudo x\"]", "services"),
        ("[users]\nmax_uid = 0", "users.max_uid"),
        ("[fleet]\nlock_timeout = \"0s\"", "fleet.lock_timeout"),
        ("[fleet]\nlock_timeout = \"11s\"", "fleet.lock_timeout"),
        ("[fleet]\nstatement_timeout = \"2m\"", "fleet.statement_timeout"),
        (
            "[fleet]\nlock_timeout = \"5s\"\nstatement_timeout = \"2s\"",
            "at least lock_timeout",
        ),
        ("[approval]\ndecide_within = \"1m\"", "approval.decide_within"),
        ("[approval]\ndecide_within = \"8d\"", "approval.decide_within"),
        ("[approval]\ncollect_within = \"2d\"", "approval.collect_within"),
        ("[approval]\ngroups = [\"a:b\"]", "approval.groups"),
        ("[approval]\nprivileged_only = true", "unknown field"),
    ] {
        let err = Policy::parse(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?} gave {err:?}");
    }
}

#[test]
fn approval_is_off_by_default_and_privileged_targets_need_it_once_on() {
    let off = Policy::parse("").unwrap().approval;
    assert!(!off.enabled);
    let on = Policy::parse("[approval]\nenabled = true\ngroups = [\"finance\"]")
        .unwrap()
        .approval;
    assert!(on.enabled && on.privileged);
    assert_eq!(on.groups, ["finance"]);
    assert_eq!(on.decide_within, Duration::from_secs(86400));
    assert_eq!(on.collect_within, Duration::from_secs(3600));
}
