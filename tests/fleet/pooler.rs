//! The fleet through PgBouncer in transaction pooling mode (tests/support/pgbouncer.rs): every host
//! and tapctl connect to the pooler, which keeps no session of theirs. The race, the crash and the
//! outages are the direct connection's own tests (race.rs, crash.rs, outage.rs) run through it; the
//! pooler stays up while the server behind it is killed, stopped or hung.

use crate::crash::kill_rounds;
use crate::outage::{server_never_answers, server_stopped};
use crate::race::race_rounds;
use crate::site::{fleet_alone_via, fleet_via, Route};
use crate::support::accounts::User;
use crate::support::pg_cluster::{psql_uri, PgCluster};
use crate::support::pgbouncer::WAITS;
use crate::support::site::{Cluster, Site, Turn};

/// Fewer rounds and kills than the direct tests: the same bodies, a share of the suite's time.
const ROUNDS: usize = 8;
const KILLS: usize = 12;

/// A pooled fleet on a cluster of its own (the test stops, kills or hangs the server).
fn pooled_own() -> Site {
    fleet_via(Route::Pooled, Turn::Shared, Cluster::Own(PgCluster::private(&[])), "")
}

/// One of the pooler's waits ([`WAITS`]), in ms.
fn wait_ms(name: &str) -> u128 {
    let (_, s) = WAITS.iter().find(|(k, _)| *k == name).expect("a pooler wait");
    s.parse::<u128>().unwrap() * 1000
}

#[test]
fn tapctl_issues_lists_and_revokes_through_the_pooler_and_every_host_logs_in() {
    require_root!();
    let f = fleet_via(Route::Pooled, Turn::Shared, Cluster::Shared(PgCluster::shared()), "");
    let u = User::new();
    // Each host in turn, with a fresh pass: TCP with TLS to the pooler (a, b) and its socket (c).
    for x in ["a", "b", "c"] {
        let pass = f.issue_keeping(&u.name, &["--one-time", "--replace"]).pass;
        assert_eq!(
            f.auth(&format!("only-{x}"), &u.name, &pass).auth(),
            "PAM_SUCCESS",
            "host-{x}"
        );
        assert_eq!(
            f.auth(&format!("only-{x}"), &u.name, &pass).auth(),
            "PAM_AUTH_ERR",
            "host-{x}"
        );
    }
    let issued = f.issue_keeping(&u.name, &["--reusable", "--replace"]);
    let listed = f.tapctl_ok(&["list"]);
    assert!(listed.contains(&u.name), "{listed}");
    f.tapctl_ok(&["revoke", &u.name]);
    assert_eq!(f.show(&u.name)["status"], "revoked");
    assert_eq!(f.auth("only-b", &u.name, &issued.pass).auth(), "PAM_AUTH_ERR");
    // Every host session was its own role on the server, behind the pooler: the audit names the
    // host each role is bound to.
    let hosts = f.psql("SELECT string_agg(DISTINCT host, ',' ORDER BY host) FROM pam_tap.audit WHERE event = 'used'");
    assert_eq!(hosts, "host-a,host-b,host-c");
    f.check_no_secrets();
    // And only through it: without the pooler, neither tapctl nor a host reaches the store.
    let again = f.issue_keeping(&u.name, &["--reusable", "--replace"]).pass;
    f.pooler().unwrap().stop();
    assert!(!f.tapctl(&["list"]).status.success());
    assert_eq!(f.auth("only-c", &u.name, &again).auth(), "PAM_AUTHINFO_UNAVAIL");
}

#[test]
fn a_one_time_pass_raced_through_the_pooler_logs_in_exactly_once_per_round() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = fleet_alone_via(Route::Pooled, "");
    race_rounds(&f, ROUNDS, "fleet_race_pooled");
}

#[test]
fn the_server_killed_behind_the_pooler_never_yields_a_success_without_a_consumed_pass() {
    require_root!();
    let _g = crate::support::figures::serial();
    kill_rounds(&pooled_own(), KILLS, "fleet_crash_pooled");
}

#[test]
fn the_server_stopped_behind_the_pooler_refuses_passes_within_its_query_wait_timeout() {
    require_root!();
    let _g = crate::support::figures::serial();
    let bound = wait_ms("query_wait_timeout") + 1_500;
    server_stopped(&pooled_own(), bound, "fleet_outage_pooled");
}

#[test]
fn a_server_hung_behind_the_pooler_refuses_passes_within_its_query_timeout() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = pooled_own();
    // Every process of the server stopped (SIGSTOP) once host_a's pool holds a server
    // connection: the pooler hands it out, and the query on it is never answered.
    let freeze = |f: &Site| -> Box<dyn std::any::Any> {
        let warm = psql_uri(&f.store_uri("host_a"), "SELECT 1");
        assert!(warm.status.success(), "{warm:?}");
        Box::new(Frozen::all_of(f.cluster()))
    };
    let bound = 1_000..wait_ms("query_timeout") + 3_000;
    server_never_answers(&f, freeze, bound, "fleet_hung_pooled");
}

/// A server's processes stopped with SIGSTOP until dropped (SIGCONT).
struct Frozen(Vec<i32>);

impl Frozen {
    fn all_of(c: &PgCluster) -> Frozen {
        let pidfile = std::fs::read_to_string(c.data_dir().join("postmaster.pid")).unwrap();
        let postmaster: i32 = pidfile.lines().next().unwrap().parse().unwrap();
        let mut pids = vec![postmaster];
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // Field 4, after the parenthesised command name, is the parent's pid.
            let ppid = stat.rsplit(") ").next().and_then(|r| r.split(' ').nth(1));
            if ppid == Some(&postmaster.to_string()) {
                pids.push(pid);
            }
        }
        for &p in &pids {
            // SAFETY: signalling the test's own server processes.
            unsafe { libc::kill(p, libc::SIGSTOP) };
        }
        Frozen(pids)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for &p in &self.0 {
            // SAFETY: as above.
            unsafe { libc::kill(p, libc::SIGCONT) };
        }
    }
}
