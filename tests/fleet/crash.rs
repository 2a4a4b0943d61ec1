//! The server killed at any moment of a login (`pg_ctl stop -m immediate`): a login never succeeds
//! without its one-time pass consumed in the database, and the pass row and its audit row are
//! written together or not at all.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::site::fleet_on;
use crate::support::accounts::User;
use crate::support::drive::Run;
use crate::support::figures::figure;
use crate::support::pg_cluster::PgCluster;
use crate::support::site::{Cluster, Site};
use crate::support::XorShift;

const KILLS: usize = 50;

#[test]
fn the_server_killed_mid_login_never_yields_a_success_without_a_consumed_pass() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = fleet_on(Cluster::Own(PgCluster::private(&[])), "");
    kill_rounds(&f, KILLS, "fleet_crash");
}

/// `kills` logins on fleet `f` (whose cluster is its own), each with the server stopped
/// (immediate) at a random moment of it; recorded as figure `name`. Every round is consistent
/// (see [`stop_the_server_mid_login`]) and a third of the kills at least land mid-login.
pub(crate) fn kill_rounds(f: &Site, kills: usize, name: &str) {
    let u = User::new();
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap();
    let mut rng = XorShift(u64::from_ne_bytes(seed) | 1);

    let span = login_span(f, &u.name);

    let mut t = Tally::default();
    for i in 0..kills {
        // host-a over TCP and TLS, host-c over the Unix socket, in turn.
        let service = if i % 2 == 0 { "only-a" } else { "only-c" };
        let delay = Duration::from_micros(rng.next() % span);
        stop_the_server_mid_login(f, service, &u.name, i, delay, &mut t);
    }
    t.restarts_ms.sort_unstable();
    figure(
        name,
        &format!(
            "kills={kills} killed_before_commit={} killed_after_commit={} \
             finished_before_kill={} inconsistencies={} restart_ms_median={} restart_ms_max={}",
            t.before_commit,
            t.after_commit,
            t.finished,
            t.bad.len(),
            t.restarts_ms[kills / 2],
            t.restarts_ms[kills - 1]
        ),
    );
    f.check_no_secrets();
    assert!(t.bad.is_empty(), "{:#?}", t.bad);
    assert!(
        t.before_commit + t.after_commit >= kills / 3,
        "most kills should land mid-login: {} + {}",
        t.before_commit,
        t.after_commit
    );
}

/// How long one whole login takes here, to spread the kills over all of it (the stop itself takes
/// a while to land): the median of five after a first one, plus a fifth. A cold first login (a
/// pooler opening its server connection, a TLS session) is slower, and a span set by it alone let
/// most kills land after the login had ended.
fn login_span(f: &Site, user: &str) -> u64 {
    let mut took = vec![];
    for _ in 0..6 {
        let pass = f.issue_keeping(user, &["--one-time", "--replace"]).pass;
        let t = Instant::now();
        assert_eq!(f.auth("only-a", user, &pass).auth(), "PAM_SUCCESS");
        took.push(t.elapsed().as_micros() as u64);
    }
    let mut warm = took.split_off(1);
    warm.sort_unstable();
    warm[warm.len() / 2] * 12 / 10
}

/// What the kills found.
#[derive(Default)]
struct Tally {
    before_commit: usize,
    after_commit: usize,
    finished: usize,
    restarts_ms: Vec<u32>,
    bad: Vec<String>,
}

/// Round `i`: a login on `service` with a fresh one-time pass, the server stopped (immediate)
/// after `delay` and started again. The pass's use count and its `used` audit rows agree, a
/// success consumed the pass, and a login the stop cut short left the pass consumed (refused from
/// then on) or whole (it works), never half.
fn stop_the_server_mid_login(f: &Site, service: &str, user: &str, i: usize, delay: Duration, t: &mut Tally) {
    let pass = f.issue_keeping(user, &["--one-time", "--replace"]).pass;
    let id = f.newest_id(user);
    let mut child = f
        .drive_cmd(service, user, &["authenticate"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = writeln!(child.stdin.take().unwrap(), "{pass}");
    std::thread::sleep(delay);
    f.cluster().stop_immediate();
    let run = Run::from_output(child.wait_with_output().unwrap());
    f.cluster().start();
    // A pooler in front (it stays up) reaches the server again within its server_login_retry.
    if let Some(p) = f.pooler() {
        p.wait_for_server(f.database());
    }
    t.restarts_ms
        .push(f.cluster().start_ms.load(std::sync::atomic::Ordering::SeqCst));
    let row = f.psql(&format!(
        "SELECT used_at IS NOT NULL, use_count, \
         (SELECT count(*) FROM pam_tap.audit WHERE event = 'used' AND pass_id = {id}) \
         FROM pam_tap.passes WHERE id = {id}"
    ));
    let (used, counts) = match row.split('|').collect::<Vec<_>>()[..] {
        [a, b, c] => (a == "t", format!("{b}|{c}")),
        _ => panic!("round {i}: no row for pass {id}: {row:?}"),
    };
    // use_count|used audit rows: both 1 once consumed, both 0 before.
    if counts != if used { "1|1" } else { "0|0" } {
        t.bad
            .push(format!("round {i}: used={used} use_count|used_rows={counts}"));
    }
    match run.auth() {
        "PAM_SUCCESS" => {
            t.finished += 1;
            if !used {
                t.bad.push(format!("round {i}: PAM_SUCCESS, pass not consumed"));
            }
        }
        // The server went away during the login: the pass is consumed (and refused from now
        // on) or whole (and still works), never half.
        "PAM_AUTHINFO_UNAVAIL" => {
            let again = f.auth(service, user, &pass);
            match (used, again.auth()) {
                (true, "PAM_AUTH_ERR") => t.after_commit += 1,
                (false, "PAM_SUCCESS") => t.before_commit += 1,
                (u, code) => t
                    .bad
                    .push(format!("round {i}: killed, used={u}, the retry gave {code}")),
            }
        }
        other => t
            .bad
            .push(format!("round {i}: the right pass gave {other}: {}", run.stdout)),
    }
}
