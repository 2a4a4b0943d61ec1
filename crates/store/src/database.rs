//! The policy's `database`: a SQLite file (an absolute path) or a PostgreSQL store (a libpq
//! connection URI). The URI may hold a password, so it is never shown as written.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::conninfo::{self, Options, ParseError};
use pam_tap_base::error::Error;

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

/// A libpq connection URI, with what libpq reads from it ([`conninfo::parse`]). Shown (Debug,
/// Display, Serialize, and so `tapctl policy`, errors, syslog, doctor and the Cockpit page) only
/// as [`Options::redacted`]: its options re-rendered as `key=value` with every secret `***`;
/// one libpq would refuse as [`UNPARSEABLE`]. Only [`Conninfo::expose`] gives the text libpq needs.
#[derive(Clone, PartialEq, Eq)]
pub struct Conninfo {
    text: String,
    options: Result<Options, ParseError>,
}

/// Longer URIs are refused: libpq needs nothing near this.
const MAX_URI: usize = 4096;

/// What a URI libpq would refuse shows as: none of its text, which may hold a password.
pub const UNPARSEABLE: &str = "<a connection URI libpq cannot parse>";

impl Conninfo {
    fn is_uri(text: &str) -> bool {
        text.starts_with("postgresql://") || text.starts_with("postgres://")
    }

    /// A URI libpq cannot parse is kept (and refused when connecting, as before): the config
    /// still loads, so password logins and the commands that need no store keep working.
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
        Ok(Conninfo {
            text: text.to_string(),
            options: conninfo::parse(text.as_bytes()),
        })
    }

    /// The URI as written, passwords included: for libpq only, never for output.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The options libpq reads from the URI, or why it would refuse it.
    pub fn options(&self) -> Result<&Options, ParseError> {
        self.options.as_ref().map_err(|e| *e)
    }

    /// Whether the URI holds a password or sslpassword libpq would use. One libpq cannot parse
    /// counts as holding one: what it holds is unknown.
    pub fn holds_secret(&self) -> bool {
        self.options.as_ref().map_or(true, Options::holds_secret)
    }

    /// What is shown of the URI: [`Options::redacted`], or [`UNPARSEABLE`].
    pub fn redacted(&self) -> String {
        match &self.options {
            Ok(o) => o.redacted(),
            Err(_) => UNPARSEABLE.to_string(),
        }
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

    /// Every way the URI is shown.
    fn every_output(c: &Conninfo) -> Vec<String> {
        vec![
            c.to_string(),
            format!("{c:?}"),
            serde_json::to_string(c).unwrap(),
            format!("{:?}", Database::Postgres(c.clone())),
            Database::Postgres(c.clone()).to_string(),
            serde_json::to_string(&Database::Postgres(c.clone())).unwrap(),
        ]
    }

    #[test]
    fn passwords_never_show() {
        for (uri, want) in [
            (
                "postgresql://tap:s3cret@db.example/pam_tap",
                "user=tap password=*** dbname=pam_tap host=db.example",
            ),
            (
                "postgres://tap:p%40ss@h1,h2:5433/pam_tap",
                "user=tap password=*** dbname=pam_tap host=h1,h2 port=,5433",
            ),
            (
                "postgresql://db/pam_tap?user=tap&password=s3cret&sslmode=verify-full",
                "user=tap password=*** dbname=pam_tap host=db sslmode=verify-full",
            ),
            (
                "postgresql:///pam_tap?sslpassword=k3y",
                "dbname=pam_tap sslpassword=***",
            ),
            ("postgresql://tap@db/pam_tap", "user=tap dbname=pam_tap host=db"),
        ] {
            let c = Conninfo::new(uri).unwrap();
            assert_eq!(c.to_string(), want);
            for text in every_output(&c) {
                assert!(
                    !text.contains("s3cret") && !text.contains("k3y") && !text.contains("p@ss"),
                    "{text}"
                );
            }
        }
    }

    /// libpq takes everything up to the first '@' before any '/' as the user part: an unencoded
    /// '?' or '#' in the password does not end it.
    #[test]
    fn a_password_holding_question_mark_and_hash_is_hidden_whole() {
        let c = Conninfo::new("postgresql://u:Xy9?Qz#7@db/x").unwrap();
        assert_eq!(c.to_string(), "user=u password=*** dbname=x host=db");
        for text in every_output(&c) {
            for piece in ["Xy9", "Qz", "#7"] {
                assert!(!text.contains(piece), "{piece} in {text}");
            }
        }
        assert!(c.holds_secret());
    }

    /// libpq percent-decodes query keys: `%70assword` is `password`.
    #[test]
    fn a_percent_encoded_password_key_is_hidden() {
        let c = Conninfo::new("postgresql://db/x?%70assword=Hunter22&%73slpassword=K3yPass").unwrap();
        assert_eq!(c.to_string(), "password=*** dbname=x host=db sslpassword=***");
        for text in every_output(&c) {
            assert!(!text.contains("Hunter22") && !text.contains("K3yPass"), "{text}");
        }
    }

    #[test]
    fn a_uri_libpq_cannot_parse_shows_none_of_its_text() {
        for uri in [
            "postgresql://tap:s3cret@db/pam_tap?bogus_option=1",
            "postgresql://tap:s3cret@db/pam_tap?PASSWORD=x",
            "postgresql://tap:s3cret%zz@db/pam_tap",
            "postgresql://tap:s3cret@[db",
        ] {
            let c = Conninfo::new(uri).unwrap();
            assert!(c.options().is_err(), "{uri}");
            for text in every_output(&c) {
                assert!(text.contains(UNPARSEABLE) && !text.contains("s3cret"), "{text}");
            }
            assert!(c.holds_secret(), "unknown contents count as a secret: {uri}");
        }
    }

    #[test]
    fn holds_secret_is_a_password_libpq_would_use() {
        for (uri, secret) in [
            ("postgresql://tap:pw@db/x", true),
            ("postgresql://db/x?password=pw", true),
            ("postgresql://db/x?sslpassword=pw", true),
            ("postgresql://tap@db/x?passfile=/etc/pgpass", false),
            ("postgresql://tap:@db/x", false),
            ("postgresql://db/x?password=", false),
            ("postgresql://db/x?password=pw&password=", false),
        ] {
            assert_eq!(Conninfo::new(uri).unwrap().holds_secret(), secret, "{uri}");
        }
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
