//! Any sshd_config and drop-ins: doctor's reader never panics, expands a bounded number of
//! Include patterns, and keeps the rules it documents: keywords are case-insensitive and
//! lower-cased, the first value wins, a `Match` ends a file's unconditional part, and an Include
//! reads as the included text in its place. The input is sshd_config followed by drop-ins, split
//! at NUL bytes, named /etc/ssh/sshd_config.d/00.conf, 01.conf, ... in order.
#![no_main]

use std::cell::Cell;

use libfuzzer_sys::fuzz_target;

// doctor's own reader, compiled from its source: the library does not link the CLI's parsers.
// Not every item of the file is used here.
#[allow(dead_code)]
use tapctl::doctor::sshd_text;

use sshd_text::{name_matches, settings_of, sshd_line, SshdLine};

/// `line` with its keyword's ASCII letters in the other case.
fn flip_keyword(line: &str) -> String {
    let start = line.len() - line.trim_start().len();
    let end = line[start..]
        .find(|c: char| c.is_whitespace() || c == '=')
        .map_or(line.len(), |i| start + i);
    let flipped: String = line[start..end]
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    format!("{}{flipped}{}", &line[..start], &line[end..])
}

fn check_line(line: &str) {
    let parsed = sshd_line(line);
    let trimmed = line.trim();
    assert_eq!(
        parsed.is_none(),
        trimmed.is_empty() || trimmed.starts_with('#'),
        "{line:?}"
    );
    if let Some(SshdLine::Setting(k, v)) = &parsed {
        let token = trimmed
            .split(|c: char| c.is_whitespace() || c == '=')
            .next()
            .unwrap_or("");
        assert!(
            k == &token.to_ascii_lowercase() || k == "kbdinteractiveauthentication",
            "{line:?}: {k:?}"
        );
        assert!(
            k != "match" && !k.contains(char::is_whitespace) && !k.contains('='),
            "{line:?}: {k:?}"
        );
        assert_eq!(v.trim(), v, "{line:?}");
    }
    assert_eq!(sshd_line(&flip_keyword(line)), parsed, "{line:?}");
}

/// `text` up to (not including) its first `Match` line.
fn before_match(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if sshd_line(line) == Some(SshdLine::Match) {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = input.split('\0');
    let main = parts.next().unwrap_or("");
    let dropins: Vec<(String, &str)> = parts
        .enumerate()
        .map(|(i, t)| (format!("/etc/ssh/sshd_config.d/{i:02}.conf"), t))
        .collect();
    let reads = Cell::new(0usize);
    let read = |pattern: &str| -> Vec<String> {
        reads.set(reads.get() + 1);
        let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
        // Named in order, so the matches are already sorted, as doctor sorts them.
        dropins
            .iter()
            .filter(|(p, _)| {
                p.rsplit_once('/')
                    .is_some_and(|(d, n)| d == dir && name_matches(name, n))
            })
            .map(|(_, t)| t.to_string())
            .collect()
    };

    for line in input.lines() {
        check_line(line);
    }

    let kv = settings_of(&read, main);
    let bounded = reads.get();
    assert!(bounded <= sshd_text::MAX_INCLUDES, "{bounded} reads");
    for (i, (k, v)) in kv.iter().enumerate() {
        assert!(k != "include" && k != "match", "{k:?}");
        assert!(!kv[..i].iter().any(|(key, _)| key == k), "{k:?} twice");
        assert_eq!(v, &v.to_ascii_lowercase(), "{k:?}");
    }

    // Keywords in any case read the same.
    let flipped: Vec<String> = main.lines().map(flip_keyword).collect();
    assert_eq!(settings_of(&read, &flipped.join("\n")), kv);
    // Nothing after the first Match counts.
    assert_eq!(settings_of(&read, &before_match(main)), kv);
    // First value wins: the file read twice over says what it says once, and a line put first
    // decides its keyword.
    assert_eq!(settings_of(&read, &format!("{main}\n{main}")), kv);
    if let Some((k, _)) = kv.iter().find(|(k, _)| !k.is_empty()) {
        let first = settings_of(&read, &format!("{k} first\n{main}"));
        assert_eq!(
            first.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()),
            Some("first")
        );
    }

    // An Include reads as the included files' text (each up to its Match) in its place, when the
    // drop-ins include nothing further and the reading stayed within its bound.
    let includes = |text: &str| {
        text.lines()
            .any(|l| matches!(sshd_line(l), Some(SshdLine::Setting(k, _)) if k == "include"))
    };
    if bounded < sshd_text::MAX_INCLUDES && dropins.iter().all(|(_, t)| !includes(t)) {
        let mut inlined = String::new();
        for line in before_match(main).lines() {
            match sshd_line(line) {
                Some(SshdLine::Setting(k, v)) if k == "include" => {
                    for pattern in v.split_whitespace() {
                        for text in read(&sshd_text::include_path(pattern)) {
                            inlined.push_str(&before_match(&text));
                        }
                    }
                }
                _ => {
                    inlined.push_str(line);
                    inlined.push('\n');
                }
            }
        }
        assert_eq!(settings_of(&read, &inlined), kv);
    }
});
