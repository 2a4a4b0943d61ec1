//! Failover keeps one-time use: the store on a primary and a synchronous streaming standby, every
//! host's config listing both with `target_session_attrs=read-write`. Logins race one one-time pass
//! from the three hosts while the primary is killed (`pg_ctl stop -m immediate`) at a random moment
//! and the standby promoted: never two successes for one pass, never a success whose use the
//! promoted server does not hold, and the logins go on against the promoted server through the
//! same configs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::site::{fleet_on, HOSTS};
use crate::support::accounts::User;
use crate::support::figures::{figure, median};
use crate::support::pg_cluster::Pair;
use crate::support::site::{Cluster, Site};
use crate::support::XorShift;

/// `tapctl doctor` against a real primary and standby.
mod doctor;
/// Asynchronous replication's double use, and what a synchronous standby that cannot answer does.
mod freeze;

const ROUNDS: usize = 20;
/// The codes a login may end with here: the pass used (or already used), or the store unreachable.
const FAIR: [&str; 3] = ["PAM_SUCCESS", "PAM_AUTH_ERR", "PAM_AUTHINFO_UNAVAIL"];

/// A generator seeded from getrandom; the seed is printed, so a failing run can be read again.
pub(crate) fn seeded(test: &str) -> XorShift {
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap();
    let seed = u64::from_ne_bytes(seed) | 1;
    println!("{test}: seed={seed}");
    XorShift(seed)
}

#[test]
fn a_pass_raced_through_a_failover_is_used_at_most_once_and_the_promoted_server_holds_the_use() {
    require_root!();
    let _g = crate::support::figures::serial();
    let started = Instant::now();
    let f = fleet_on(Cluster::Pair(Pair::new(true)), "");
    let u = User::new();
    let mut rng = seeded("fleet_failover");
    // The kill lands anywhere in two logins: before, during and after the winner's commit (three
    // logins at once on two cores, each slower than one alone).
    let pass = f.issue_keeping(&u.name, &["--one-time", "--replace"]).pass;
    let t = Instant::now();
    assert_eq!(f.auth("only-a", &u.name, &pass).auth(), "PAM_SUCCESS");
    let span = t.elapsed().as_micros() as u64 * 2;
    let mut tally = Tally::default();
    for i in 0..ROUNDS {
        if i > 0 {
            let t = Instant::now();
            f.pair().rebuild_standby();
            tally.rebuild_ms.push(t.elapsed().as_millis() as f64);
        }
        fail_over_mid_race(&f, &u.name, i, Duration::from_micros(rng.next() % span), &mut tally);
    }
    tally.report(started.elapsed());
    f.check_no_secrets();
    assert!(tally.bad.is_empty(), "{:#?}", tally.bad);
    assert_eq!(tally.fresh_logins, ROUNDS, "a fresh pass logs in after every promotion");
    assert!(
        tally.successes >= ROUNDS / 2,
        "most passes should log in once: {} of {ROUNDS}",
        tally.successes
    );
}

/// What the rounds saw.
#[derive(Default)]
struct Tally {
    kills: usize,
    successes: usize,
    /// Rounds with more than one success.
    double_uses: usize,
    /// Rounds whose success the promoted server does not hold as the one use.
    not_held: usize,
    /// Rounds whose winning login ended before the kill began (it won on the old primary).
    won_on_old_primary: usize,
    /// Rounds whose winning login began after the old primary was dead: it won on the promoted
    /// server (the pass was whole at the kill).
    won_on_promoted: usize,
    /// Rounds whose winning login was under way while the primary was being killed.
    won_across_the_kill: usize,
    /// Rounds with no success: the use committed, the login cut by the kill (failed closed).
    used_by_a_cut_login: usize,
    /// Logins that ended PAM_AUTHINFO_UNAVAIL (the store unreachable or the connection lost).
    failed_closed: usize,
    tries: usize,
    /// A fresh pass logged in after the promotion.
    fresh_logins: usize,
    promote_ms: Vec<f64>,
    rebuild_ms: Vec<f64>,
    bad: Vec<String>,
}

impl Tally {
    fn report(&mut self, took: Duration) {
        figure(
            "fleet_failover",
            &format!(
                "synchronous_standby rounds={ROUNDS} hosts=3 kills={} successes={} double_uses={} \
                 successes_not_held_by_promoted={} won_on_old_primary={} won_across_the_kill={} won_on_promoted={} used_by_a_cut_login={} failed_closed_logins={} \
                 logins={} fresh_pass_after_promotion={}/{ROUNDS} promote_ms_median={:.0} \
                 standby_rebuild_ms_median={:.0} problems={} seconds={:.1}",
                self.kills,
                self.successes,
                self.double_uses,
                self.not_held,
                self.won_on_old_primary,
                self.won_across_the_kill,
                self.won_on_promoted,
                self.used_by_a_cut_login,
                self.failed_closed,
                self.tries,
                self.fresh_logins,
                median(&mut self.promote_ms),
                median(&mut self.rebuild_ms),
                self.bad.len(),
                took.as_secs_f64()
            ),
        );
    }
}

/// One login of a round: where it ran, how it ended, and when.
struct Try {
    host: &'static str,
    code: String,
    crashed: bool,
    began: Instant,
    ended: Instant,
}

