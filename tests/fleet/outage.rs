//! The database down or unreachable: a pass cannot log in (PAM_AUTHINFO_UNAVAIL, one syslog line);
//! a password login of a user without a pass still works, and costs what it does with the server
//! up, because an ordinary password never reaches the store (crates/core/src/login/answer_shape.rs).

use std::net::TcpListener;
use std::process::Command;
use std::time::Instant;

use crate::site::{fleet, fleet_on};
use crate::support::accounts::User;
use crate::support::drive::feed;
use crate::support::figures::figure;
use crate::support::paths::sec_probe;
use crate::support::pg_cluster::PgCluster;
use crate::support::site::{Cluster, Site};

const OWN: &str = "Own-Horse-Battery-31";
const LOGINS: usize = 10;

/// The median microseconds and result codes of `LOGINS` authentications of `user` answering `answer`.
fn timed(f: &Site, service: &str, user: &str, answer: &str) -> (f64, String) {
    let mut c = Command::new(sec_probe());
    c.arg("time")
        .arg(&f.pamd)
        .arg(service)
        .arg(user)
        .arg(LOGINS.to_string());
    let out = feed(c, format!("{answer}\n").as_bytes());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("timing "))
        .unwrap_or_else(|| panic!("no timing line: {text}"));
    let median = line
        .split("median_us=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (median, line.split("codes=").nth(1).unwrap().to_string())
}

#[test]
fn the_server_stopped_refuses_passes_and_leaves_password_logins_as_fast_as_before() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = fleet_on(Cluster::Own(PgCluster::private(&[])), "");
    let plain = User::with_password(OWN);
    let holder = User::with_password(OWN);
    let pass = f.issue_keeping(&holder.name, &["--reusable"]).pass;

    let (up_us, up_codes) = timed(&f, "full-a", &plain.name, OWN);
    assert_eq!(up_codes, format!("{{\"PAM_SUCCESS\": {LOGINS}}}"));
    f.cluster().stop("fast");
    f.log.clear();
    for x in ["a", "c"] {
        let r = f.auth(&format!("only-{x}"), &holder.name, &pass);
        assert_eq!(r.auth(), "PAM_AUTHINFO_UNAVAIL", "host-{x}: {r:?}");
    }
    let lines = f.log.settled_lines();
    let (down_us, down_codes) = timed(&f, "full-a", &plain.name, OWN);
    // The pass holder's own password works too: it is not pass-shaped, the store is not asked.
    let own = f.pam_on("full-b", &holder.name, &["authenticate", "acct_mgmt"], &[OWN]);
    assert_eq!(own.result("authenticate"), "PAM_SUCCESS", "{}", own.stdout);
    figure(
        "fleet_outage",
        &format!(
            "password_login_median_us server_up={up_us:.0} server_down={down_us:.0} ratio={:.2} \
             pass_login=PAM_AUTHINFO_UNAVAIL syslog_lines_per_refusal={:.1}",
            down_us / up_us,
            lines.len() as f64 / 2.0
        ),
    );
    assert_eq!(down_codes, format!("{{\"PAM_SUCCESS\": {LOGINS}}}"));
    f.cluster().start();
    assert_eq!(f.auth("only-a", &holder.name, &pass).auth(), "PAM_SUCCESS");
    f.check_no_secrets();
    // One syslog line per refused login, and not libpq's message with its own line breaks in it.
    assert_eq!(lines.len(), 2, "one line per refused login: {lines:#?}");
    assert!(!lines.iter().any(|l| l.trim_end().contains('\n')), "{lines:#?}");
}

#[test]
fn a_server_that_never_answers_costs_a_pass_login_connect_timeout_and_a_password_login_nothing() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = fleet("");
    let plain = User::with_password(OWN);
    let holder = User::new();
    let pass = f.issue_keeping(&holder.name, &["--reusable"]).pass;
    let (up_us, _) = timed(&f, "full-a", &plain.name, OWN);
    // A listener nobody accepts from: the kernel completes the handshake, then nothing answers,
    // as with a hung server or a black-holed route.
    let stall = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = stall.local_addr().unwrap().port();
    let uri = format!(
        "postgresql://host_a:x@127.0.0.1:{port}/{}?sslmode=verify-full&sslrootcert={}&connect_timeout=2",
        f.database(),
        f.cluster().ca().display()
    );
    f.write_host_config("a", &uri, "host_name = \"host-a\"");
    let t = Instant::now();
    let r = f.auth("only-a", &holder.name, &pass);
    let pass_ms = t.elapsed().as_millis();
    assert_eq!(r.auth(), "PAM_AUTHINFO_UNAVAIL", "{r:?}");
    let (stalled_us, codes) = timed(&f, "full-a", &plain.name, OWN);
    assert_eq!(codes, format!("{{\"PAM_SUCCESS\": {LOGINS}}}"));
    figure(
        "fleet_stalled_server",
        &format!(
            "connect_timeout=2s pass_login_ms={pass_ms} password_login_median_us server_up={up_us:.0} \
             server_stalled={stalled_us:.0}"
        ),
    );
    // Bounded by connect_timeout (libpq waits up to it per address; one address here).
    assert!((1500..4500).contains(&pass_ms), "pass login took {pass_ms} ms");
    // Never touched: a password login that waited on the store would take 2 s.
    assert!(
        stalled_us < 1_000_000.0,
        "password login took {stalled_us:.0} us with the store stalled"
    );
    drop(stall);
}
