//! No unverified network path to the store: a connection that is neither a Unix socket nor loopback
//! must verify the server and its name (sslmode=verify-full with an sslrootcert the URI names by
//! its absolute path; verify-ca checks no name), or the module refuses it with an ALERT line. Tried
//! against this machine's own non-loopback address, with the server listening there and willing to
//! serve even a plaintext connection: the refusal is the module's.

use crate::site::{fleet, fleet_on};
use crate::support::accounts::User;
use crate::support::figures::alerts;
use crate::support::pg_cluster::{non_loopback_ipv4, PgCluster};
use crate::support::site::Cluster;

#[test]
fn a_non_loopback_store_without_verified_tls_is_refused_with_an_alert() {
    require_root!();
    let Some(ip) = non_loopback_ipv4() else {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"\n!!!!!!!! SKIPPED transport rule: this machine has no non-loopback IPv4 address\n\n",
        );
        return;
    };
    let f = fleet_on(Cluster::Own(PgCluster::private(&[&ip])), "");
    let u = User::new();
    let pass = f.issue_keeping(&u.name, &["--reusable"]).pass;
    let (port, db, ca) = (f.cluster().port, f.database().to_string(), f.cluster().ca());
    let pw = f.cluster().password("host_a").to_string();
    let at = |host: &str, query: &str| format!("postgresql://host_a:{pw}@{host}:{port}/{db}?{query}");
    let host = "host_name = \"host-a\"";

    let verified = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    let refused = unverified_uris(&at, &ip, &verified);
    for (what, uri) in &refused {
        f.write_host_config("a", uri, host);
        f.log.clear();
        let r = f.auth("only-a", &u.name, &pass);
        let lines = f.log.settled_lines();
        assert_eq!(r.auth(), "PAM_AUTHINFO_UNAVAIL", "{what}: {r:?} {lines:#?}");
        assert_eq!(alerts(&lines).len(), 1, "{what}: one ALERT line: {lines:#?}");
    }
    // The server really serves that address, TLS or not: psql gets in where the module refused.
    for q in ["sslmode=disable", "sslmode=require"] {
        let out = crate::support::pg_cluster::psql_uri(&at(&ip, q), "SELECT 1");
        assert!(out.status.success(), "{q}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Verified: accepted. Loopback and the socket need no TLS.
    for (what, uri) in [
        ("verify-full", at(&ip, &verified)),
        ("loopback, no TLS", at("127.0.0.1", "sslmode=disable")),
        ("socket", f.cluster().socket_uri("host_a", f.database())),
    ] {
        f.write_host_config("a", &uri, host);
        f.log.clear();
        let r = f.auth("only-a", &u.name, &pass);
        assert_eq!(r.auth(), "PAM_SUCCESS", "{what}: {r:?} {:#?}", f.log.settled_lines());
    }
    // Nothing reached the store from the refused attempts: the uses are the accepted ones.
    assert_eq!(f.show(&u.name)["use_count"], 3);
    f.check_no_secrets();
}

/// URIs (made by `at(host, query)`) that reach the store at `ip` without verifying it: no or a
/// weak sslmode, verify-ca, a relative root certificate, a non-loopback address behind a loopback
/// name. `verified` is the query that does verify it.
fn unverified_uris(at: &dyn Fn(&str, &str) -> String, ip: &str, verified: &str) -> [(&'static str, String); 7] {
    [
        ("no sslmode", at(ip, "")),
        ("verify-ca", at(ip, &verified.replace("verify-full", "verify-ca"))),
        (
            "a relative sslrootcert",
            at(ip, "sslmode=verify-full&sslrootcert=ca.pem"),
        ),
        ("sslmode=disable", at(ip, "sslmode=disable")),
        ("sslmode=require", at(ip, "sslmode=require")),
        ("verify-full without sslrootcert", at(ip, "sslmode=verify-full")),
        (
            "hostaddr behind a loopback name",
            at("localhost", &format!("hostaddr={ip}&sslmode=require")),
        ),
    ]
}

#[test]
fn pg_environment_variables_of_the_caller_cannot_redirect_the_store() {
    require_root!();
    let Some(ip) = non_loopback_ipv4() else {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), b"\n!!!!!!!! SKIPPED: no non-loopback IPv4\n\n");
        return;
    };
    // su and sudo hand the module the caller's environment.
    let f = fleet("");
    let u = User::new();
    let pass = f.issue_keeping(&u.name, &["--reusable"]).pass;
    for (k, v) in [
        ("PGHOSTADDR", ip.as_str()),
        ("PGSSLMODE", "disable"),
        ("PGSSLROOTCERT", "/dev/null"),
        ("PGSSLCRL", "/nonexistent/crl.pem"),
        ("PGSERVICE", "nonexistent"),
        ("PGTARGETSESSIONATTRS", "standby"),
        ("PGOPTIONS", "-c default_transaction_read_only=on"),
    ] {
        let out = crate::support::drive::feed(
            {
                let mut c = f.drive_cmd("only-a", &u.name, &["authenticate"]);
                c.env(k, v);
                c
            },
            format!("{pass}\n").as_bytes(),
        );
        let r = crate::support::drive::Run::from_output(out);
        // Either pinned (the config's verified connection is used) or refused as unsafe, loudly.
        let lines = f.log.settled_lines();
        let ok = r.auth() == "PAM_SUCCESS" || (r.auth() == "PAM_AUTHINFO_UNAVAIL" && !alerts(&lines).is_empty());
        assert!(ok, "{k}={v}: {r:?} {lines:#?}");
        f.log.clear();
    }
}
