//! pam_tap's reading of a connection string ([`crate::conninfo`]) against the loaded
//! libpq's own `PQconninfoParse`, and what the redaction lets through. One property, checked by
//! the unit tests below on a table of tricky strings and by the `conninfo_redact` fuzz target on
//! anything: built only for them (`cfg(fuzzing)` is cargo-fuzz's).

use std::ffi::CString;

use super::libpq::{api, conninfo_parse};
use crate::conninfo::{self, Options, HIDDEN, SECRET_KEYWORDS};

/// Secrets shorter than this may occur in the text by chance (`***`, a port, a word).
const MIN_SECRET: usize = 4;

/// Bytes of the `key=value` syntax [`Options::redacted`] writes around names and values.
const SYNTAX: [u8; 4] = [b' ', b'=', b'\'', b'\\'];

/// libpq's options for `input` (up to a NUL, as C reads it), or `None` where it refuses it.
/// Panics if libpq cannot be loaded: the comparison must not pass by not running.
pub fn libpq_reading(input: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let api = api().unwrap_or_else(|e| panic!("libpq5 is a test dependency (make deps): {e}"));
    let text = input.split(|&c| c == 0).next().unwrap_or_default();
    let text = CString::new(text).expect("cut at the first NUL");
    conninfo_parse(api, &text)
}

fn listed(o: &Options) -> Vec<(String, Vec<u8>)> {
    o.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect()
}

/// Both parsers agree on `input` (both refuse it, or both accept it with the same options in the
/// same order), and, if accepted, its redacted text hides every secret libpq would use.
pub fn check(input: &[u8]) -> Result<(), String> {
    let theirs = libpq_reading(input);
    match (conninfo::parse(input), theirs) {
        (Err(_), None) => Ok(()),
        (Err(e), Some(t)) => Err(format!("pam_tap refuses ({e}), libpq reads {t:?}")),
        (Ok(o), None) => Err(format!("pam_tap reads {:?}, libpq refuses", listed(&o))),
        (Ok(o), Some(t)) if listed(&o) != t => Err(format!("pam_tap reads {:?}, libpq {t:?}", listed(&o))),
        (Ok(o), Some(t)) => check_redaction(&o, &t),
    }
}

/// A value as the redacted text shows it (before quoting).
fn shown(v: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(v)
        .chars()
        .map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c })
        .collect::<String>()
        .into_bytes()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `o` is pam_tap's reading and `libpq` libpq's, already found equal.
fn check_redaction(o: &Options, libpq: &[(String, Vec<u8>)]) -> Result<(), String> {
    let text = o.redacted();
    // Read back (by both parsers), the text is the same options with every secret `***`.
    let back = conninfo::parse(text.as_bytes()).map_err(|e| format!("{text:?} does not parse: {e}"))?;
    if libpq_reading(text.as_bytes()) != Some(listed(&back)) {
        return Err(format!("libpq reads {text:?} otherwise than pam_tap"));
    }
    let want: Vec<(String, Vec<u8>)> = libpq
        .iter()
        .map(|(k, v)| {
            let v = if SECRET_KEYWORDS.contains(&k.as_str()) {
                HIDDEN.as_bytes().to_vec()
            } else {
                shown(v)
            };
            (k.clone(), v)
        })
        .collect();
    if listed(&back) != want {
        return Err(format!("{text:?} reads back as {:?}, not {want:?}", listed(&back)));
    }
    match leaked(text.as_bytes(), libpq) {
        Some(k) => Err(format!("the {k} survives in {text:?}")),
        None => Ok(()),
    }
}

