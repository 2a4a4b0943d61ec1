//! The rules against the libpq installed here (Debian's libpq5), without a server: what its option
//! table says about environment variables, and connections refused before any packet is sent.

use std::collections::BTreeMap;
use std::path::Path;

use super::environ::{connect_options, Identity};
use super::libpq::{api, take_options};
use super::{ConnRole, PgConn};
use crate::database::Conninfo;
use pam_tap_base::error::Error;

#[test]
fn no_variable_of_the_installed_libpq_can_choose_an_option() {
    let api = api().expect("libpq5 is installed (make deps)");
    let known = unsafe { take_options(api, (api.PQconndefaults)()) };
    let vars: Vec<(&str, &str)> = known
        .iter()
        .filter_map(|o| o.envvar.as_deref().map(|v| (v, o.keyword.as_str())))
        .collect();
    assert!(vars.len() >= 20, "libpq names {} variables", vars.len());
    assert!(vars.contains(&("PGHOST", "host")) && vars.contains(&("PGSSLMODE", "sslmode")));
    let id = Identity {
        user: "root",
        home: Path::new("/root"),
    };
    let uri: BTreeMap<String, String> = [("host".to_string(), "/var/run/postgresql".to_string())].into();
    const EVIL: &str = "/tmp/evil-42";
    for (var, keyword) in vars {
        let got = connect_options(&uri, &known, &|v| (v == var).then(|| EVIL.to_string()), &id, "pam_tap");
        match got {
            Ok(opts) => assert!(
                opts.get(keyword).is_some_and(|v| v != EVIL),
                "{var} is neither pinned nor refused: {keyword} = {:?}",
                opts.get(keyword)
            ),
            Err(msg) => assert!(msg.contains(var), "{msg}"),
        }
    }
}

fn connect(uri: &str) -> Result<PgConn, Error> {
    PgConn::connect(&Conninfo::new(uri).unwrap(), ConnRole::Host)
}

#[test]
fn a_remote_store_without_verified_tls_is_refused_before_connecting() {
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, so a refusal that comes back at once was
    // made before any packet left.
    for (uri, needle) in [
        ("postgresql://192.0.2.1/pam_tap", "sslmode=verify-full"),
        ("postgresql://192.0.2.1/pam_tap?sslmode=require", "sslmode=verify-full"),
        ("postgresql://192.0.2.1/pam_tap?sslmode=verify-full", "sslrootcert"),
        ("postgresql://localhost,192.0.2.1/pam_tap", "192.0.2.1"),
        (
            "postgresql:///pam_tap?host=/var/run/postgresql&hostaddr=192.0.2.1",
            "192.0.2.1",
        ),
    ] {
        let started = std::time::Instant::now();
        match connect(uri) {
            Err(Error::UnsafeConnection(m)) => assert!(m.contains(needle), "{uri}: {m}"),
            Err(e) => panic!("{uri}: {e}"),
            Ok(_) => panic!("{uri} connected"),
        }
        assert!(started.elapsed().as_secs() < 2, "{uri} waited for the network");
    }
}

#[test]
fn verify_ca_and_relative_or_unsupported_files_are_refused_before_connecting() {
    let api = api().expect("libpq5 is installed (make deps)");
    let version = unsafe { (api.PQlibVersion)() };
    let ca = "sslrootcert=/etc/ssl/certs/ca-certificates.crt";
    let mut cases = vec![
        (
            format!("postgresql://192.0.2.1/pam_tap?sslmode=verify-ca&{ca}"),
            "verify-ca",
        ),
        (
            "postgresql://192.0.2.1/pam_tap?sslmode=verify-full&sslrootcert=ca.pem".into(),
            "sslrootcert must be an absolute path",
        ),
        (
            "postgresql:///pam_tap?host=/var/run/postgresql&passfile=pgpass".into(),
            "passfile must be an absolute path",
        ),
        (
            format!("postgresql://192.0.2.1/pam_tap?sslmode=verify-full&{ca}&sslcrl=crl.pem"),
            "sslcrl must be",
        ),
    ];
    if version < 160_000 {
        // libpq 15 would open ./system: under su, a file in the caller's directory.
        cases.push((
            "postgresql://192.0.2.1/pam_tap?sslmode=verify-full&sslrootcert=system".into(),
            "libpq 16",
        ));
    }
    for (uri, needle) in &cases {
        let started = std::time::Instant::now();
        match connect(uri) {
            Err(Error::UnsafeConnection(m)) => assert!(m.contains(needle), "{uri}: {m}"),
            Err(e) => panic!("{uri}: {e}"),
            Ok(_) => panic!("{uri} connected"),
        }
        assert!(started.elapsed().as_secs() < 2, "{uri} waited for the network");
    }
}

