//! The standby kept from a use: the primary's walsender stopped (SIGSTOP), so what the primary
//! writes from then on never reaches the standby, then the primary killed and the standby promoted.
//! With asynchronous replication a login succeeds on the primary and the same one-time pass logs in
//! again on the promoted server: the double use asynchronous replication allows. With synchronous
//! replication a login whose use the standby has not confirmed never succeeds.

use std::time::{Duration, Instant};

use crate::site::fleet_on;
use crate::support::accounts::User;
use crate::support::drive::Run;
use crate::support::figures::figure;
use crate::support::pg_cluster::Pair;
use crate::support::site::{Cluster, Issued, Site};

/// The pass's use on the server that is the primary now: `use_count|hosts of its used rows`.
fn use_of(f: &Site, id: i64) -> String {
    f.psql(&format!(
        "SELECT use_count, (SELECT coalesce(string_agg(host, ','), '') FROM pam_tap.audit \
         WHERE event = 'used' AND pass_id = {id}) FROM pam_tap.passes WHERE id = {id}"
    ))
}

#[test]
fn with_asynchronous_replication_a_pass_used_just_before_the_failover_logs_in_again() {
    require_root!();
    let f = fleet_on(Cluster::Pair(Pair::new(false)), "");
    let u = User::new();
    let issued = f.issue_keeping(&u.name, &["--one-time"]);
    f.pair().freeze_replication();
    let first = f.auth("only-a", &u.name, &issued.pass);
    let on_primary = use_of(&f, issued.id);
    f.pair().kill_primary();
    f.pair().promote();
    let on_promoted_before = use_of(&f, issued.id);
    let second = f.auth("only-b", &u.name, &issued.pass);
    let on_promoted = use_of(&f, issued.id);
    figure(
        "fleet_failover_async",
        &format!(
            "walsender_stopped first_login_host_a={} use_on_old_primary={on_primary} \
             use_on_promoted_standby_before={on_promoted_before} same_pass_after_promotion_host_b={} \
             use_on_promoted_after={on_promoted} successes_for_one_pass={}",
            first.auth(),
            second.auth(),
            [&first, &second].iter().filter(|r| r.auth() == "PAM_SUCCESS").count()
        ),
    );
    assert_eq!(first.auth(), "PAM_SUCCESS", "{first:?}");
    assert_eq!(on_primary, "1|host-a");
    // The standby never received the use: on it the pass is whole, and it logs in a second time.
    assert_eq!(on_promoted_before, "0|");
    assert_eq!(second.auth(), "PAM_SUCCESS", "{second:?}");
    assert_eq!(on_promoted, "1|host-b");
}

/// The pid of the one backend of `role` whose commit waits for the synchronous standby; `None` if
/// `login` (that backend's login) ended first or 30 s went by.
fn waiting_on_the_standby(f: &Site, role: &str, login: &std::thread::ScopedJoinHandle<'_, Run>) -> Option<String> {
    let t = Instant::now();
    while !login.is_finished() && t.elapsed() < Duration::from_secs(30) {
        let pid = f.pair().primary().query(
            "postgres",
            &format!("SELECT pid FROM pg_stat_activity WHERE usename = '{role}' AND wait_event = 'SyncRep'"),
        );
        if !pid.is_empty() {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// How the two logins of the synchronous test ended while the standby confirmed nothing.
struct Unconfirmed {
    waited: Run,
    waited_for: Duration,
    cancelled: Run,
}

/// host-a's login with `waiting` and host-b's with `cut`, at once, replication frozen: host-a's
/// commit waits for the standby until the module gives up; host-b's waits too, until the wait is
/// cancelled on the server (pg_cancel_backend), which PostgreSQL answers with a WARNING, the commit
/// kept on the primary alone.
fn logins_the_standby_never_confirms(f: &Site, waiting: (&User, &Issued), cut: (&User, &Issued)) -> Unconfirmed {
    std::thread::scope(|s| {
        let host_a = s.spawn(|| {
            let t = Instant::now();
            (f.auth("only-a", &waiting.0.name, &waiting.1.pass), t.elapsed())
        });
        let host_b = s.spawn(|| f.auth("only-b", &cut.0.name, &cut.1.pass));
        let Some(pid) = waiting_on_the_standby(f, "host_b", &host_b) else {
            let run = host_b.join().unwrap();
            panic!("no commit of host_b waited for the standby; its login: {run:?}");
        };
        f.pair()
            .primary()
            .query("postgres", &format!("SELECT pg_cancel_backend({pid})"));
        // A login that outlives statement_timeout by far is ended by killing the primary: the
        // caller's assertion then names how long it waited.
        let t = Instant::now();
        while !host_a.is_finished() && t.elapsed() < Duration::from_secs(40) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !host_a.is_finished() {
            f.pair().kill_primary();
        }
        let (waited, waited_for) = host_a.join().unwrap();
        Unconfirmed {
            waited,
            waited_for,
            cancelled: host_b.join().unwrap(),
        }
    })
}

#[test]
fn with_synchronous_replication_a_use_the_standby_has_not_confirmed_never_logs_in() {
    require_root!();
    // It times a login.
    let _g = crate::support::figures::serial();
    let f = fleet_on(Cluster::Pair(Pair::new(true)), "[fleet]\nstatement_timeout = \"10s\"\n");
    let (waits, cut) = (User::new(), User::new());
    let waiting_pass = f.issue_keeping(&waits.name, &["--one-time"]);
    let cut_pass = f.issue_keeping(&cut.name, &["--one-time"]);
    // The hosts' roles ask for no wait: the module raises the commit level of its own transactions.
    f.pair().primary().superuser_sql(
        "postgres",
        "ALTER ROLE host_a SET synchronous_commit = 'local';\nALTER ROLE host_b SET synchronous_commit = 'local';",
    );
    f.pair().freeze_replication();
    let u = logins_the_standby_never_confirms(&f, (&waits, &waiting_pass), (&cut, &cut_pass));
    let lines = f.log.settled_lines();
    f.pair().kill_primary();
    f.pair().promote();
    // On the promoted server both passes are whole: each logs in there, once.
    let after = [(&waits, &waiting_pass), (&cut, &cut_pass)].map(|(u, p)| f.auth("only-c", &u.name, &p.pass));
    let uses = [waiting_pass.id, cut_pass.id].map(|id| use_of(&f, id));
    figure(
        "fleet_failover_sync_unconfirmed",
        &format!(
            "walsender_stopped statement_timeout=10s commit_waiting_login={} after_ms={} \
             cancelled_wait_login={} after_promotion={},{} uses_on_promoted={}",
            u.waited.auth(),
            u.waited_for.as_millis(),
            u.cancelled.auth(),
            after[0].auth(),
            after[1].auth(),
            uses.join(",")
        ),
    );
    assert_eq!(u.waited.auth(), "PAM_AUTHINFO_UNAVAIL", "{:?}", u.waited);
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(30)).contains(&u.waited_for),
        "the waiting login ended after {:?}, not after statement_timeout",
        u.waited_for
    );
    assert_eq!(u.cancelled.auth(), "PAM_AUTHINFO_UNAVAIL", "{:?}", u.cancelled);
    for needle in [
        "no answer from the server within 11 s",
        "canceling wait for synchronous replication",
    ] {
        assert!(lines.iter().any(|l| l.contains(needle)), "{needle:?} in {lines:#?}");
    }
    for r in &after {
        assert_eq!(r.auth(), "PAM_SUCCESS", "{r:?}");
    }
    assert_eq!(uses, ["1|host-c", "1|host-c"]);
}
