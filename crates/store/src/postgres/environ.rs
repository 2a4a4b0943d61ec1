//! The environment libpq would read. In `su`, `sudo` or `pkexec` the PAM module runs with the
//! caller's environment, and libpq takes any option the connection string leaves out from a PG*
//! variable (PGHOST, PGSSLMODE, PGSERVICE…) or from the home directory: a caller could point the
//! module at a server of their own. So every option that has a variable is given explicitly —
//! the URI's value, else libpq's own default, else a fixed value — and a variable that would still
//! take effect (an option with no safe explicit value, or a variable libpq reads besides the
//! options) refuses the connection. Pure: the caller passes libpq's option table and the getenv.

use std::collections::BTreeMap;
use std::path::Path;

use super::libpq::OptionInfo;

/// libpq's socket directory on Debian (its `DEFAULT_PGSOCKET_DIR`).
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
/// Seconds a login waits for the server at most, unless the URI says otherwise.
pub const CONNECT_TIMEOUT: &str = "5";

/// Variables libpq reads that are not an option's: each refuses the connection when set.
const OTHER_VARIABLES: &[&str] = &["PGLOCALEDIR", "PGTZ", "PGDATESTYLE", "PGGEQO"];
/// Variables that choose where a named service is read from.
const SERVICE_FILE_VARIABLES: &[&str] = &["PGSERVICEFILE", "PGSYSCONFDIR"];
/// OpenSSL's trust store variables, read when `sslrootcert=system`.
const SYSTEM_TRUST_VARIABLES: &[&str] = &["SSL_CERT_FILE", "SSL_CERT_DIR"];

/// Whose defaults libpq would use: the effective user (not `$HOME`, not `$USER`).
pub struct Identity<'a> {
    pub user: &'a str,
    pub home: &'a Path,
}

/// The explicit value pam_tap gives an option the URI leaves out, if it has one.
fn fixed_value(keyword: &str, uri: &BTreeMap<String, String>, id: &Identity<'_>, app: &str) -> Option<String> {
    let home = |rel: &str| id.home.join(rel).to_string_lossy().into_owned();
    Some(match keyword {
        "connect_timeout" => CONNECT_TIMEOUT.into(),
        // No Kerberos ticket exchange before TLS: the store is reached over TLS or a local socket.
        "gssencmode" => "disable".into(),
        "application_name" => app.into(),
        "client_encoding" => "UTF8".into(),
        "user" => id.user.into(),
        "dbname" => uri.get("user").map_or(id.user, String::as_str).into(),
        "host" if !uri.contains_key("hostaddr") => DEFAULT_SOCKET_DIR.into(),
        "passfile" => home(".pgpass"),
        "sslcert" => home(".postgresql/postgresql.crt"),
        "sslkey" => home(".postgresql/postgresql.key"),
        "sslrootcert" => home(".postgresql/root.crt"),
        "sslcrl" => home(".postgresql/root.crl"),
        _ => return None,
    })
}

/// Options without a variable that pam_tap still sets when the URI does not: a server that stops
/// answering mid-login is given up after about ten seconds instead of stalling the login.
const TRANSPORT_DEFAULTS: &[(&str, &str)] = &[
    ("keepalives", "1"),
    ("keepalives_idle", "5"),
    ("keepalives_interval", "2"),
    ("keepalives_count", "2"),
    ("tcp_user_timeout", "10000"),
];

