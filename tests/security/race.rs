//! Races through the real libpam and the built module: many processes answer at the same instant.

use std::io::Write;
use std::process::{Child, Stdio};

use crate::support::figures::figure;
use crate::support::site::Site;
use crate::{site, user};

const PROCS: usize = 64;
const ROUNDS: usize = 20;

/// Starts `n` drivers that all block at the prompt, then answers them all at once.
fn stampede(f: &Site, service: &str, user: &str, answer: &str, n: usize) -> Vec<crate::support::drive::Run> {
    let mut children: Vec<Child> = (0..n)
        .map(|_| {
            f.drive_cmd(service, user, &["authenticate"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn pam_drive")
        })
        .collect();
    let mut pipes: Vec<_> = children.iter_mut().map(|c| c.stdin.take().unwrap()).collect();
    for p in &mut pipes {
        let _ = writeln!(p, "{answer}");
    }
    drop(pipes);
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            crate::support::drive::Run::from_output(out)
        })
        .collect()
}

#[test]
fn one_time_pass_redeems_exactly_once_under_a_stampede() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("race_one_time", "");
    f.stack_only("race", "");
    let (mut per_round, mut locked, mut crashes, mut others) = (vec![], 0, 0, 0);
    for _ in 0..ROUNDS {
        let pass = f.issue_keeping(&user.name, &["--one-time", "--replace"]).pass;
        f.log.clear();
        let runs = stampede(&f, "race", &user.name, &pass, PROCS);
        let ok = runs.iter().filter(|r| r.auth() == "PAM_SUCCESS").count();
        crashes += runs.iter().filter(|r| r.crashed() || r.auth() == "(none)").count();
        // The losers must see the pass as used, not an error.
        others += runs
            .iter()
            .filter(|r| !matches!(r.auth(), "PAM_SUCCESS" | "PAM_AUTH_ERR"))
            .count();
        let lines = f.log.settled_lines();
        locked += lines
            .iter()
            .chain(runs.iter().map(|r| &r.stderr))
            .filter(|l| l.contains("database is locked") || l.contains("database is busy"))
            .count();
        per_round.push(ok);
        let rec = f.show(&user.name);
        assert_eq!(rec["status"], "used", "{rec}");
        assert_eq!(rec["use_count"], 1, "{rec}");
    }
    let used_rows: i64 = f
        .sqlite()
        .query_row("SELECT count(*) FROM audit WHERE event = 'used'", [], |r| r.get(0))
        .unwrap();
    figure(
        "race",
        &format!(
            "rounds={ROUNDS} procs={PROCS} successes_per_round={per_round:?} used_audit_rows={used_rows} \
             db_locked={locked} crashes={crashes} other_codes={others}"
        ),
    );
    f.check_no_secrets();
    assert!(per_round.iter().all(|&n| n == 1), "{per_round:?}");
    assert_eq!(used_rows, ROUNDS as i64);
    assert_eq!((locked, crashes, others), (0, 0, 0));
}

#[test]
fn racing_wrong_answers_count_exactly() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("race_failures", "[pass]\nmax_failures = 100");
    f.stack_only("racef", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    // Pass-shaped and wrong: every one must be counted.
    let wrong = if pass.starts_with('A') {
        "BBBB-BBBB-BB"
    } else {
        "AAAA-AAAA-AA"
    };
    let mut counted = vec![];
    let mut all_auth_err = true;
    for batch in [PROCS, PROCS / 2] {
        let before = f.show(&user.name)["failures"].as_u64().unwrap();
        let runs = stampede(&f, "racef", &user.name, wrong, batch);
        all_auth_err &= runs.iter().all(|r| r.auth() == "PAM_AUTH_ERR");
        let after = f.show(&user.name)["failures"].as_u64().unwrap();
        counted.push((batch, after - before));
    }
    // The lockout fires exactly at max_failures even when the last tries race.
    let before = f.show(&user.name)["failures"].as_u64().unwrap() as usize;
    let runs = stampede(&f, "racef", &user.name, wrong, 100 - before + 8);
    let maxtries = runs.iter().filter(|r| r.auth() == "PAM_MAXTRIES").count();
    let rec = f.show(&user.name);
    let locked_rows: i64 = f
        .sqlite()
        .query_row("SELECT count(*) FROM audit WHERE event = 'locked'", [], |r| r.get(0))
        .unwrap();
    figure(
        "race_failures",
        &format!(
            "batches(sent,counted)={counted:?} all_auth_err={all_auth_err} lockout_maxtries={maxtries} \
             locked_audit_rows={locked_rows} final_status={} final_failures={}",
            rec["status"], rec["failures"]
        ),
    );
    f.check_no_secrets();
    assert!(counted.iter().all(|(sent, n)| *sent as u64 == *n), "{counted:?}");
    assert!(all_auth_err);
    assert_eq!(rec["status"], "locked");
    assert_eq!(locked_rows, 1);
    // Tries that read the pass before the lock landed are counted and answered PAM_MAXTRIES too.
    assert!(maxtries >= 1);
}
