//! sshd_config read as sshd reads it, over plain text: keywords, first value wins, `Match` and
//! `Include`.
//!
//! This file uses only std: the fuzz target `sshd_config` compiles this very file (`#[path]`), so
//! the reader it tries is doctor's own and the library never links it.

/// How deep Includes nest before doctor stops following them (sshd allows more; a real
/// sshd_config includes one level of drop-ins).
const MAX_DEPTH: u32 = 4;

/// Most Include patterns one reading expands; later ones are not followed. A real sshd_config
/// has one, and patterns that each name several files that name several more would otherwise
/// take time exponential in the depth.
pub const MAX_INCLUDES: usize = 64;

/// The settings in the text of sshd_config, keywords and values lower-case: first value wins, as
/// in sshd. A `Match` block is conditional, so a file is read up to its first one; an included
/// file's `Match` ends only that file, as sshd restores the including file's state after an
/// Include. `read` gives the texts of the files an absolute Include pattern names, in sshd's order.
pub fn settings_of(read: &dyn Fn(&str) -> Vec<String>, main: &str) -> Vec<(String, String)> {
    let mut kv = Vec::new();
    read_into(read, main, &mut kv, 0, &mut 0);
    kv
}

fn read_into(
    read: &dyn Fn(&str) -> Vec<String>,
    text: &str,
    kv: &mut Vec<(String, String)>,
    depth: u32,
    includes: &mut usize,
) {
    for line in text.lines() {
        let (k, v) = match sshd_line(line) {
            None => continue,
            Some(SshdLine::Match) => break,
            Some(SshdLine::Setting(k, v)) => (k, v),
        };
        if k == "include" {
            if depth == MAX_DEPTH {
                continue;
            }
            for pattern in v.split_whitespace() {
                if *includes == MAX_INCLUDES {
                    break;
                }
                *includes += 1;
                for included in read(&include_path(pattern)) {
                    read_into(read, &included, kv, depth + 1, includes);
                }
            }
            continue;
        }
        if !kv.iter().any(|(key, _)| *key == k) {
            kv.push((k, v.to_ascii_lowercase()));
        }
    }
}

/// An Include pattern as a path: sshd takes one that is not absolute to be under /etc/ssh.
pub fn include_path(pattern: &str) -> String {
    if pattern.starts_with('/') {
        pattern.to_owned()
    } else {
        format!("/etc/ssh/{pattern}")
    }
}

/// One line of sshd_config, read as sshd reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum SshdLine {
    /// A keyword (lower-case; the old `ChallengeResponseAuthentication` under its new name) and
    /// its value (`Include`'s is its patterns).
    Setting(String, String),
    /// A `Match` block: conditional, so doctor reads no further.
    Match,
}

/// Parses one line of sshd_config: None for a blank line or a comment.
pub fn sshd_line(line: &str) -> Option<SshdLine> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // ASCII only, as sshd's strcasecmp: Unicode would make the Kelvin sign a `k`, reading a line
    // sshd refuses as `KbdInteractiveAuthentication`.
    let (k, v) = line
        .split_once(|c: char| c.is_whitespace() || c == '=')
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                v.trim_start_matches(['=', ' ', '\t']).trim().to_owned(),
            )
        })
        .unwrap_or((line.to_ascii_lowercase(), String::new()));
    Some(match k.as_str() {
        "match" => SshdLine::Match,
        "challengeresponseauthentication" => SshdLine::Setting("kbdinteractiveauthentication".into(), v),
        _ => SshdLine::Setting(k, v),
    })
}

/// Whether the file name `name` matches `pattern`, an Include pattern's last component: its first
/// `*` stands for any run of characters, the rest must match exactly.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, suf)) => name.starts_with(pre) && name.ends_with(suf) && name.len() >= pre.len() + suf.len(),
    }
}