/// The options to connect with: the URI's, plus an explicit value for every option libpq would
/// otherwise take from the environment or the home directory. `Err` says which variable would
/// still take effect.
pub fn connect_options(
    uri: &BTreeMap<String, String>,
    known: &[OptionInfo],
    getenv: &dyn Fn(&str) -> Option<String>,
    id: &Identity<'_>,
    app: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = uri.clone();
    for opt in known {
        if uri.contains_key(&opt.keyword) {
            continue;
        }
        if let Some((_, v)) = TRANSPORT_DEFAULTS.iter().find(|(k, _)| *k == opt.keyword) {
            out.insert(opt.keyword.clone(), v.to_string());
        }
        let Some(var) = &opt.envvar else { continue };
        // libpq ignores an empty explicit value, so only a non-empty one pins.
        let pinned = fixed_value(&opt.keyword, uri, id, app).or_else(|| opt.compiled.clone().filter(|c| !c.is_empty()));
        match pinned {
            Some(v) => {
                out.insert(opt.keyword.clone(), v);
            }
            None if getenv(var).is_some() => {
                return Err(format!(
                    "{var} is set in the environment and would choose the connection's `{}`: name `{}` in the database URI, or unset {var}",
                    opt.keyword, opt.keyword
                ))
            }
            None => {}
        }
    }
    for var in OTHER_VARIABLES {
        if getenv(var).is_some() {
            return Err(format!(
                "{var} is set in the environment and libpq would use it: unset it"
            ));
        }
    }
    if uri.contains_key("service") {
        if let Some(var) = SERVICE_FILE_VARIABLES.iter().find(|v| getenv(v).is_some()) {
            return Err(format!(
                "{var} is set in the environment and would choose where the URI's service is read from: unset it"
            ));
        }
    }
    if uri.get("sslrootcert").is_some_and(|v| v == "system") {
        if let Some(var) = SYSTEM_TRUST_VARIABLES.iter().find(|v| getenv(v).is_some()) {
            return Err(format!(
                "{var} is set in the environment and would replace the system's trusted certificates (sslrootcert=system): unset it"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(keyword: &str, envvar: Option<&str>, compiled: Option<&str>) -> OptionInfo {
        OptionInfo {
            keyword: keyword.into(),
            envvar: envvar.map(str::to_string),
            compiled: compiled.map(str::to_string),
            val: None,
        }
    }

    /// A part of libpq 15's option table, as PQconndefaults gives it.
    fn table() -> Vec<OptionInfo> {
        vec![
            opt("service", Some("PGSERVICE"), None),
            opt("user", Some("PGUSER"), None),
            opt("password", Some("PGPASSWORD"), None),
            opt("passfile", Some("PGPASSFILE"), None),
            opt("connect_timeout", Some("PGCONNECT_TIMEOUT"), None),
            opt("dbname", Some("PGDATABASE"), None),
            opt("host", Some("PGHOST"), None),
            opt("hostaddr", Some("PGHOSTADDR"), None),
            opt("port", Some("PGPORT"), Some("5432")),
            opt("options", Some("PGOPTIONS"), Some("")),
            opt("sslmode", Some("PGSSLMODE"), Some("prefer")),
            opt("sslrootcert", Some("PGSSLROOTCERT"), None),
            opt("gssencmode", Some("PGGSSENCMODE"), Some("prefer")),
            opt("requirepeer", Some("PGREQUIREPEER"), None),
            opt("keepalives", None, None),
            opt("sslpassword", None, None),
        ]
    }

    fn uri(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn run(u: &[(&str, &str)], env: &[(&str, &str)]) -> Result<BTreeMap<String, String>, String> {
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let id = Identity {
            user: "root",
            home: Path::new("/root"),
        };
        connect_options(&uri(u), &table(), &|v| env.get(v).cloned(), &id, "pam_tap")
    }

    #[test]
    fn every_option_with_a_variable_is_pinned_and_the_uri_wins() {
        let hostile = [
            ("PGHOST", "evil.example"),
            ("PGPORT", "6666"),
            ("PGSSLMODE", "allow"),
            ("PGSSLROOTCERT", "/tmp/evil-ca.pem"),
            ("PGUSER", "mallory"),
            ("PGDATABASE", "evil"),
            ("PGPASSFILE", "/tmp/pgpass"),
            ("PGCONNECT_TIMEOUT", "3600"),
            ("PGGSSENCMODE", "require"),
        ];
        let got = run(
            &[("host", "db.example"), ("user", "host_a"), ("sslmode", "verify-full")],
            &hostile,
        )
        .unwrap();
        assert_eq!(got["host"], "db.example");
        assert_eq!(got["user"], "host_a");
        assert_eq!(got["dbname"], "host_a", "libpq's default database is the user's name");
        assert_eq!(got["sslmode"], "verify-full");
        assert_eq!(got["port"], "5432");
        assert_eq!(got["sslrootcert"], "/root/.postgresql/root.crt");
        assert_eq!(got["passfile"], "/root/.pgpass");
        assert_eq!(got["connect_timeout"], CONNECT_TIMEOUT);
        assert_eq!(got["gssencmode"], "disable");
        assert_eq!(got["keepalives"], "1");
        assert!(!got.contains_key("sslpassword"));
        for (_, evil) in hostile {
            assert!(!got.values().any(|v| v == evil), "{evil} leaked into {got:?}");
        }
    }

    #[test]
    fn no_host_in_the_uri_means_the_local_socket_not_pghost() {
        let got = run(&[("dbname", "pam_tap")], &[("PGHOST", "evil.example")]).unwrap();
        assert_eq!(got["host"], DEFAULT_SOCKET_DIR);
    }

    #[test]
    fn a_variable_with_no_safe_value_refuses() {
        for (var, kw) in [
            ("PGSERVICE", "service"),
            ("PGPASSWORD", "password"),
            ("PGOPTIONS", "options"),
            ("PGHOSTADDR", "hostaddr"),
            ("PGREQUIREPEER", "requirepeer"),
        ] {
            let err = run(&[("host", "/run/postgresql")], &[(var, "x")]).unwrap_err();
            assert!(err.contains(var) && err.contains(&format!("`{kw}`")), "{err}");
            // Named in the URI, the variable no longer matters.
            assert!(run(&[("host", "/run/postgresql"), (kw, "y")], &[(var, "x")]).is_ok());
        }
        // PGHOST beside a URI that gives only hostaddr would name the host to verify.
        let err = run(&[("hostaddr", "10.0.0.5")], &[("PGHOST", "db.example")]).unwrap_err();
        assert!(err.contains("PGHOST"), "{err}");
    }

    #[test]
    fn service_files_and_system_trust_variables_refuse_when_they_would_count() {
        let err = run(&[("service", "tap")], &[("PGSERVICEFILE", "/tmp/s.conf")]).unwrap_err();
        assert!(err.contains("PGSERVICEFILE"), "{err}");
        let err = run(&[("service", "tap")], &[("PGSYSCONFDIR", "/tmp")]).unwrap_err();
        assert!(err.contains("PGSYSCONFDIR"), "{err}");
        assert!(run(&[("host", "/run/postgresql")], &[("PGSERVICEFILE", "/tmp/s.conf")]).is_ok());
        let sys = [("host", "db"), ("sslmode", "verify-full"), ("sslrootcert", "system")];
        let err = run(&sys, &[("SSL_CERT_FILE", "/tmp/ca.pem")]).unwrap_err();
        assert!(err.contains("SSL_CERT_FILE"), "{err}");
        assert!(run(&sys, &[]).is_ok());
        let err = run(&[("host", "/run/postgresql")], &[("PGLOCALEDIR", "/tmp/po")]).unwrap_err();
        assert!(err.contains("PGLOCALEDIR"), "{err}");
    }
}