#[test]
fn a_password_libpq_reads_past_a_question_mark_is_not_in_the_connect_error() {
    let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    drop(sock);
    for uri in [
        format!("postgresql://host_a:Xy9?Qz#7@127.0.0.1:{port}/pam_tap"),
        format!("postgresql://host_a@127.0.0.1:{port}/pam_tap?%70assword=Hunter22"),
    ] {
        match connect(&uri) {
            Err(Error::Store(m)) => {
                assert!(m.contains("cannot connect") && m.contains("password=***"), "{m}");
                for piece in ["Xy9", "Qz", "#7", "Hunter22"] {
                    assert!(!m.contains(piece), "{piece} in {m}");
                }
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("connected to a closed port"),
        }
    }
}

#[test]
fn a_store_that_is_not_there_is_a_store_error_not_a_hang() {
    // A loopback port nobody listens on (bound, never listened): refused at once.
    let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    drop(sock);
    match connect(&format!("postgresql://127.0.0.1:{port}/pam_tap?user=host_a")) {
        Err(Error::Store(m)) => assert!(m.contains("cannot connect"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("connected to a closed port"),
    }
}

#[test]
fn a_password_in_an_unparsable_uri_is_not_repeated() {
    match connect("postgresql://tap:s3cret@db/pam_tap?bogus_option=1") {
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains("s3cret") && m.contains("cannot parse"), "{m}");
            assert!(matches!(e, Error::Config(_)), "{e:?}");
        }
        Ok(_) => panic!("connected"),
    }
}

#[test]
fn a_uri_listing_a_primary_and_its_standby_is_tried_server_by_server() {
    // Two loopback ports nobody listens on, and two socket directories that do not exist: the
    // rules let libpq try every listed server, and each refuses at once.
    let closed = || {
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        sock.local_addr().unwrap().port()
    };
    let (p, q) = (closed(), closed());
    for uri in [
        format!("postgresql://host_a@127.0.0.1:{p},127.0.0.1:{q}/pam_tap?target_session_attrs=read-write"),
        format!(
            "postgresql://host_a@/pam_tap?host=/nonexistent/a,/nonexistent/b&port={p},{q}&target_session_attrs=read-write"
        ),
    ] {
        match connect(&uri) {
            Err(Error::Store(m)) => assert!(
                m.contains("cannot connect") && m.contains("target_session_attrs=read-write"),
                "{m}"
            ),
            Err(e) => panic!("{uri}: {e}"),
            Ok(_) => panic!("{uri} connected"),
        }
    }
    // Off the machine, the list needs verified TLS as one server does (no packet sent to see it).
    let remote = "postgresql://host_a@db1.example:5432,db2.example:5433/pam_tap?target_session_attrs=read-write";
    match connect(remote) {
        Err(Error::UnsafeConnection(m)) => assert!(m.contains("sslmode=verify-full"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("connected"),
    }
    let verified = Conninfo::new(&format!("{remote}&sslmode=verify-full&sslrootcert=/etc/ca.pem")).unwrap();
    let opts: BTreeMap<String, String> = verified
        .options()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8(v.to_vec()).unwrap()))
        .collect();
    assert_eq!(opts["host"], "db1.example,db2.example");
    assert_eq!(opts["port"], "5432,5433");
    assert_eq!(super::transport::check_before(&opts, &opts, 150_018), Ok(()));
}
