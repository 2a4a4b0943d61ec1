//! What libpq 15 reads from a connection string, without libpq: the same keyword → value options
//! and the same accept/reject decision as its `PQconninfoParse` (fe-connect.c: `conninfo_parse`
//! for `key=value` strings, `conninfo_uri_parse_options` for `postgresql://` URIs), with no
//! defaults, no service file and no environment. The module shows a `database` URI only through
//! [`Options::redacted`], so what it hides is decided by the reading libpq itself makes: a text
//! rule ("stop at `?`") misses what libpq takes as a password. Tested against the real libpq
//! (crates/store/src/postgres/differential.rs and the `conninfo_redact` fuzz target).

use std::fmt;

/// libpq 15's keywords, in the order of its option table (`PQconninfoOptions`), which is also the
/// order `PQconninfoParse` returns and [`Options::redacted`] shows them in.
pub const KEYWORDS: [&str; 36] = [
    "service",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "dbname",
    "host",
    "hostaddr",
    "port",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "replication",
    "target_session_attrs",
];

/// The options whose value is a secret: libpq's password-field options (display char `*`).
pub const SECRET_KEYWORDS: [&str; 2] = ["password", "sslpassword"];

/// What a shown secret reads as.
pub const HIDDEN: &str = "***";

/// Why libpq refuses a connection string. The messages never quote the string: unlike libpq's,
/// which repeat the URI and so its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// `key=value` form: a name not followed by `=`.
    MissingEquals,
    /// `key=value` form: a `'` with no closing `'`.
    UnterminatedQuote,
    /// A keyword libpq 15 does not know (keywords are case-sensitive).
    UnknownKeyword,
    /// `%` not followed by two hexadecimal digits.
    BadPercent,
    /// `%00`: libpq's values are C strings.
    PercentNul,
    /// `[` with no `]`, `[]`, or something other than `:`, `/`, `?` or `,` after `]`.
    BadIpv6,
    /// A query parameter with no `=`, or with two.
    BadParameter,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::MissingEquals => "a name without \"=\"",
            ParseError::UnterminatedQuote => "an unterminated quoted value",
            ParseError::UnknownKeyword => "an option libpq 15 does not know (names are lower case)",
            ParseError::BadPercent => "a \"%\" not followed by two hexadecimal digits",
            ParseError::PercentNul => "a %00",
            ParseError::BadIpv6 => "a malformed [IPv6] host",
            ParseError::BadParameter => "a query parameter without exactly one \"=\"",
        })
    }
}

/// The options a connection string sets, by keyword; values are bytes, as libpq's are (a
/// percent-decoded value need not be UTF-8). Debug shows [`Options::redacted`].
#[derive(Clone, PartialEq, Eq)]
pub struct Options {
    /// One slot per keyword of [`KEYWORDS`], at its index.
    values: Box<[Option<Vec<u8>>]>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            values: vec![None; KEYWORDS.len()].into_boxed_slice(),
        }
    }
}

/// C's `isspace` in the C locale: the only locale libpq's parser sees in sshd, login and su.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// libpq's URI prefixes (`uri_prefix_length`), matched case-sensitively.
fn uri_prefix_len(text: &[u8]) -> Option<usize> {
    ["postgresql://", "postgres://"]
        .iter()
        .find(|p| text.starts_with(p.as_bytes()))
        .map(|p| p.len())
}

/// Parses a connection string as `PQconninfoParse` does. libpq reads a C string, so the text
/// ends at a NUL byte if it holds one.
pub fn parse(text: &[u8]) -> Result<Options, ParseError> {
    let text = text.split(|&c| c == 0).next().unwrap_or_default();
    match uri_prefix_len(text) {
        Some(n) => uri::parse_uri(text, n),
        None => parse_key_values(text),
    }
}

impl Options {
    /// The value of `keyword`, if the string sets it.
    pub fn get(&self, keyword: &str) -> Option<&[u8]> {
        let i = KEYWORDS.iter().position(|k| *k == keyword)?;
        self.values[i].as_deref()
    }

