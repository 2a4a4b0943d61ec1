//! The policy's `database`: a SQLite file (an absolute path) or a PostgreSQL store (a libpq
//! connection URI). The URI may hold a password, so it is never shown as written.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The longest host name (DNS's limit).
pub const MAX_HOST_NAME: usize = 253;

/// A host name as pam_tap stores it: 1..=253 of `[A-Za-z0-9.-]`.
pub fn check_host_name(name: &str) -> Result<String, String> {
    if name.is_empty()
        || name.len() > MAX_HOST_NAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(format!(
            "`{name}` is not a host name (1 to {MAX_HOST_NAME} letters, digits, dots and hyphens)"
        ));
    }
    Ok(name.to_string())
}

/// The kernel's node name (uname), the default `host_name`. One that is not a valid host name is
/// kept as it is: it matches no host scope, so scoped passes are refused there and others work.
pub fn node_name() -> String {
    // SAFETY: uname fills the zeroed struct; nodename is NUL-terminated within it.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return String::new();
        }
        std::ffi::CStr::from_ptr(u.nodename.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// Where the passes live.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Database {
    /// The local store: one file, one host.
    Sqlite(PathBuf),
    /// A fleet store on PostgreSQL.
    Postgres(Conninfo),
}

impl Database {
    /// Reads the config's `database`: a `postgresql://` or `postgres://` URI, else an absolute path.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if Conninfo::is_uri(text) {
            return Conninfo::new(text).map(Database::Postgres);
        }
        let path = PathBuf::from(text);
        if !path.is_absolute() {
            return Err(Error::Config(
                "database: must be an absolute path or a postgresql:// URI".into(),
            ));
        }
        Ok(Database::Sqlite(path))
    }

    /// The SQLite file, for the commands that work on the local store only; a PostgreSQL store is
    /// refused with a message that says so.
    pub fn sqlite_path(&self) -> Result<&Path, Error> {
        match self {
            Database::Sqlite(p) => Ok(p),
            Database::Postgres(c) => Err(Error::Refused(format!(
                "this command works on a SQLite store only; the config names {c}"
            ))),
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{}", p.display()),
            Database::Postgres(c) => c.fmt(f),
        }
    }
}

/// A libpq connection URI. Shown (Debug, Display, Serialize) with its passwords as `***`; only
/// [`Conninfo::expose`] gives the text libpq needs.
#[derive(Clone, PartialEq, Eq)]
pub struct Conninfo(String);

/// Longer URIs are refused: libpq needs nothing near this.
const MAX_URI: usize = 4096;

impl Conninfo {
    fn is_uri(text: &str) -> bool {
        text.starts_with("postgresql://") || text.starts_with("postgres://")
    }

    pub fn new(text: &str) -> Result<Self, Error> {
        if !Self::is_uri(text) {
            return Err(Error::Config(
                "database: a PostgreSQL store is a postgresql:// URI".into(),
            ));
        }
        if text.len() > MAX_URI || text.contains(['\0', '\n', '\r']) {
            return Err(Error::Config(format!(
                "database: the URI must be one line of at most {MAX_URI} bytes"
            )));
        }
        Ok(Conninfo(text.to_string()))
    }

    /// The URI as written, passwords included: for libpq only, never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URI with the password of its user part and every `…password=` value replaced by `***`.
    pub fn redacted(&self) -> String {
        let s = &self.0;
        let scheme_end = s.find("://").map_or(0, |i| i + 3);
        let (head, rest) = s.split_at(scheme_end);
        // The authority ends at the first '/' or '?'; its user part at the last '@' in it.
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (auth, tail) = rest.split_at(auth_end);
        let auth = match auth.rfind('@') {
            Some(at) => match auth[..at].find(':') {
                Some(colon) => format!("{}:***{}", &auth[..colon], &auth[at..]),
                None => auth.to_string(),
            },
            None => auth.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let params: Vec<String> = query
                    .split('&')
                    .map(|p| match p.split_once('=') {
                        Some((k, _)) if k.to_ascii_lowercase().ends_with("password") => format!("{k}=***"),
                        _ => p.to_string(),
                    })
                    .collect();
                format!("{path}?{}", params.join("&"))
            }
            None => tail.to_string(),
        };
        format!("{head}{auth}{tail}")
    }
}

impl fmt::Display for Conninfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Conninfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conninfo({:?})", self.redacted())
    }
}

impl serde::Serialize for Conninfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(uri: &str) -> String {
        Conninfo::new(uri).unwrap().to_string()
    }

    #[test]
    fn passwords_never_show() {
        for (uri, want) in [
            (
                "postgresql://tap:s3cret@db.example/pam_tap",
                "postgresql://tap:***@db.example/pam_tap",
            ),
            (
                "postgres://tap:p%40ss@h1,h2:5433/pam_tap",
                "postgres://tap:***@h1,h2:5433/pam_tap",
            ),
            (
                "postgresql://db/pam_tap?user=tap&password=s3cret&sslmode=verify-full",
                "postgresql://db/pam_tap?user=tap&password=***&sslmode=verify-full",
            ),
            (
                "postgresql:///pam_tap?sslpassword=k3y",
                "postgresql:///pam_tap?sslpassword=***",
            ),
            ("postgresql://tap@db/pam_tap", "postgresql://tap@db/pam_tap"),
            ("postgresql://db?PASSWORD=x", "postgresql://db?PASSWORD=***"),
        ] {
            assert_eq!(shown(uri), want);
            let c = Conninfo::new(uri).unwrap();
            for text in [
                format!("{c:?}"),
                serde_json::to_string(&c).unwrap(),
                format!("{:?}", Database::Postgres(c.clone())),
                serde_json::to_string(&Database::Postgres(c.clone())).unwrap(),
            ] {
                assert!(
                    !text.contains("s3cret") && !text.contains("k3y") && !text.contains("p%40ss"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn host_names() {
        for ok in ["ws-0421", "db1.example.org", "A", &"a".repeat(253)] {
            assert_eq!(check_host_name(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "ws_0421", "a b", "ws,0421", "ws*", &"a".repeat(254), "é"] {
            assert!(check_host_name(bad).is_err(), "{bad}");
        }
        assert!(!node_name().is_empty());
    }

    #[test]
    fn a_database_is_a_path_or_a_uri() {
        assert_eq!(
            Database::parse("/var/lib/pam_tap/tap.db").unwrap(),
            Database::Sqlite("/var/lib/pam_tap/tap.db".into())
        );
        assert!(matches!(
            Database::parse("postgres://db/pam_tap").unwrap(),
            Database::Postgres(_)
        ));
        for bad in ["tap.db", "mysql://db/x", "postgresql://db/x\nsslmode=disable"] {
            assert!(Database::parse(bad).is_err(), "{bad}");
        }
        let pg = Database::parse("postgresql://db/pam_tap").unwrap();
        let err = pg.sqlite_path().unwrap_err().to_string();
        assert!(err.contains("SQLite store only"), "{err}");
    }
}
