//! Hostile input through the real stack: answers, user names, config files and database rows.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::support::drive::line;
use crate::support::drive::NOT_RUN;
use crate::support::figures::alerts;
use crate::support::figures::figure;
use crate::support::site::write_file;
use crate::{site, user};

fn bytes_line(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    v.push(b'\n');
    v
}

/// The pass with every letter that has a Cyrillic twin replaced by it (the first character when
/// none has): looks the same, is not the pass.
fn lookalike(code: &str) -> String {
    let twin = |c: char| match c {
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'K' => 'К',
        'M' => 'М',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        'Y' => 'У',
        c => c,
    };
    let out: String = code.chars().map(twin).collect();
    if out != code {
        return out;
    }
    std::iter::once('А').chain(code.chars().skip(1)).collect()
}

#[test]
fn hostile_answers_never_log_in() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_answers", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    f.stack_full("full", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let code = pass.replace('-', "");
    let wrong: String = code.chars().map(|c| if c == 'A' { 'B' } else { 'A' }).collect();
    let mut non_utf8 = code.as_bytes().to_vec();
    non_utf8[3] = 0xc3;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("1MiB", bytes_line(&vec![b'A'; 1 << 20])),
        (
            "pass+1MiB",
            bytes_line(&[code.as_bytes(), &vec![b'A'; 1 << 20]].concat()),
        ),
        (
            "513_bytes_spaces+pass",
            bytes_line(&[&[b' '; 513][..], code.as_bytes()].concat()),
        ),
        ("NUL+pass", bytes_line(&[b"\0", code.as_bytes()].concat())),
        (
            "wrong+NUL+pass",
            bytes_line(&[wrong.as_bytes(), b"\0", code.as_bytes()].concat()),
        ),
        (
            "non_utf8",
            bytes_line(&[0xff, 0xfe, 0xfd, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86]),
        ),
        ("non_utf8_in_pass", bytes_line(&non_utf8)),
        ("cyrillic_lookalike", line(&lookalike(&code))),
        ("empty", line("")),
        ("null_reply", line("<null>")),
        ("conversation_failure", line("<fail>")),
        ("wrong_pass", line(&wrong)),
    ];
    let mut table = vec![];
    let mut bad = vec![];
    for (name, answer) in &cases {
        for stack in ["only", "full"] {
            let r = f.drive(stack, &user.name, &["authenticate"], answer);
            let crashed = r.crashed() || r.auth() == "(none)";
            if r.auth() == "PAM_SUCCESS" || crashed {
                bad.push(format!("{name}/{stack}: {} {}", r.auth(), r.stderr));
            }
            if stack == "only" {
                table.push(format!("{name}={}", r.auth().trim_start_matches("PAM_")));
            }
        }
    }
    // The conversation carries C strings: bytes after a NUL never reach the module, so the pass
    // followed by NUL and anything is the pass itself (that is what the user typed first).
    let r = f.drive(
        "only",
        &user.name,
        &["authenticate"],
        &bytes_line(&[code.as_bytes(), b"\0junk"].concat()),
    );
    table.push(format!(
        "pass+NUL+junk={}(c-string)",
        r.auth().trim_start_matches("PAM_")
    ));
    let ok_after = f
        .drive("only", &user.name, &["authenticate"], &line(&pass))
        .auth()
        .to_string();
    figure(
        "hostile_answers",
        &format!(
            "cases={} successes={} crashes=0 [{}] right_pass_after={ok_after}",
            cases.len() * 2,
            bad.len(),
            table.join(" ")
        ),
    );
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(
        ok_after, "PAM_SUCCESS",
        "the pass still works after the hostile answers"
    );
}

#[test]
fn hostile_user_names_never_log_in() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_names", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let u = user.name.as_bytes();
    let names: Vec<(&str, Vec<u8>)> = vec![
        ("slash", [u, b"/x"].concat()),
        ("dotdot", b"../../../etc/passwd".to_vec()),
        ("dotdot_user", [b"../", u].concat()),
        ("quote", [u, b"'"].concat()),
        ("dquote", [b"\"", u, b"\""].concat()),
        ("sql", [u, b"' OR '1'='1"].concat()),
        ("sql_drop", b"x'); DROP TABLE passes; --".to_vec()),
        ("like_wildcard", b"%".to_vec()),
        ("like_underscore", [&u[..u.len() - 1], b"_"].concat()),
        ("newline", [u, b"\n"].concat()),
        ("colon", [u, b":0:0"].concat()),
        ("trailing_space", [u, b" "].concat()),
        ("upper_case", user.name.to_uppercase().into_bytes()),
        ("1MiB", vec![b'a'; 1 << 20]),
        ("non_utf8", [u, b"\xff\xfe"].concat()),
        ("non_utf8_only", b"\xc3\x28\xa0\xa1".to_vec()),
        ("empty", b"".to_vec()),
    ];
    let mut table = vec![];
    let mut bad = vec![];
    for (label, raw) in &names {
        let file = f.dir.join("name");
        write_file(&file, raw, 0o600);
        let arg = [b"@", file.as_os_str().as_bytes()].concat();
        let r = f.probe("auth", "only", OsStr::from_bytes(&arg), &[], &line(&pass));
        let code = r.results.first().map_or(NOT_RUN, |(_, c)| c.as_str()).to_string();
        table.push(format!("{label}={}", code.trim_start_matches("PAM_")));
        if code == "PAM_SUCCESS" || r.crashed() || code == NOT_RUN {
            bad.push(format!("{label}: {code} {}", r.stderr));
        }
    }
    let integrity = f.integrity();
    let passes: i64 = f
        .sqlite()
        .query_row("SELECT count(*) FROM passes", [], |r| r.get(0))
        .unwrap();
    let holder = f
        .drive("only", &user.name, &["authenticate"], &line(&pass))
        .auth()
        .to_string();
    figure(
        "hostile_user_names",
        &format!(
            "cases={} successes={} [{}] integrity={integrity} passes_table_rows={passes} real_user_after={holder}",
            names.len(),
            bad.len(),
            table.join(" ")
        ),
    );
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!((integrity.as_str(), passes, holder.as_str()), ("ok", 1, "PAM_SUCCESS"));
}

