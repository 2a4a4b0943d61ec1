//! One-time means once across the fleet: logins racing one pass from three hosts at the same instant.

use std::io::Write;
use std::process::{Child, Stdio};

use crate::site::{fleet_alone, HOSTS};
use crate::support::accounts::User;
use crate::support::drive::Run;
use crate::support::figures::figure;
use crate::support::site::Site;

const PER_HOST: usize = 20;
const ROUNDS: usize = 20;

/// Starts `PER_HOST` drivers on each host's `only-X` service, all blocked at the prompt, then
/// answers them all at once. Returns (host letter, run) pairs.
pub(crate) fn stampede(f: &Site, user: &str, answer: &str) -> Vec<(&'static str, Run)> {
    let mut children: Vec<(&'static str, Child)> = HOSTS
        .iter()
        .flat_map(|(x, _, _)| std::iter::repeat_n(*x, PER_HOST))
        .map(|x| {
            let child = f
                .drive_cmd(&format!("only-{x}"), user, &["authenticate"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn pam_drive");
            (x, child)
        })
        .collect();
    let mut pipes: Vec<_> = children.iter_mut().map(|(_, c)| c.stdin.take().unwrap()).collect();
    for p in &mut pipes {
        let _ = writeln!(p, "{answer}");
    }
    drop(pipes);
    children
        .into_iter()
        .map(|(x, c)| (x, Run::from_output(c.wait_with_output().expect("wait"))))
        .collect()
}

#[test]
fn a_one_time_pass_raced_from_three_hosts_logs_in_exactly_once_per_round() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = fleet_alone("");
    race_rounds(&f, ROUNDS, "fleet_race");
}

/// `rounds` rounds of [`race_one_pass`] on fleet `f`, recorded as figure `name`: one success per
/// round, its `used` audit row, every other login PAM_AUTH_ERR (the pass used), no crash.
pub(crate) fn race_rounds(f: &Site, rounds: usize, name: &str) {
    // Three hosts' login storms on one machine (2 cores, shared with other jobs while CI runs):
    // 60 TLS handshakes and argon2 runs at once can outlast the 5 s connect_timeout the module
    // pins by default, which bounds a dead server, not this. The race is about one-time use.
    f.write_host_configs("&connect_timeout=30", "");
    let u = User::new();
    let mut r = Rounds::default();
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        race_one_pass(f, &u.name, &mut r);
    }
    let used_rows = f.psql("SELECT count(*) FROM pam_tap.audit WHERE event = 'used'");
    figure(
        name,
        &format!(
            "rounds={rounds} hosts=3 logins_per_host={PER_HOST} successes_per_round={:?} \
             winning_host={} used_audit_rows={used_rows} other_codes={} crashes={} seconds={:.1}",
            r.per_round,
            r.winners.concat(),
            r.others.len(),
            r.crashes,
            t.elapsed().as_secs_f64()
        ),
    );
    f.check_no_secrets();
    assert!(r.per_round.iter().all(|&n| n == 1), "{:?}", r.per_round);
    assert_eq!(used_rows, rounds.to_string());
    assert!(r.others.is_empty(), "{:?} {:#?}", r.others, r.errors);
    assert_eq!(r.crashes, 0);
}

/// What the rounds saw: successes per round, the winning host of each, any code but success or
/// PAM_AUTH_ERR, crashed drivers, the store errors behind those codes (each once), and how many
/// syslog lines the rounds before had read.
#[derive(Default)]
struct Rounds {
    per_round: Vec<usize>,
    winners: Vec<&'static str>,
    others: Vec<String>,
    crashes: usize,
    errors: std::collections::BTreeSet<String>,
    seen: usize,
}

/// One round: a fresh one-time pass raced from the three hosts. It ends used once, and the audit
/// row of the one success names the host whose login won.
fn race_one_pass(f: &Site, user: &str, r: &mut Rounds) {
    let pass = f.issue_keeping(user, &["--one-time", "--replace"]).pass;
    let id = f.newest_id(user);
    let runs = stampede(f, user, &pass);
    let won: Vec<&str> = runs
        .iter()
        .filter(|(_, r)| r.auth() == "PAM_SUCCESS")
        .map(|(x, _)| *x)
        .collect();
    r.crashes += runs.iter().filter(|(_, r)| r.crashed()).count();
    // The losers see the pass as used (PAM_AUTH_ERR), never an error.
    r.others.extend(
        runs.iter()
            .filter(|(_, r)| !matches!(r.auth(), "PAM_SUCCESS" | "PAM_AUTH_ERR"))
            .map(|(x, r)| format!("{x}:{}", r.auth())),
    );
    r.per_round.push(won.len());
    // The store errors behind any other code, each once (the log is kept whole for the scan).
    let lines = f.log.settled_lines();
    let refusing = lines[r.seen..].iter().filter(|l| l.contains("refusing"));
    r.errors
        .extend(refusing.map(|l| l.split("]: ").nth(1).unwrap_or(l).to_string()));
    r.seen = lines.len();
    r.winners.push(won.first().copied().unwrap_or("-"));
    let rec = f.show(user);
    assert_eq!(rec["status"], "used", "{rec}");
    assert_eq!(rec["use_count"], 1, "{rec}");
    let host = f.psql(&format!(
        "SELECT host FROM pam_tap.audit WHERE event = 'used' AND pass_id = {id}"
    ));
    assert_eq!(host, format!("host-{}", r.winners.last().unwrap()));
}