    /// The options set, in libpq's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        KEYWORDS
            .iter()
            .zip(self.values.iter())
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
    }

    /// `conninfo_storeval`: the last value of a keyword wins; `requiressl` is its old spelling of
    /// sslmode (`1` → require, anything else → prefer).
    pub(super) fn store(&mut self, keyword: &[u8], value: Vec<u8>) -> Result<(), ParseError> {
        let (keyword, value) = if keyword == b"requiressl" {
            let mode = if value.first() == Some(&b'1') {
                "require"
            } else {
                "prefer"
            };
            (&b"sslmode"[..], mode.as_bytes().to_vec())
        } else {
            (keyword, value)
        };
        let i = KEYWORDS
            .iter()
            .position(|k| k.as_bytes() == keyword)
            .ok_or(ParseError::UnknownKeyword)?;
        self.values[i] = Some(value);
        Ok(())
    }

    /// Whether libpq would send a password or unlock a key with one from these options: an empty
    /// value is one libpq ignores.
    pub fn holds_secret(&self) -> bool {
        SECRET_KEYWORDS
            .iter()
            .any(|k| self.get(k).is_some_and(|v| !v.is_empty()))
    }

    /// The options as a `key=value` connection string in libpq's order, every secret as `***`:
    /// `user=tap password=*** dbname=pam_tap host=db.example sslmode=verify-full`. Re-rendered
    /// from the parsed values, so nothing of a secret can survive. A value is quoted as libpq
    /// reads it back (`'…'`, with `\'` and `\\`) when it is empty or holds a space, `'` or `\`; a
    /// control character or a byte that is not UTF-8 shows as U+FFFD, so the text is one safe
    /// line for a terminal or syslog.
    pub fn redacted(&self) -> String {
        let mut out = String::new();
        for (keyword, value) in self.iter() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(keyword);
            out.push('=');
            if SECRET_KEYWORDS.contains(&keyword) {
                out.push_str(HIDDEN);
            } else {
                push_value(&mut out, value);
            }
        }
        out
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Options({:?})", self.redacted())
    }
}

fn push_value(out: &mut String, value: &[u8]) {
    let shown: String = String::from_utf8_lossy(value)
        .chars()
        .map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c })
        .collect();
    if !shown.is_empty() && !shown.contains([' ', '\'', '\\']) {
        out.push_str(&shown);
        return;
    }
    out.push('\'');
    for c in shown.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
}

/// `conninfo_parse`: `name = value` pairs separated by white space; a value is either quoted
/// (`'…'`, `\` escapes the next byte) or runs to the next white space (`\` escapes there too).
fn parse_key_values(s: &[u8]) -> Result<Options, ParseError> {
    let mut opts = Options::default();
    let mut i = 0;
    let skip_spaces = |mut i: usize| {
        while s.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        i
    };
    while i < s.len() {
        i = skip_spaces(i);
        if i == s.len() {
            break;
        }
        let name_start = i;
        while s.get(i).is_some_and(|&c| c != b'=' && !is_space(c)) {
            i += 1;
        }
        let name = &s[name_start..i];
        i = skip_spaces(i);
        if s.get(i) != Some(&b'=') {
            return Err(ParseError::MissingEquals);
        }
        i = skip_spaces(i + 1);
        let mut value = Vec::new();
        if s.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match s.get(i) {
                    None => return Err(ParseError::UnterminatedQuote),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        // A trailing backslash escapes nothing; the missing quote is reported.
                        if let Some(&c) = s.get(i + 1) {
                            value.push(c);
                        }
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(&c) = s.get(i) {
                i += 1;
                if is_space(c) {
                    break;
                }
                if c == b'\\' {
                    if let Some(&next) = s.get(i) {
                        value.push(next);
                        i += 1;
                    }
                } else {
                    value.push(c);
                }
            }
        }
        opts.store(name, value)?;
    }
    Ok(opts)
}

mod uri;

#[cfg(test)]
mod tests;
