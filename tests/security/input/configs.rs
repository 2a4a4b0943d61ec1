//! Config files that are not what the module may read: wrong types, unknown keys, values out of
//! range, not UTF-8, not TOML, 10 MiB. Each is refused with an ALERT line.

use super::*;

#[test]
fn malformed_configs_are_refused_with_an_alert() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_config", "");
    f.stack_only("only", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let good = std::fs::read_to_string(&f.config).unwrap();
    let cases = malformed_configs(&format!("database = \"{}\"\n", f.db.display()));
    let (table, bad) = logins_under(&f, &user.name, &pass, &cases);
    write_file(&f.config, good.as_bytes(), 0o600);
    let after = f
        .drive("only", &user.name, &["authenticate"], &line(&pass))
        .auth()
        .to_string();
    figure(
        "malformed_config",
        &format!(
            "cases={} refused_with_alert={} [{}] good_config_after={after}",
            cases.len(),
            cases.len() - bad.len(),
            table.join(" ")
        ),
    );
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(after, "PAM_SUCCESS");
}

/// Configs that must be refused, around the line `db` naming the site's database.
fn malformed_configs(db: &str) -> Vec<(&'static str, Vec<u8>)> {
    let huge = format!("enabled = true\n{db}# {}\n", "x".repeat(10 << 20));
    vec![
        ("wrong_type_enabled", format!("enabled = \"yes\"\n{db}").into_bytes()),
        (
            "wrong_type_length",
            format!("enabled = true\n{db}[pass]\nlength = \"ten\"\n").into_bytes(),
        ),
        ("wrong_type_database", b"enabled = true\ndatabase = 5\n".to_vec()),
        (
            "wrong_type_section",
            format!("enabled = true\n{db}pass = 3\n").into_bytes(),
        ),
        ("unknown_key", format!("enabeld = true\n{db}").into_bytes()),
        (
            "unknown_nested_key",
            format!("enabled = true\n{db}[pass]\nlenght = 10\n").into_bytes(),
        ),
        (
            "unknown_section",
            format!("enabled = true\n{db}[nosuch]\nx = 1\n").into_bytes(),
        ),
        (
            "out_of_range_failures",
            format!("enabled = true\n{db}[pass]\nmax_failures = 0\n").into_bytes(),
        ),
        (
            "out_of_range_memory",
            format!("enabled = true\n{db}[hash]\nmemory_kib = 1\n").into_bytes(),
        ),
        (
            "out_of_range_memory_huge",
            format!("enabled = true\n{db}[hash]\nmemory_kib = 99999999999\n").into_bytes(),
        ),
        (
            "out_of_range_min_uid",
            format!("enabled = true\n{db}[users]\nmin_uid = 0\n").into_bytes(),
        ),
        (
            "integer_overflow",
            format!("enabled = true\n{db}[pass]\nlength = 99999999999999999999\n").into_bytes(),
        ),
        (
            "bad_duration",
            format!("enabled = true\n{db}[handoff]\ngrace = \"100y\"\n").into_bytes(),
        ),
        ("relative_database", b"enabled = true\ndatabase = \"tap.db\"\n".to_vec()),
        (
            "duplicate_key",
            format!("enabled = true\nenabled = true\n{db}").into_bytes(),
        ),
        (
            "not_utf8",
            format!("enabled = true\n{db}# \u{0}")
                .into_bytes()
                .into_iter()
                .chain([0xff, 0xfe, b'\n'])
                .collect(),
        ),
        ("not_toml", b"\x7fELF\x02\x01\x01\0\0\0".to_vec()),
        ("10MiB", huge.into_bytes()),
    ]
}

/// A login with the pass under each config: the table, and every config that was not refused
/// with an ALERT line naming the config.
fn logins_under(f: &Site, user: &str, pass: &str, cases: &[(&str, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    let mut table = vec![];
    let mut bad = vec![];
    for (label, text) in cases {
        write_file(&f.config, text, 0o600);
        f.log.clear();
        let r = f.drive("only", user, &["authenticate"], &line(pass));
        let lines = f.log.settled_lines();
        let alert = alerts(&lines).iter().any(|l| l.contains("config"));
        table.push(format!(
            "{label}={}{}",
            r.auth().trim_start_matches("PAM_"),
            if alert { "+alert" } else { "" }
        ));
        if r.auth() != "PAM_SERVICE_ERR" || !alert || r.crashed() {
            bad.push(format!("{label}: {} alert={alert} {lines:?}", r.auth()));
        }
    }
    (table, bad)
}