#[test]
fn malformed_configs_are_refused_with_an_alert() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_config", "");
    f.stack_only("only", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let good = std::fs::read_to_string(&f.config).unwrap();
    let db = format!("database = \"{}\"\n", f.db.display());
    let huge = format!("enabled = true\n{db}# {}\n", "x".repeat(10 << 20));
    let cases: Vec<(&str, Vec<u8>)> = vec![
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
    ];
    let mut table = vec![];
    let mut bad = vec![];
    for (label, text) in &cases {
        write_file(&f.config, text, 0o600);
        f.log.clear();
        let r = f.drive("only", &user.name, &["authenticate"], &line(&pass));
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

#[test]
fn tampered_rows_never_log_in_and_never_crash() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_tampered", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    let big = format!("'{}'", "A".repeat(100_000));
    let cases: Vec<(&str, String)> = vec![
        ("argon2_m_4GiB", "hash = replace(hash, 'm=19456', 'm=4194304')".into()),
        ("argon2_t_1000", "hash = replace(hash, 't=2', 't=1000')".into()),
        ("argon2_p_255", "hash = replace(hash, 'p=1', 'p=255')".into()),
        ("argon2_m_zero", "hash = replace(hash, 'm=19456', 'm=0')".into()),
        (
            "argon2i_not_id",
            "hash = replace(hash, '$argon2id$', '$argon2i$')".into(),
        ),
        ("short_digest", "hash = substr(hash, 1, length(hash) - 10)".into()),
        ("garbage_hash", "hash = 'not a hash at all'".into()),
        ("empty_hash", "hash = ''".into()),
        ("100kB_hash", format!("hash = {big}")),
        ("blob_hash", "hash = x'00ff00ff'".into()),
        (
            "sha512_crypt_hash",
            "hash = '$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.'"
                .into(),
        ),
        ("negative_expiry", "expires_at = -1".into()),
        ("negative_start_and_expiry", "starts_at = -100, expires_at = -1".into()),
        ("expiry_min", "expires_at = -9223372036854775808".into()),
        ("start_max", "starts_at = 9223372036854775807".into()),
        ("negative_used_at", "used_at = -1, one_time = 1".into()),
        (
            "used_at_max_with_handoff",
            "used_at = 9223372036854775807, one_time = 1, reset_password = 1".into(),
        ),
        ("negative_locked_at", "locked_at = -1".into()),
        ("negative_revoked_at", "revoked_at = -1".into()),
        ("negative_failures", "failures = -5".into()),
        // A counter at its top is still only a counter (locked_at is the lock): tried with a wrong answer.
        ("failures_u32_max+wrong_answer", "failures = 4294967295".into()),
        // The same for a reusable pass's use counter: the right answer may log in, without a panic.
        ("use_count_u32_max+counter_only", "use_count = 4294967295".into()),
        ("negative_uid", "uid = -1".into()),
        ("text_times", "expires_at = 'tomorrow'".into()),
        ("clock_high_water_max", "id = id".into()),
    ];
    let mut table = vec![];
    let mut bad = vec![];
    for (label, set) in &cases {
        let pass = f.issue_keeping(&user.name, &["--reusable", "--replace"]).pass;
        {
            let c = f.sqlite();
            c.execute(
                &format!("UPDATE passes SET {set} WHERE id = (SELECT max(id) FROM passes)"),
                [],
            )
            .unwrap();
            if *label == "clock_high_water_max" {
                c.execute("UPDATE meta SET value = 9223372036854775807 WHERE key = 'clock'", [])
                    .unwrap();
            }
        }
        f.log.clear();
        let answer = if label.ends_with("wrong_answer") {
            pass.chars().map(|c| if c == 'A' { 'B' } else { 'A' }).collect()
        } else {
            pass.clone()
        };
        let r = f.drive("only", &user.name, &["authenticate"], &line(&answer));
        let lines = f.log.settled_lines();
        let message = lines.iter().any(|l| l.contains("outcome=") || l.contains("refusing:"));
        table.push(format!("{label}={}", r.auth().trim_start_matches("PAM_")));
        let success_allowed = label.ends_with("counter_only");
        if (r.auth() == "PAM_SUCCESS" && !success_allowed) || r.auth() == "PAM_ABORT" || r.crashed() || !message {
            bad.push(format!(
                "{label}: {} message={message} {lines:?} {}",
                r.auth(),
                r.stderr
            ));
        }
        if *label == "clock_high_water_max" {
            f.sqlite()
                .execute("UPDATE meta SET value = strftime('%s','now') WHERE key = 'clock'", [])
                .unwrap();
        }
        // Leave no unreadable row behind for the next case's `issue --replace`.
        f.sqlite()
            .execute("DELETE FROM passes WHERE id = (SELECT max(id) FROM passes)", [])
            .unwrap();
    }
    let integrity = f.integrity();
    figure(
        "tampered_rows",
        &format!(
            "cases={} never_success_never_panic={} [{}] integrity={integrity}",
            cases.len(),
            cases.len() - bad.len(),
            table.join(" ")
        ),
    );
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
}
