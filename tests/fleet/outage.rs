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
    // A stopped server refuses the connection at once; connect_timeout (5 s) is the bound.
    server_stopped(&f, 5_000, "fleet_outage");
}

/// On fleet `f` (whose cluster is its own): password logins timed with the server up, then
/// stopped; a pass login refused (PAM_AUTHINFO_UNAVAIL, one syslog line, within `bound_ms`) on
/// host-a and host-c while it is down, and accepted once it is back. Recorded as figure `name`.
pub(crate) fn server_stopped(f: &Site, bound_ms: u128, name: &str) {
    let plain = User::with_password(OWN);
    let holder = User::with_password(OWN);
    let pass = f.issue_keeping(&holder.name, &["--reusable"]).pass;

    let (up_us, up_codes) = timed(f, "full-a", &plain.name, OWN);
    assert_eq!(up_codes, format!("{{\"PAM_SUCCESS\": {LOGINS}}}"));
    f.cluster().stop("fast");
    f.log.clear();
    let mut refused_ms = vec![];
    for x in ["a", "c"] {
        let t = Instant::now();
        let r = f.auth(&format!("only-{x}"), &holder.name, &pass);
        refused_ms.push(t.elapsed().as_millis());
        assert_eq!(r.auth(), "PAM_AUTHINFO_UNAVAIL", "host-{x}: {r:?}");
    }
    let lines = f.log.settled_lines();
    let (down_us, down_codes) = timed(f, "full-a", &plain.name, OWN);
    // The pass holder's own password works too: it is not pass-shaped, the store is not asked.
    let own = f.pam_on("full-b", &holder.name, &["authenticate", "acct_mgmt"], &[OWN]);
    assert_eq!(own.result("authenticate"), "PAM_SUCCESS", "{}", own.stdout);
    figure(
        name,
        &format!(
            "password_login_median_us server_up={up_us:.0} server_down={down_us:.0} ratio={:.2} \
             pass_login=PAM_AUTHINFO_UNAVAIL pass_login_ms={refused_ms:?} syslog_lines_per_refusal={:.1}",
            down_us / up_us,
            lines.len() as f64 / 2.0
        ),
    );
    assert_eq!(down_codes, format!("{{\"PAM_SUCCESS\": {LOGINS}}}"));
    assert!(refused_ms.iter().all(|&ms| ms < bound_ms), "{refused_ms:?} ms");
    f.cluster().start();
    if let Some(p) = f.pooler() {
        p.wait_for_server(f.database());
    }
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
    // A listener nobody accepts from: the kernel completes the handshake, then nothing answers,
    // as with a hung server or a black-holed route. Bounded by connect_timeout (libpq waits up to
    // it per address; one address here).
    let stall = |f: &Site| -> Box<dyn std::any::Any> {
        let stall = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = stall.local_addr().unwrap().port();
        let uri = format!(
            "postgresql://host_a:x@127.0.0.1:{port}/{}?sslmode=verify-full&sslrootcert={}&connect_timeout=2",
            f.database(),
            f.cluster().ca().display()
        );
        f.write_host_config("a", &uri, "host_name = \"host-a\"");
        Box::new(stall)
    };
    server_never_answers(&f, stall, 1500..4500, "fleet_stalled_server");
}

/// On fleet `f`: after `hang` (which returns what keeps the server hung, until dropped), a pass
/// login on host-a is refused (PAM_AUTHINFO_UNAVAIL) after a time within `bound_ms`, and password
/// logins cost what they did before (they never reach the store). Recorded as figure `name`.
pub(crate) fn server_never_answers(
    f: &Site,
    hang: impl FnOnce(&Site) -> Box<dyn std::any::Any>,
    bound_ms: std::ops::Range<u128>,
    name: &str,
) {
    let plain = User::with_password(OWN);
    let holder = User::new();
    let pass = f.issue_keeping(&holder.name, &["--reusable"]).pass;
    let (up_us, _) = timed(f, "full-a", &plain.name, OWN);
    let hung = hang(f);
    let t = Instant::now();
    let r = f.auth("only-a", &holder.name, &pass);
    let pass_ms = t.elapsed().as_millis();
    assert_eq!(r.auth(), "PAM_AUTHINFO_UNAVAIL", "{r:?}");
    let (stalled_us, codes) = timed(f, "full-a", &plain.name, OWN);
    drop(hung);
    assert_eq!(codes, format!("{{\"PAM_SUCCESS\": {LOGINS}}}"));
    figure(
        name,
        &format!(
            "pass_login_ms={pass_ms} password_login_median_us server_up={up_us:.0} \
             server_stalled={stalled_us:.0}"
        ),
    );
    assert!(
        bound_ms.contains(&pass_ms),
        "pass login took {pass_ms} ms, not in {bound_ms:?}"
    );
    // Never touched: a password login that waited on the store would take seconds.
    assert!(
        stalled_us < 1_000_000.0,
        "password login took {stalled_us:.0} us with the store stalled"
    );
}
