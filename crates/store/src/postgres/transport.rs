//! The transport rule: a pass store reached over the network must be a verified one. A connection
//! that is not a Unix socket or loopback needs `sslmode=verify-full` (verify-ca checks the CA but
//! not the server's name, so any certificate that CA ever signed would do) and an `sslrootcert`
//! named in the URI, so an answer "this pass is valid" cannot be forged on the wire. Every file an
//! option of the URI names must be an absolute path, local store or not: libpq opens a relative
//! one from the current directory, which under `su` is the caller's. Checked on the options
//! before connecting and on what libpq reports after.

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

/// libpq 15's options that name a file (a socket directory in `host` is always absolute).
pub const FILE_OPTIONS: [&str; 6] = ["passfile", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir"];

/// The first libpq (`PQlibVersion`) that reads `sslrootcert=system` as the system's trust store;
/// libpq 15 (Debian 12) opens a file named `system` in the current directory.
pub const SYSTEM_ROOTCERT_SINCE: i32 = 160_000;

fn verifies(sslmode: Option<&str>) -> bool {
    sslmode == Some("verify-full")
}

/// Every file the URI names is an absolute path (an empty value is libpq's "unset"). Part of
/// [`check_before`]; also run on its own first, as a fault of the URI itself.
pub fn check_files(uri: &BTreeMap<String, String>, libpq_version: i32) -> Result<(), String> {
    for key in FILE_OPTIONS {
        let Some(value) = uri.get(key).filter(|v| !v.is_empty()) else {
            continue;
        };
        if key == "sslrootcert" && value == "system" {
            if libpq_version >= SYSTEM_ROOTCERT_SINCE {
                continue;
            }
            return Err(format!(
                "sslrootcert=system needs libpq 16 or later; the libpq loaded here ({libpq_version}) would read a \
                 file named `system` in the current directory: name the CA file by its absolute path"
            ));
        }
        if !value.starts_with('/') {
            return Err(format!(
                "{key} must be an absolute path: libpq would open it from the current directory of the \
                 calling process (the caller's, under su)"
            ));
        }
    }
    Ok(())
}

/// Before connecting: `uri` is what the config's URI names (not libpq's defaults), so the trust
/// anchor must be written there, not found in a home directory. `libpq_version` is the loaded
/// libpq's `PQlibVersion`.
pub fn check_before(
    uri: &BTreeMap<String, String>,
    opts: &BTreeMap<String, String>,
    libpq_version: i32,
) -> Result<(), String> {
    check_files(uri, libpq_version)?;
    let remote = remote_endpoints(opts);
    let Some(first) = remote.first() else { return Ok(()) };
    match opts.get("sslmode").map(String::as_str) {
        Some("verify-full") => {}
        Some("verify-ca") => {
            return Err(format!(
                "{first} is not a Unix socket or loopback: sslmode=verify-ca does not check the server's \
                 name, the URI must say sslmode=verify-full"
            ))
        }
        _ => {
            return Err(format!(
                "{first} is not a Unix socket or loopback: the URI must say sslmode=verify-full"
            ))
        }
    }
    if uri.get("sslrootcert").is_none_or(|v| v.trim().is_empty()) {
        return Err(format!(
            "{first} is not a Unix socket or loopback: the URI must name the CA in sslrootcert= (an \
             absolute path)"
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

    /// Debian 12's libpq.
    const LIBPQ_15: i32 = 150_018;
    const LIBPQ_16: i32 = 160_004;

    fn before(pairs: &[(&str, &str)]) -> Result<(), String> {
        let o = m(pairs);
        check_before(&o, &o, LIBPQ_15)
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
        // A root certificate pinned from the home directory is not one the URI names.
        let uri = m(&[("host", "db.example"), ("sslmode", "verify-full")]);
        let mut opts = uri.clone();
        opts.insert("sslrootcert".into(), "/root/.postgresql/root.crt".into());
        assert!(check_before(&uri, &opts, LIBPQ_15).is_err());
        // hostaddr decides where libpq connects, whatever host says.
        let err = before(&[("host", "localhost"), ("hostaddr", "10.0.0.5")]).unwrap_err();
        assert!(err.contains("10.0.0.5"), "{err}");
    }

    #[test]
    fn verify_ca_does_not_check_the_name_and_is_refused() {
        let err = before(&[
            ("host", "db.example"),
            ("sslmode", "verify-ca"),
            ("sslrootcert", "/etc/ca.pem"),
        ])
        .unwrap_err();
        assert!(
            err.contains("verify-ca") && err.contains("name") && err.contains("sslmode=verify-full"),
            "{err}"
        );
        // Loopback and sockets need no TLS at all, so any sslmode is theirs to choose.
        assert!(before(&[("host", "127.0.0.1"), ("sslmode", "verify-ca")]).is_ok());
    }

    #[test]
    fn a_relative_root_certificate_is_refused() {
        let err = before(&[
            ("host", "db.example"),
            ("sslmode", "verify-full"),
            ("sslrootcert", "ca.pem"),
        ])
        .unwrap_err();
        assert!(err.contains("sslrootcert must be an absolute path"), "{err}");
        assert!(before(&[
            ("host", "db.example"),
            ("sslmode", "verify-full"),
            ("sslrootcert", "./ca.pem")
        ])
        .is_err());
    }

    #[test]
    fn sslrootcert_system_needs_a_libpq_that_knows_it() {
        let sys = m(&[
            ("host", "db.example"),
            ("sslmode", "verify-full"),
            ("sslrootcert", "system"),
        ]);
        let err = check_before(&sys, &sys, LIBPQ_15).unwrap_err();
        assert!(err.contains("sslrootcert=system") && err.contains("150018"), "{err}");
        assert_eq!(check_before(&sys, &sys, LIBPQ_16), Ok(()));
        // Only the exact word: libpq 16 opens `System` as a file too.
        let other = m(&[
            ("host", "db.example"),
            ("sslmode", "verify-full"),
            ("sslrootcert", "System"),
        ]);
        assert!(check_before(&other, &other, LIBPQ_16).is_err());
        // A local store with it is refused on libpq 15 too: it names a relative file there.
        let local = m(&[("host", "/var/run/postgresql"), ("sslrootcert", "system")]);
        assert!(check_before(&local, &local, LIBPQ_15).is_err());
    }

    #[test]
    fn every_file_the_uri_names_is_absolute_even_for_a_local_store() {
        for key in FILE_OPTIONS {
            for host in ["/var/run/postgresql", "db.example"] {
                let mut o = m(&[
                    ("host", host),
                    ("sslmode", "verify-full"),
                    ("sslrootcert", "/etc/ca.pem"),
                ]);
                o.insert(key.into(), "certs/file".into());
                let err = check_before(&o, &o, LIBPQ_16).unwrap_err();
                assert!(err.starts_with(&format!("{key} must be an absolute path")), "{err}");
                assert!(!err.contains("certs/file"), "{err}");
                o.insert(key.into(), "/etc/pam_tap/file".into());
                assert_eq!(check_before(&o, &o, LIBPQ_15), Ok(()), "{key} {host}");
                // Empty is libpq's "not given": its default, from the effective user's home.
                o.insert(key.into(), String::new());
                let pinned = check_before(&o, &o, LIBPQ_15);
                assert!(
                    (key == "sslrootcert" && host == "db.example") || pinned.is_ok(),
                    "{key} {host}: {pinned:?}"
                );
            }
        }
        for key in FILE_OPTIONS {
            assert!(crate::conninfo::KEYWORDS.contains(&key), "{key}");
        }
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
        assert!(check_after(&c("db.example", "10.0.0.9", true, Some("verify-ca"), true)).is_err());
    }
}
