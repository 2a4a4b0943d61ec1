//! The test cluster is what the fleet tests assume: TLS verified, scram logins, both URI forms.

use crate::support::pg_cluster::{psql_uri, PgCluster, ROLES};

#[test]
fn the_cluster_speaks_tls_and_scram_on_both_transports() {
    require_root!();
    let c = PgCluster::shared();
    let db = c.new_database();
    for role in ROLES {
        let out = psql_uri(
            &c.uri(role, &db),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        );
        assert!(out.status.success(), "{role}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t", "{role} over TLS");
        let out = psql_uri(&c.socket_uri(role, &db), "SELECT current_user");
        assert!(out.status.success(), "{role}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), role);
    }
    // A wrong password is refused: scram is really asked for.
    let wrong = c.uri("host_a", &db).replace(c.password("host_a"), "not-the-password");
    let out = psql_uri(&wrong, "SELECT 1");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password authentication failed"));
    // verify-full checks the name: the certificate does not name 127.0.0.2.
    let out = psql_uri(&c.uri_at("host_a", &db, "127.0.0.2"), "SELECT 1");
    assert!(
        !out.status.success(),
        "verify-full accepted a name the certificate lacks"
    );
}

#[test]
fn a_private_cluster_starts_from_the_template_and_dies_with_its_value() {
    require_root!();
    let c = PgCluster::private(&[]);
    let first = c.start_ms.load(std::sync::atomic::Ordering::SeqCst);
    c.stop_immediate();
    c.start();
    let again = c.start_ms.load(std::sync::atomic::Ordering::SeqCst);
    println!("FIGURE pg_cluster_start: copy_start_ms={first} restart_after_immediate_stop_ms={again}");
    let pid: i32 = std::fs::read_to_string(c.root.join("data/postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let root = c.root.clone();
    drop(c);
    // SAFETY: probing a pid with signal 0.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the server outlived its cluster");
    assert!(!root.exists());
}
