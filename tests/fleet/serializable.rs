//! A store whose database runs every transaction SERIALIZABLE (`default_transaction_isolation =
//! serializable`), as CockroachDB and YugabyteDB do: the loser of a race for one pass's row gets
//! SQLSTATE 40001 instead of re-reading the committed row, and the module runs its transaction
//! again (crates/store/src/postgres/store/tx.rs, a bounded number of times). Racing logins still
//! log in exactly once, the losers are refused as used, racing wrong answers are each counted, and
//! no login ends in PAM_AUTHINFO_UNAVAIL. The server's own log shows the 40001s that were retried.

use std::collections::BTreeMap;

use crate::race::{race_rounds, stampede};
use crate::site::fleet_alone;
use crate::support::accounts::User;
use crate::support::figures::figure;
use crate::support::pg_cluster::psql_uri;
use crate::support::site::Site;

const ROUNDS: usize = 6;
/// How many times the module runs a transaction at most (tx.rs's MAX_RUNS): a login meets at most
/// one 40001 fewer.
const MAX_RUNS: usize = 6;

/// A fleet whose database defaults to SERIALIZABLE, checked from a host role's own session.
fn serializable_fleet(extra: &str) -> Site {
    let f = fleet_alone(extra);
    let db = f.database().to_string();
    f.cluster().superuser_sql(
        &db,
        &format!("ALTER DATABASE {db} SET default_transaction_isolation = serializable;"),
    );
    let seen = psql_uri(&f.store_uri("host_a"), "SHOW transaction_isolation");
    assert_eq!(String::from_utf8_lossy(&seen.stdout).trim(), "serializable");
    f
}

/// The serialization failures the server logged after byte `from` of its log, per backend pid.
fn conflicts_per_backend(f: &Site, from: usize) -> BTreeMap<String, usize> {
    let log = f.cluster().log();
    let mut per = BTreeMap::new();
    for line in log[from..].lines().filter(|l| l.contains("could not serialize access")) {
        // log_line_prefix '%m [%p] ': the backend's pid in brackets.
        let pid = line.split('[').nth(1).and_then(|r| r.split(']').next()).unwrap_or("?");
        *per.entry(pid.to_string()).or_insert(0) += 1;
    }
    per
}

#[test]
fn a_one_time_pass_raced_under_serializable_isolation_logs_in_exactly_once_per_round() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = serializable_fleet("");
    let from = f.cluster().log().len();
    // race_rounds asserts one success a round and every other login PAM_AUTH_ERR.
    race_rounds(&f, ROUNDS, "fleet_race_serializable");
    let per = conflicts_per_backend(&f, from);
    let most = per.values().copied().max().unwrap_or(0);
    figure(
        "fleet_race_serializable_retries",
        &format!(
            "serialization_failures={} backends_that_met_one={} most_in_one_session={most}",
            per.values().sum::<usize>(),
            per.len()
        ),
    );
    assert!(
        !per.is_empty(),
        "no 40001 at all: the race did not meet serializable isolation"
    );
    assert!(most < MAX_RUNS, "a session met {most} serialization failures");
}

#[test]
fn racing_wrong_answers_under_serializable_isolation_are_each_counted() {
    require_root!();
    let _g = crate::support::figures::serial();
    let policy = "[pass]\nmax_failures = 100\n";
    let f = serializable_fleet(policy);
    f.write_host_configs("&connect_timeout=30", policy);
    let u = User::new();
    let issued = f.issue_keeping(&u.name, &["--reusable"]);
    // Pass-shaped and wrong: every one must be counted.
    let wrong = if issued.pass.starts_with('A') {
        "BBBB-BBBB-BB"
    } else {
        "AAAA-AAAA-AA"
    };
    let from = f.cluster().log().len();
    let runs = stampede(&f, &u.name, wrong);
    let codes: BTreeMap<&str, usize> = runs.iter().fold(BTreeMap::new(), |mut m, (_, r)| {
        *m.entry(r.auth()).or_insert(0) += 1;
        m
    });
    let counted = f.psql(&format!(
        "SELECT failures, total_failures, (SELECT count(*) FROM pam_tap.audit WHERE event = 'failed' AND pass_id = {0}) \
         FROM pam_tap.passes WHERE id = {0}",
        issued.id
    ));
    let per = conflicts_per_backend(&f, from);
    figure(
        "fleet_failures_serializable",
        &format!(
            "sent={} codes={codes:?} failures|total|failed_rows={counted} serialization_failures={} most_in_one_session={}",
            runs.len(),
            per.values().sum::<usize>(),
            per.values().copied().max().unwrap_or(0)
        ),
    );
    f.check_no_secrets();
    assert_eq!(codes.get("PAM_AUTH_ERR"), Some(&runs.len()), "{codes:?}");
    let n = runs.len();
    assert_eq!(counted, format!("{n}|{n}|{n}"));
}
