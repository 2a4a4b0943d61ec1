//! The parser's rules, each as libpq 15's fe-connect.c has it; the same inputs and many more are
//! checked against the real libpq in crates/store/src/postgres/differential.rs.

use super::*;

/// The options as text pairs, in libpq's order.
fn read(text: &str) -> Result<Vec<(&'static str, String)>, ParseError> {
    parse(text.as_bytes()).map(|o| {
        o.iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(v).into_owned()))
            .collect()
    })
}

fn pairs(list: &[(&'static str, &str)]) -> Result<Vec<(&'static str, String)>, ParseError> {
    Ok(list.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

#[test]
fn uri_credentials_end_at_the_first_at_sign_before_any_slash() {
    assert_eq!(
        read("postgresql://u:a@b@h/d"),
        pairs(&[("user", "u"), ("password", "a"), ("dbname", "d"), ("host", "b@h")])
    );
    assert_eq!(
        read("postgresql://u:Xy9?Qz#7@db/x"),
        pairs(&[("user", "u"), ("password", "Xy9?Qz#7"), ("dbname", "x"), ("host", "db")])
    );
    // The user part ends at its first ':'; the password keeps later ones.
    assert_eq!(
        read("postgresql://u:p:q@h"),
        pairs(&[("user", "u"), ("password", "p:q"), ("host", "h")])
    );
    // A '/' first: no credentials, "u" is the host and "a" its port.
    assert_eq!(
        read("postgresql://u:a/b@h"),
        pairs(&[("dbname", "b@h"), ("host", "u"), ("port", "a")])
    );
    // An '@' in the query still closes a user part that starts at the host.
    assert_eq!(
        read("postgresql://h?user=a@b"),
        pairs(&[("user", "h?user=a"), ("host", "b")])
    );
    // Empty user or password parts are left unset.
    assert_eq!(read("postgresql://:@h"), pairs(&[("host", "h")]));
}

#[test]
fn uri_parts_and_query_keys_are_percent_decoded() {
    assert_eq!(
        read("postgresql://u%3A:p%40ss@h%2C2/d%3Fb?%70assword=x%26y&ssl%6dode=verify-full"),
        pairs(&[
            ("user", "u:"),
            ("password", "x&y"),
            ("dbname", "d?b"),
            ("host", "h,2"),
            ("sslmode", "verify-full"),
        ])
    );
    assert_eq!(read("postgresql://h/%41%6a"), pairs(&[("dbname", "Aj"), ("host", "h")]));
    for bad in [
        "postgresql://h/%zz",
        "postgresql://h/%4",
        "postgresql://h/%",
        "postgresql://u:%g0@h",
        "postgresql://h?%zzpassword=x",
    ] {
        assert_eq!(read(bad), Err(ParseError::BadPercent), "{bad}");
    }
    assert_eq!(read("postgresql://h/db%00"), Err(ParseError::PercentNul));
    assert_eq!(read("postgresql://h?password=%00"), Err(ParseError::PercentNul));
}

#[test]
fn the_last_value_of_a_keyword_wins() {
    assert_eq!(
        read("postgresql://u:a@h?password=x&password=y"),
        pairs(&[("user", "u"), ("password", "y"), ("host", "h")])
    );
    assert_eq!(read("password=x password=y"), pairs(&[("password", "y")]));
}

#[test]
fn hosts_ports_and_ipv6() {
    assert_eq!(
        read("postgresql://[::1]:5433,[fe80::1%25eth0],h3:7/db"),
        pairs(&[("dbname", "db"), ("host", "::1,fe80::1%eth0,h3"), ("port", "5433,,7")])
    );
    assert_eq!(read("postgresql://h1:,h2"), pairs(&[("host", "h1,h2"), ("port", ",")]));
    assert_eq!(read("postgresql://,"), pairs(&[("host", ","), ("port", ",")]));
    assert_eq!(
        read("postgresql://[::1]?port=1"),
        pairs(&[("host", "::1"), ("port", "1")])
    );
    for bad in [
        "postgresql://[::1",
        "postgresql://[]",
        "postgresql://[::1]x",
        "postgresql://h,[::1",
    ] {
        assert_eq!(read(bad), Err(ParseError::BadIpv6), "{bad}");
    }
    assert_eq!(
        read("postgresql://host?hostaddr=10.0.0.1,10.0.0.2"),
        pairs(&[("host", "host"), ("hostaddr", "10.0.0.1,10.0.0.2")])
    );
}

#[test]
fn query_parameters_need_exactly_one_equals_sign_and_a_known_lower_case_name() {
    assert_eq!(read("postgresql://"), pairs(&[]));
    assert_eq!(read("postgres://h/"), pairs(&[("host", "h")]));
    assert_eq!(read("postgresql://h?"), pairs(&[("host", "h")]));
    assert_eq!(read("postgresql://h?port=1&"), pairs(&[("host", "h"), ("port", "1")]));
    assert_eq!(read("postgresql://h?port="), pairs(&[("host", "h"), ("port", "")]));
    for bad in [
        "postgresql://h?port",
        "postgresql://h?port=1&&",
        "postgresql://h?a=b=c",
        "postgresql://h?&",
    ] {
        assert_eq!(read(bad), Err(ParseError::BadParameter), "{bad}");
    }
    for bad in [
        "postgresql://h?PASSWORD=x",
        "postgresql://h?bogus=1",
        "postgresql://h?=1",
        "postgresql://h?ssl=false",
    ] {
        assert_eq!(read(bad), Err(ParseError::UnknownKeyword), "{bad}");
    }
    // JDBC's spelling, and libpq's old one.
    assert_eq!(
        read("postgresql://h?ssl=true"),
        pairs(&[("host", "h"), ("sslmode", "require")])
    );
    assert_eq!(
        read("postgresql://h?requiressl=1x"),
        pairs(&[("host", "h"), ("sslmode", "require")])
    );
    assert_eq!(read("requiressl=0"), pairs(&[("sslmode", "prefer")]));
    assert_eq!(read("requiressl=''"), pairs(&[("sslmode", "prefer")]));
}

#[test]
fn key_value_strings_quote_escape_and_space_as_libpq_does() {
    assert_eq!(
        read(r"application_name='it\'s'"),
        pairs(&[("application_name", "it's")])
    );
    assert_eq!(read("password = \"x\""), pairs(&[("password", "\"x\"")]));
    assert_eq!(read(r"user=a\ b\\c\"), pairs(&[("user", r"a b\c")]));
    assert_eq!(read("user='a b'host=h"), pairs(&[("user", "a b"), ("host", "h")]));
    assert_eq!(read("user=x'y"), pairs(&[("user", "x'y")]));
    assert_eq!(read(" \t\x0bhost=h\x0c\r\n"), pairs(&[("host", "h")]));
    // Blanks after '=' are skipped, so the next pair becomes the value.
    assert_eq!(read("host= dbname=x"), pairs(&[("host", "dbname=x")]));
    assert_eq!(read("host="), pairs(&[("host", "")]));
    assert_eq!(read(""), pairs(&[]));
    assert_eq!(read("host=a\0password=hidden"), pairs(&[("host", "a")]));
    assert_eq!(read("host"), Err(ParseError::MissingEquals));
    assert_eq!(read("host h=1"), Err(ParseError::MissingEquals));
    assert_eq!(read("user='abc"), Err(ParseError::UnterminatedQuote));
    assert_eq!(read(r"user='abc\'"), Err(ParseError::UnterminatedQuote));
    assert_eq!(read("Host=h"), Err(ParseError::UnknownKeyword));
    assert_eq!(read("ssl=true"), Err(ParseError::UnknownKeyword));
    // Nothing is percent-decoded outside a URI.
    assert_eq!(read("user=%41"), pairs(&[("user", "%41")]));
}

#[test]
fn the_redacted_form_is_libpq_key_value_text_with_secrets_hidden() {
    let o = parse(b"postgresql://tap:pw@db.example:5433/pam_tap?sslmode=verify-full&sslpassword=k&application_name=a%20b%27c%5Cd&options=").unwrap();
    assert_eq!(
        o.redacted(),
        r"user=tap password=*** dbname=pam_tap host=db.example port=5433 options='' application_name='a b\'c\\d' sslmode=verify-full sslpassword=***"
    );
    // Read back, it is the same options with the secrets replaced.
    let back = parse(o.redacted().as_bytes()).unwrap();
    for (k, v) in o.iter() {
        let want = if SECRET_KEYWORDS.contains(&k) {
            HIDDEN.as_bytes()
        } else {
            v
        };
        assert_eq!(back.get(k), Some(want), "{k}");
    }
    assert_eq!(back.iter().count(), o.iter().count());
    assert_eq!(format!("{o:?}"), format!("Options({:?})", o.redacted()));
}

#[test]
fn control_characters_and_bytes_that_are_not_utf8_show_as_replacement_characters() {
    let o = parse(b"postgresql://h/%FF%0A%1Bx%09y").unwrap();
    assert_eq!(o.get("dbname"), Some(&b"\xff\n\x1bx\ty"[..]));
    assert_eq!(o.redacted(), "dbname=\u{fffd}\u{fffd}\u{fffd}x\u{fffd}y host=h");
}

#[test]
fn holds_secret_means_a_non_empty_password_or_sslpassword() {
    for (text, secret) in [
        ("password=x", true),
        ("sslpassword=x", true),
        ("password=''", false),
        ("passfile=/etc/pgpass user=u", false),
        ("", false),
    ] {
        assert_eq!(parse(text.as_bytes()).unwrap().holds_secret(), secret, "{text}");
    }
}
