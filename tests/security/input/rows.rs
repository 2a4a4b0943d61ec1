//! Database rows tampered with: hashes of other kinds and sizes, impossible times and counters, the
//! clock's high-water mark at its top. None logs in where it should not, none panics, each is
//! logged.

use super::*;

#[test]
fn tampered_rows_never_log_in_and_never_crash() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_tampered", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    let cases = tampered_rows();
    let mut table = vec![];
    let mut bad = vec![];
    for (label, set) in &cases {
        let (entry, failure) = login_with_a_tampered_row(&f, &user.name, label, set);
        table.push(entry);
        bad.extend(failure);
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

/// Each case's `SET` clause for the newest pass row.
fn tampered_rows() -> Vec<(&'static str, String)> {
    let big = format!("'{}'", "A".repeat(100_000));
    vec![
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
    ]
}

/// A fresh pass, its row tampered with by `set`, then a login (a wrong answer for the
/// `wrong_answer` cases): the table's entry, and what went wrong if the login got in where it may
/// not, panicked, crashed or was not logged. The row is deleted afterwards.
fn login_with_a_tampered_row(f: &Site, user: &str, label: &str, set: &str) -> (String, Option<String>) {
    let pass = f.issue_keeping(user, &["--reusable", "--replace"]).pass;
    {
        let c = f.sqlite();
        c.execute(
            &format!("UPDATE passes SET {set} WHERE id = (SELECT max(id) FROM passes)"),
            [],
        )
        .unwrap();
        if label == "clock_high_water_max" {
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
    let r = f.drive("only", user, &["authenticate"], &line(&answer));
    let lines = f.log.settled_lines();
    let message = lines.iter().any(|l| l.contains("outcome=") || l.contains("refusing:"));
    let entry = format!("{label}={}", r.auth().trim_start_matches("PAM_"));
    let success_allowed = label.ends_with("counter_only");
    let failure =
        ((r.auth() == "PAM_SUCCESS" && !success_allowed) || r.auth() == "PAM_ABORT" || r.crashed() || !message)
            .then(|| format!("{label}: {} message={message} {lines:?} {}", r.auth(), r.stderr));
    if label == "clock_high_water_max" {
        f.sqlite()
            .execute("UPDATE meta SET value = strftime('%s','now') WHERE key = 'clock'", [])
            .unwrap();
    }
    // Leave no unreadable row behind for the next case's `issue --replace`.
    f.sqlite()
        .execute("DELETE FROM passes WHERE id = (SELECT max(id) FROM passes)", [])
        .unwrap();
    (entry, failure)
}
