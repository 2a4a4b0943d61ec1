//! `tapctl doctor` on a host's config against a real primary and standby: its `failover` check
//! reads the server's replication as the host's own role sees it.

use std::path::Path;

use serde_json::Value;

use crate::site::fleet_on;
use crate::support::pg_cluster::Pair;
use crate::support::site::{stderr, stdout, Cluster, Site};

/// The `failover` check of `tapctl doctor --json` run as root on `config`.
fn failover_check(f: &Site, config: &Path) -> Value {
    let out = f.tapctl_on(config, &["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor printed {:?} ({e}): {}", stdout(&out), stderr(&out)));
    report["checks"]
        .as_array()
        .expect("a list of checks")
        .iter()
        .find(|c| c["check"] == "failover")
        .cloned()
        .unwrap_or_else(|| panic!("no failover check: {report}"))
}

/// The check's status is `status` and its message holds `needle`.
#[track_caller]
fn says(check: &Value, status: &str, needle: &str) {
    assert_eq!(check["status"], status, "{check}");
    let message = check["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {check}");
}

#[test]
fn doctor_warns_of_an_asynchronous_standby_passes_a_synchronous_one_and_fails_a_standby_alone() {
    require_root!();
    let f = fleet_on(Cluster::Pair(Pair::new(false)), "");
    let host = |x: &str| f.host_config(x);
    says(&failover_check(&f, &host("a")), "warn", "used again");
    // host-c's URI lists both servers' sockets: the same server, the same finding.
    says(&failover_check(&f, &host("c")), "warn", "asynchronously");
    f.pair().make_synchronous();
    says(&failover_check(&f, &host("a")), "ok", "synchronous standby");
    // A config naming the standby alone: every login with a pass would fail there.
    let standby_only = f.pair().standby().uri("host_b", f.database());
    f.write_host_config("b", &standby_only, "host_name = \"host-b\"\n");
    let alone = failover_check(&f, &host("b"));
    says(&alone, "fail", "standby");
    // Both servers listed, but without asking for the writable one.
    let any = f.store_uri("host_b").replace("&target_session_attrs=read-write", "");
    assert_ne!(any, f.store_uri("host_b"));
    f.write_host_config("b", &any, "host_name = \"host-b\"\n");
    says(
        &failover_check(&f, &host("b")),
        "warn",
        "target_session_attrs=read-write",
    );
    println!("doctor on a host naming only the standby: {alone}");
}
