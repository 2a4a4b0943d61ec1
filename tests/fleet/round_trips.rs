//! What the server itself sees of a login that logs no one in. Over a network every statement is a
//! round trip an observer can time, so a pass-shaped wrong answer must cost the same number whether
//! the user exists, holds no pass, or holds one that is usable, expired, locked, scoped to another
//! host or resting. Counted from the server's own statement log (`log_statement = 'all'`, each line
//! marked with its session and application) on a cluster of this test's own, per module session.
//! The padding that makes them equal stops at its first error: a server gone costs no more waiting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pam_tap_core::config::Conninfo;
use pam_tap_store::postgres::{ConnRole, PgConn};

use crate::site::{fleet, fleet_on};
use crate::support::accounts::User;
use crate::support::figures::figure;
use crate::support::ids::unique;
use crate::support::pg_cluster::PgCluster;
use crate::support::site::{Cluster, Site};

/// A pass-shaped answer that is no pass issued here.
const WRONG: &str = "AAAA-BBBB-CC";
/// Each server log line starts with its session id and application name.
const PREFIX: &str = "[%c %a] ";

/// Turns on the statement log with [`PREFIX`]; returns once a new session runs under it.
fn log_statements(c: &PgCluster) {
    c.superuser_sql(
        "postgres",
        &format!(
            "ALTER SYSTEM SET log_statement = 'all';\nALTER SYSTEM SET log_line_prefix = '{PREFIX}';\n\
             SELECT pg_reload_conf();\n"
        ),
    );
    let t = Instant::now();
    let q =
        format!("SELECT current_setting('log_statement') = 'all' AND current_setting('log_line_prefix') = '{PREFIX}'");
    while c.query("postgres", &q) != "t" {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the statement log did not come on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The statements (their SQL) of each `pam_tap` session the server logged in `log`.
fn sessions(log: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in log.lines() {
        let Some((tag, msg)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) else {
            continue;
        };
        let Some((session, "pam_tap")) = tag.split_once(' ') else {
            continue;
        };
        let sql = msg
            .strip_prefix("LOG:  statement: ")
            .or_else(|| msg.strip_prefix("LOG:  execute <unnamed>: "));
        let statements = out.entry(session.to_string()).or_default();
        if let Some(sql) = sql {
            statements.push(sql.to_string());
        }
    }
    out
}

/// One authentication on host-a answering `answer`: its PAM result and the statements of the
/// one module session the server saw for it.
fn login(f: &Site, user: &str, answer: &str) -> (String, Vec<String>) {
    let from = std::fs::read(f.cluster().root.join("server.log")).unwrap().len();
    let r = f.auth("only-a", user, answer);
    // Every statement is logged before it runs, so before the module hears its answer.
    let log = std::fs::read(f.cluster().root.join("server.log")).unwrap();
    let seen = sessions(&String::from_utf8_lossy(&log[from..]));
    assert_eq!(seen.len(), 1, "one module session per login: {seen:#?}");
    (r.auth().to_string(), seen.into_values().next().unwrap())
}

/// How many of `statements` call `function`.
fn calls(statements: &[String], function: &str) -> usize {
    statements.iter().filter(|s| s.contains(function)).count()
}

#[test]
fn a_login_that_logs_no_one_in_makes_as_many_round_trips_whatever_the_user_holds() {
    require_root!();
    // Two consecutive failures rest a pass: the second wrong answer takes the longest way.
    let f = fleet_on(Cluster::Own(PgCluster::private(&[])), "[pass]\nmax_failures = 2");
    log_statements(f.cluster());
    let (no_pass, holder, expired, locked, scoped, winner) = (
        User::new(),
        User::new(),
        User::new(),
        User::new(),
        User::new(),
        User::new(),
    );
    let unknown = unique("tapno");
    let (scoped_pass, pass) = passes_in_every_state(&f, &holder, &expired, &locked, &scoped, &winner);

    // (case, user, answer, its calls of host_count_failure, host_audit and host_note_time: the
    // server's own record of which way the login went; host_count_failure writes its own audit
    // rows)
    let cases: [(&str, &str, &str, [usize; 3]); 8] = [
        ("unknown_user", &unknown, WRONG, [0, 0, 0]),
        ("no_pass", &no_pass.name, WRONG, [0, 0, 0]),
        ("wrong_usable", &holder.name, WRONG, [1, 0, 0]),
        ("wrong_rests_it", &holder.name, WRONG, [1, 0, 0]),
        ("wrong_resting", &holder.name, WRONG, [0, 0, 1]),
        ("wrong_expired", &expired.name, WRONG, [0, 0, 1]),
        ("wrong_locked", &locked.name, WRONG, [0, 0, 1]),
        ("host_scope", &scoped.name, &scoped_pass, [0, 1, 0]),
    ];
    let counts = refusals_made_the_calls_they_should(&f, &cases);
    let (code, accepted) = login(&f, &winner.name, &pass);
    assert_eq!(code, "PAM_SUCCESS");
    assert_eq!(calls(&accepted, "host_accept"), 1, "{accepted:#?}");
    let shown: Vec<String> = counts.iter().map(|(c, n)| format!("{c}={n}")).collect();
    figure(
        "fleet_round_trips",
        &format!("statements_per_session {} accepted={}", shown.join(" "), accepted.len()),
    );
    let rests = f.psql(&format!(
        "SELECT rests FROM pam_tap.passes WHERE user_name = '{}'",
        holder.name
    ));
    assert_eq!(rests, "1", "the second wrong answer rested the pass");
    let first = counts["unknown_user"];
    assert!(
        counts.values().all(|&n| n == first),
        "the server saw a different number of statements per refusal: {counts:?}"
    );
    // A success may make more, never fewer: the count covers every refusal above.
    assert!(accepted.len() >= first, "accepted={} refusals={first}", accepted.len());
    f.check_no_secrets();
}

/// Reusable passes for `holder`, `expired` (ended a second ago) and `locked`, one for `scoped`
/// scoped to host-b, and a one-time pass for `winner`. Returns the scoped pass and the winner's.
fn passes_in_every_state(
    f: &Site,
    holder: &User,
    expired: &User,
    locked: &User,
    scoped: &User,
    winner: &User,
) -> (String, String) {
    for u in [holder, expired, locked] {
        f.issue_keeping(&u.name, &["--reusable"]);
    }
    let scoped_pass = f.issue_keeping(&scoped.name, &["--reusable", "--host", "host-b"]).pass;
    let pass = f.issue_keeping(&winner.name, &[]).pass;
    let now = "extract(epoch FROM now())::bigint";
    f.psql(&format!(
        "UPDATE pam_tap.passes SET expires_at = {now} - 1 WHERE user_name = '{}'",
        expired.name
    ));
    f.psql(&format!(
        "UPDATE pam_tap.passes SET locked_at = {now} WHERE user_name = '{}'",
        locked.name
    ));
    (scoped_pass, pass)
}

/// Each case's login is refused and calls the host functions it should: how many statements each
/// made.
fn refusals_made_the_calls_they_should<'a>(
    f: &Site,
    cases: &[(&'a str, &str, &str, [usize; 3])],
) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for &(case, user, answer, did) in cases {
        let (code, statements) = login(f, user, answer);
        assert_ne!(code, "PAM_SUCCESS", "{case}");
        let made = ["host_count_failure", "host_audit", "host_note_time"].map(|fun| calls(&statements, fun));
        assert_eq!(made, did, "{case}: {statements:#?}");
        counts.insert(case, statements.len());
    }
    counts
}

#[test]
fn padding_ends_at_the_first_error_and_never_starts_on_a_broken_connection() {
    require_root!();
    let f = fleet("");
    let uri = Conninfo::new(&f.cluster().uri("host_a", f.database())).unwrap();
    let mut conn = PgConn::connect(&uri, ConnRole::Host).expect("host_a connects");
    conn.pad_on_drop(7);
    let pid = conn.query("SELECT pg_backend_pid() AS pid", &[]).unwrap()[0]
        .get_i64("pid")
        .unwrap();
    // The server ends the session (as a restart or an operator would); libpq learns of it only at
    // the next statement.
    assert_eq!(f.psql(&format!("SELECT pg_terminate_backend({pid}, 5000)")), "t");
    conn.pad();
    assert_eq!(conn.statements_sent(), 2, "padding went on past its first error");
    conn.pad();
    assert_eq!(
        conn.statements_sent(),
        2,
        "padding tried a connection libpq knows is broken"
    );
}
