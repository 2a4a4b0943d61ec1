//! The URI form of a connection string, as libpq 15's `conninfo_uri_parse_options`,
//! `conninfo_uri_parse_params` and `conninfo_uri_decode` read it.

use super::{Options, ParseError};

/// `conninfo_uri_decode`: `%XY` (either case) is a byte, `%00` is refused, the rest is kept.
fn decode(s: &[u8]) -> Result<Vec<u8>, ParseError> {
    let hex = |c: Option<&u8>| c.and_then(|&c| (c as char).to_digit(16));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (hex(s.get(i + 1)), hex(s.get(i + 2))) else {
            return Err(ParseError::BadPercent);
        };
        let byte = (hi * 16 + lo) as u8;
        if byte == 0 {
            return Err(ParseError::PercentNul);
        }
        out.push(byte);
        i += 3;
    }
    Ok(out)
}

/// The byte at `i`, or 0 past the end: libpq walks a NUL-terminated copy.
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// `conninfo_uri_parse_options`:
/// `postgresql://[user[:password]@][host][:port][,host[:port]…][/dbname][?key=value&…]`.
pub(super) fn parse_uri(s: &[u8], prefix: usize) -> Result<Options, ParseError> {
    let mut opts = Options::default();
    let mut p = prefix;
    // Credentials only if an '@' comes before any '/'; they end at that first '@' (not the last),
    // the user at its first ':'. A '?' or '#' before it is part of them.
    let lookahead = s[p..].iter().position(|&c| c == b'@' || c == b'/');
    if let Some(at_sign) = lookahead.map(|k| p + k).filter(|&k| s[k] == b'@') {
        let creds = &s[p..at_sign];
        let (user, password) = match creds.iter().position(|&c| c == b':') {
            Some(colon) => (&creds[..colon], Some(&creds[colon + 1..])),
            None => (creds, None),
        };
        if !user.is_empty() {
            opts.store(b"user", decode(user)?)?;
        }
        if let Some(pw) = password.filter(|pw| !pw.is_empty()) {
            opts.store(b"password", decode(pw)?)?;
        }
        p = at_sign + 1;
    }

    // Hosts and ports, each list joined with ',' (a host without a port leaves its slot empty).
    let (mut hosts, mut ports) = (Vec::new(), Vec::new());
    let mut prevchar;
    loop {
        if at(s, p) == b'[' {
            let start = p + 1;
            p = start;
            while !matches!(at(s, p), 0 | b']') {
                p += 1;
            }
            if at(s, p) == 0 || p == start {
                return Err(ParseError::BadIpv6);
            }
            hosts.extend_from_slice(&s[start..p]);
            p += 1;
            if !matches!(at(s, p), 0 | b':' | b'/' | b'?' | b',') {
                return Err(ParseError::BadIpv6);
            }
        } else {
            let start = p;
            while !matches!(at(s, p), 0 | b':' | b'/' | b'?' | b',') {
                p += 1;
            }
            hosts.extend_from_slice(&s[start..p]);
        }
        prevchar = at(s, p);
        if prevchar == b':' {
            p += 1;
            let start = p;
            while !matches!(at(s, p), 0 | b'/' | b'?' | b',') {
                p += 1;
            }
            ports.extend_from_slice(&s[start..p]);
            prevchar = at(s, p);
        }
        if prevchar != b',' {
            break;
        }
        p += 1;
        hosts.push(b',');
        ports.push(b',');
    }
    if !hosts.is_empty() {
        opts.store(b"host", decode(&hosts)?)?;
    }
    if !ports.is_empty() {
        opts.store(b"port", decode(&ports)?)?;
    }

    if prevchar == b'/' {
        p += 1;
        let start = p;
        while !matches!(at(s, p), 0 | b'?') {
            p += 1;
        }
        prevchar = at(s, p);
        // An empty dbname is left unset, as libpq does.
        if p > start {
            opts.store(b"dbname", decode(&s[start..p])?)?;
        }
    }
    if prevchar == b'?' {
        parse_params(&s[p + 1..], &mut opts)?;
    }
    Ok(opts)
}

/// `conninfo_uri_parse_params`: `key=value` pairs joined by `&`, both percent-decoded; JDBC's
/// `ssl=true` is sslmode=require. An empty pair (`&&`) is refused, a trailing `&` is not.
fn parse_params(mut s: &[u8], opts: &mut Options) -> Result<(), ParseError> {
    while !s.is_empty() {
        let end = s.iter().position(|&c| c == b'&').unwrap_or(s.len());
        let pair = &s[..end];
        let mut halves = pair.splitn(2, |&c| c == b'=');
        let (key, value) = (halves.next().unwrap_or_default(), halves.next());
        let Some(value) = value.filter(|v| !v.contains(&b'=')) else {
            return Err(ParseError::BadParameter);
        };
        let (key, value) = (decode(key)?, decode(value)?);
        if key == b"ssl" && value == b"true" {
            opts.store(b"sslmode", b"require".to_vec())?;
        } else {
            opts.store(&key, value)?;
        }
        s = s.get(end + 1..).unwrap_or_default();
    }
    Ok(())
}