/// The secret option whose value libpq would use and `text` still holds, if any. A secret made of
/// what the text shows anyway (a keyword, another value, the syntax between them) or too short
/// to tell from chance does not count.
fn leaked<'a>(text: &[u8], libpq: &'a [(String, Vec<u8>)]) -> Option<&'a str> {
    let secrets = libpq.iter().filter(|(k, _)| SECRET_KEYWORDS.contains(&k.as_str()));
    for (k, secret) in secrets {
        let elsewhere = libpq.iter().any(|(other, v)| {
            contains(other.as_bytes(), secret) || (other != k && (contains(v, secret) || contains(&shown(v), secret)))
        });
        if secret.len() < MIN_SECRET || elsewhere || secret.iter().any(|c| SYNTAX.contains(c)) {
            continue;
        }
        if contains(text, secret) {
            return Some(k);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conninfo::KEYWORDS;
    use crate::postgres::libpq::take_options;

    #[test]
    fn the_keywords_are_those_of_the_installed_libpq_in_its_order() {
        let api = api().expect("libpq5 is a test dependency (make deps)");
        let known = unsafe { take_options(api, (api.PQconndefaults)()) };
        let names: Vec<&str> = known.iter().map(|o| o.keyword.as_str()).collect();
        assert_eq!(names, KEYWORDS, "libpq {}", unsafe { (api.PQlibVersion)() });
    }

    /// Strings where a hand-made reading and libpq's part ways; `true`: libpq 15 accepts it.
    const TRICKY: &[(&str, bool)] = &[
        ("postgresql://u:Xy9?Qz#7@db/x", true),
        ("postgresql://db/x?%70assword=Hunter22", true),
        ("postgresql://u:a@b@h/d", true),
        ("postgresql://u:p:q@h", true),
        ("postgresql://u:a/b@h", true),
        ("postgresql://h?user=a@b:secret", true),
        ("postgresql://u:first@h?password=x&password=ysecond", true),
        ("postgresql://u:pass%00word@h", false),
        ("postgresql://u:pass%zzword@h", false),
        ("postgresql://h/db%", false),
        ("postgresql://h/%41%6A%6a", true),
        ("postgresql://h?password=%FFbytes%0Anl", true),
        (r"password='it\'s long' user=u", true),
        (r"application_name='it\'s'", true),
        ("password = \"quoted\"", true),
        ("password=   spaced   user=u", true),
        (r"password=back\ slash\\ed", true),
        ("password='unterminated", false),
        (r"password='ends in backslash\", false),
        ("PASSWORD=upper", false),
        ("postgresql://h?PASSWORD=upper", false),
        ("postgresql://h?Password=upper", false),
        ("sslpassword=k3yk3y host=h", true),
        ("postgresql://h?sslpassword=k3yk3y&password=pw0rd", true),
        ("postgresql://h?hostaddr=10.0.0.1,10.0.0.2&host=a,b", true),
        ("hostaddr=10.0.0.1,,::1 host=a,b,c", true),
        ("postgresql://[::1]:5433,[fe80::1%25eth0],h3:7/db", true),
        ("postgresql://[::1", false),
        ("postgresql://[]/db", false),
        ("postgresql://[::1]x/db", false),
        ("postgresql://h?password=", true),
        ("password='' user=''", true),
        ("postgresql://:@h", true),
        ("postgresql://", true),
        ("", true),
        ("   ", true),
        ("host=h password=secret trailing", false),
        ("host=h password=secret =", false),
        ("postgresql://h/db?sslmode=verify-full&", true),
        ("postgresql://h/db?sslmode=verify-full&&", false),
        ("postgresql://h/db?sslmode=verify-full&junk", false),
        ("postgresql://h/db?a=b=c", false),
        ("postgresql://h?ssl=true&password=jdbcpass", true),
        ("postgresql://h?requiressl=1", true),
        ("requiressl=0 password=oldstyle", true),
        ("ssl=true", false),
        ("host= dbname=x password=following", true),
        ("host=h\x0bpassword=vtabsep", true),
        ("host=a\0password=afternul", true),
        ("postgres://user:p%40ss%3Aword@h1,h2:5433/pam_tap", true),
        ("postgresql://h/db#frag?password=notquery", true),
        ("postgresql://h?options=-c%20x%3Dy&password=p%27%5C%20q", true),
        ("postgresql://host/db?dbname=postgresql://u:inner@h", true),
        ("mysql://u:p@h", false),
        ("POSTGRESQL://u:p@h", false),
    ];

    #[test]
    fn pam_tap_reads_every_tricky_string_as_libpq_does_and_shows_no_password() {
        for (input, accepted) in TRICKY {
            assert_eq!(
                libpq_reading(input.as_bytes()).is_some(),
                *accepted,
                "libpq on {input:?}"
            );
            if let Err(e) = check(input.as_bytes()) {
                panic!("{input:?}: {e}");
            }
        }
    }

    #[test]
    fn a_secret_left_in_the_text_is_caught() {
        let opts = |list: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        let libpq = opts(&[("host", "h"), ("password", "s3cret")]);
        assert_eq!(leaked(b"host=h password=s3cret", &libpq), Some("password"));
        assert_eq!(
            leaked(b"host=h options=xs3cretx password=***", &libpq),
            Some("password")
        );
        assert_eq!(leaked(b"host=h password=***", &libpq), None);
        // Shown as the host it also is, or as part of a keyword: not the password's leak.
        let libpq = opts(&[("host", "s3cret"), ("password", "s3cret")]);
        assert_eq!(leaked(b"host=s3cret password=***", &libpq), None);
        let libpq = opts(&[("host", "h"), ("password", "word")]);
        assert_eq!(leaked(b"host=h password=***", &libpq), None);
    }
}
