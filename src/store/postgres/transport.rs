//! The transport rule: a pass store reached over the network must be a verified one. A connection
//! that is not a Unix socket or loopback needs `sslmode=verify-full` or `verify-ca` and an
//! `sslrootcert` named in the URI (a file, or `system`), so an answer "this pass is valid" cannot
//! be forged on the wire. Checked on the options before connecting and on what libpq reports after.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// Whether libpq reaches this host (or hostaddr) value without leaving the machine.
pub fn is_local(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() || v.starts_with('/') || v.starts_with('@') {
        // Empty: libpq's default, the local socket directory; '@': an abstract Unix socket.
        return true;
    }
    if v.eq_ignore_ascii_case("localhost") || v.eq_ignore_ascii_case("localhost.") {
        return true;
    }
    match v.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
        Err(_) => false,
    }
}

fn list(opts: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    opts.get(key)
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default()
}

/// The endpoints the options name that are neither a Unix socket nor loopback: for each, the
/// address libpq would connect to (hostaddr wins over host, pair by pair).
pub fn remote_endpoints(opts: &BTreeMap<String, String>) -> Vec<String> {
    let hosts = list(opts, "host");
    let addrs = list(opts, "hostaddr");
    let n = hosts.len().max(addrs.len()).max(1);
    (0..n)
        .map(|i| {
            let addr = addrs.get(i).filter(|a| !a.is_empty());
            let host = hosts.get(i).or(if hosts.len() == 1 { hosts.first() } else { None });
            addr.or(host).cloned().unwrap_or_default()
        })
        .filter(|a| !is_local(a))
        .collect()
}

fn verifies(sslmode: Option<&str>) -> bool {
    matches!(sslmode, Some("verify-full" | "verify-ca"))
}

/// Before connecting: `uri` is what the config's URI names (not libpq's defaults), so the trust
/// anchor must be written there, not found in a home directory.
pub fn check_before(uri: &BTreeMap<String, String>, opts: &BTreeMap<String, String>) -> Result<(), String> {
    let remote = remote_endpoints(opts);
    let Some(first) = remote.first() else { return Ok(()) };
    if !verifies(opts.get("sslmode").map(String::as_str)) {
        return Err(format!(
            "{first} is not a Unix socket or loopback: the URI must say sslmode=verify-full (or verify-ca)"
        ));
    }
    if uri.get("sslrootcert").is_none_or(|v| v.trim().is_empty()) {
        return Err(format!(
            "{first} is not a Unix socket or loopback: the URI must name the CA in sslrootcert= (a file, or system)"
        ));
    }
    Ok(())
}

/// What libpq says about an established connection.
pub struct Established<'a> {
    /// `PQhost`: the host name, or the socket directory.
    pub host: &'a str,
    /// `PQhostaddr`: the numeric address of a TCP connection, "" otherwise.
    pub hostaddr: &'a str,
    pub ssl_in_use: bool,
    /// The connection's `sslmode` (`PQconninfo`).
    pub sslmode: Option<&'a str>,
    /// Whether the URI named `sslrootcert`.
    pub uri_names_rootcert: bool,
}