/// When the kill began and ended, and when `pg_promote` returned (the promoted server takes writes
/// from then on at the latest).
struct Failover {
    killing: Instant,
    killed: Instant,
    promoted: Instant,
}

/// Sets the flag when dropped: the hosts' loops end even if the failover panics.
struct Raise<'a>(&'a AtomicBool);

impl Drop for Raise<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Round `i`: a fresh one-time pass tried from the three hosts over and over, the primary killed
/// after `delay` and the standby promoted, each host trying until one of its logins began after
/// the promotion; then a fresh pass logs in through the same configs.
fn fail_over_mid_race(f: &Site, user: &str, i: usize, delay: Duration, t: &mut Tally) {
    let issued = f.issue_keeping(user, &["--one-time", "--replace"]);
    let promoted = AtomicBool::new(false);
    let (tries, at): (Vec<Try>, Failover) = std::thread::scope(|s| {
        let hosts: Vec<_> = HOSTS
            .iter()
            .map(|(x, _, _)| {
                let (promoted, pass) = (&promoted, &issued.pass);
                s.spawn(move || keep_trying(f, x, user, pass, promoted))
            })
            .collect();
        let raise = Raise(&promoted);
        std::thread::sleep(delay);
        let killing = Instant::now();
        f.pair().kill_primary();
        let killed = Instant::now();
        f.pair().promote();
        let promoted = Instant::now();
        t.promote_ms.push((promoted - killed).as_millis() as f64);
        drop(raise);
        let tries = hosts.into_iter().flat_map(|h| h.join().unwrap()).collect();
        (
            tries,
            Failover {
                killing,
                killed,
                promoted,
            },
        )
    });
    t.kills += 1;
    judge_round(f, i, issued.id, &tries, &at, t);
    let fresh = f.issue_keeping(user, &["--one-time", "--replace"]).pass;
    let x = HOSTS[i % 3].0;
    match f.auth(&format!("only-{x}"), user, &fresh).auth() {
        "PAM_SUCCESS" => t.fresh_logins += 1,
        code => t.bad.push(format!(
            "round {i}: a fresh pass on host-{x} after the promotion: {code}"
        )),
    }
}

/// Host `x`'s logins with `pass`, one after another, until one begun after the promotion has ended
/// (or a minute went by).
fn keep_trying(f: &Site, x: &'static str, user: &str, pass: &str, promoted: &AtomicBool) -> Vec<Try> {
    let t = Instant::now();
    let mut tries = vec![];
    loop {
        let after_promotion = promoted.load(Ordering::SeqCst);
        let began = Instant::now();
        let run = f.auth(&format!("only-{x}"), user, pass);
        tries.push(Try {
            host: x,
            code: run.auth().to_string(),
            crashed: run.crashed(),
            began,
            ended: Instant::now(),
        });
        if after_promotion || t.elapsed() > Duration::from_secs(60) {
            return tries;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// At most one success; every login ended with a code of [`FAIR`], and those begun after the
/// promotion reached the promoted server; and the promoted server holds the use of any success.
fn judge_round(f: &Site, i: usize, id: i64, tries: &[Try], at: &Failover, t: &mut Tally) {
    t.tries += tries.len();
    t.failed_closed += tries.iter().filter(|r| r.code == "PAM_AUTHINFO_UNAVAIL").count();
    let won: Vec<&Try> = tries.iter().filter(|r| r.code == "PAM_SUCCESS").collect();
    t.successes += won.len();
    for r in tries {
        if r.crashed || !FAIR.contains(&r.code.as_str()) {
            t.bad.push(format!(
                "round {i}: host-{} gave {} (crashed: {})",
                r.host, r.code, r.crashed
            ));
        }
        if r.began >= at.promoted && !matches!(r.code.as_str(), "PAM_SUCCESS" | "PAM_AUTH_ERR") {
            t.bad.push(format!(
                "round {i}: host-{} after the promotion gave {}",
                r.host, r.code
            ));
        }
    }
    // On the promoted server: whether the pass is used, its count, and the hosts of its `used` rows.
    let row = f.psql(&format!(
        "SELECT used_at IS NOT NULL, use_count, (SELECT coalesce(string_agg(host, ','), '') \
         FROM pam_tap.audit WHERE event = 'used' AND pass_id = {id}) FROM pam_tap.passes WHERE id = {id}"
    ));
    let held = match &won[..] {
        [] => {
            t.used_by_a_cut_login += 1;
            // No login succeeded, so one was cut after its commit: the use is there, once.
            row.starts_with("t|1|host-") && !row.contains(',')
        }
        [w] => {
            if w.ended < at.killing {
                t.won_on_old_primary += 1;
            } else if w.began > at.killed {
                t.won_on_promoted += 1;
            } else {
                t.won_across_the_kill += 1;
            }
            row == format!("t|1|host-{}", w.host)
        }
        _ => {
            t.double_uses += 1;
            t.bad.push(format!("round {i}: {} successes for one pass", won.len()));
            true
        }
    };
    if !held {
        t.not_held += 1;
        let winners: Vec<&str> = won.iter().map(|w| w.host).collect();
        t.bad.push(format!(
            "round {i}: successes on {winners:?}, but the promoted server holds used|use_count|hosts = {row}"
        ));
    }
}