/// After connecting: the server actually reached was local, or TLS verified it.
pub fn check_after(c: &Established<'_>) -> Result<(), String> {
    let unix = (c.host.starts_with('/') || c.host.starts_with('@')) && c.hostaddr.is_empty();
    let addr = if c.hostaddr.is_empty() { c.host } else { c.hostaddr };
    if unix || is_local(addr) {
        return Ok(());
    }
    if !c.ssl_in_use || !verifies(c.sslmode) || !c.uri_names_rootcert {
        return Err(format!(
            "connected to {addr} without verified TLS (sslmode={}, TLS {}): refusing to trust its answers",
            c.sslmode.unwrap_or("?"),
            if c.ssl_in_use { "on" } else { "off" }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn before(pairs: &[(&str, &str)]) -> Result<(), String> {
        let o = m(pairs);
        check_before(&o, &o)
    }

    #[test]
    fn loopback_and_sockets_are_local_and_nothing_else() {
        for v in [
            "",
            "/var/run/postgresql",
            "@pg",
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_local(v), "{v}");
        }
        for v in [
            "db.example",
            "10.0.0.5",
            "128.0.0.1",
            "::2",
            "localhost.example",
            "0.0.0.0",
            "fe80::1",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_local(v), "{v}");
        }
    }

    #[test]
    fn a_local_store_needs_no_tls() {
        for pairs in [
            &[("host", "/var/run/postgresql")][..],
            &[("host", "localhost"), ("sslmode", "disable")],
            &[("host", "127.0.0.1"), ("port", "5433")],
            &[("host", "db.example"), ("hostaddr", "127.0.0.1")],
            &[],
        ] {
            assert_eq!(before(pairs), Ok(()), "{pairs:?}");
        }
    }

    #[test]
    fn a_remote_store_needs_verify_and_an_explicit_root_certificate() {
        let err = before(&[
            ("host", "db.example"),
            ("sslmode", "require"),
            ("sslrootcert", "/etc/ca.pem"),
        ])
        .unwrap_err();
        assert!(
            err.contains("sslmode=verify-full") && err.contains("db.example"),
            "{err}"
        );
        let err = before(&[("host", "db.example"), ("sslmode", "verify-full")]).unwrap_err();
        assert!(err.contains("sslrootcert"), "{err}");
        assert!(before(&[
            ("host", "db.example"),
            ("sslmode", "verify-full"),
            ("sslrootcert", "/etc/ca.pem")
        ])
        .is_ok());
        assert!(before(&[
            ("host", "db.example"),
            ("sslmode", "verify-ca"),
            ("sslrootcert", "system")
        ])
        .is_ok());
        // A root certificate pinned from the home directory is not one the URI names.
        let uri = m(&[("host", "db.example"), ("sslmode", "verify-full")]);
        let mut opts = uri.clone();
        opts.insert("sslrootcert".into(), "/root/.postgresql/root.crt".into());
        assert!(check_before(&uri, &opts).is_err());
        // hostaddr decides where libpq connects, whatever host says.
        let err = before(&[("host", "localhost"), ("hostaddr", "10.0.0.5")]).unwrap_err();
        assert!(err.contains("10.0.0.5"), "{err}");
    }

    #[test]
    fn one_remote_host_in_a_list_is_enough_to_need_verification() {
        let err = before(&[("host", "/var/run/postgresql,standby.example")]).unwrap_err();
        assert!(err.contains("standby.example"), "{err}");
        assert_eq!(
            remote_endpoints(&m(&[("host", "localhost,127.0.0.2")])),
            Vec::<String>::new()
        );
        assert_eq!(
            remote_endpoints(&m(&[("host", "a,b"), ("hostaddr", "127.0.0.1,10.1.1.1")])),
            vec!["10.1.1.1".to_string()]
        );
    }

    #[test]
    fn what_libpq_reports_after_connecting_is_checked_again() {
        let c = |host, hostaddr, ssl_in_use, sslmode, rootcert| Established {
            host,
            hostaddr,
            ssl_in_use,
            sslmode,
            uri_names_rootcert: rootcert,
        };
        assert!(check_after(&c("/var/run/postgresql", "", false, Some("prefer"), false)).is_ok());
        assert!(check_after(&c("localhost", "127.0.0.1", false, Some("prefer"), false)).is_ok());
        assert!(check_after(&c("localhost", "::1", false, Some("disable"), false)).is_ok());
        // A name that resolved off the machine.
        let err = check_after(&c("localhost", "10.0.0.9", false, Some("prefer"), false)).unwrap_err();
        assert!(err.contains("10.0.0.9"), "{err}");
        assert!(check_after(&c("db.example", "10.0.0.9", true, Some("verify-full"), true)).is_ok());
        assert!(check_after(&c("db.example", "10.0.0.9", false, Some("verify-full"), true)).is_err());
        assert!(check_after(&c("db.example", "10.0.0.9", true, Some("require"), true)).is_err());
        assert!(check_after(&c("db.example", "10.0.0.9", true, Some("verify-full"), false)).is_err());
    }
}
