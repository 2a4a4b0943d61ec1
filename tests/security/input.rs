//! Hostile input through the real stack: answers, user names, config files and database rows.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::support::drive::line;
use crate::support::drive::NOT_RUN;
use crate::support::figures::alerts;
use crate::support::figures::figure;
use crate::support::site::{write_file, Site};
use crate::{site, user};

/// Config files that are not what the module may read.
#[path = "input/configs.rs"]
mod configs;
/// Database rows tampered with.
#[path = "input/rows.rs"]
mod rows;

fn bytes_line(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    v.push(b'\n');
    v
}

/// The pass with every letter that has a Cyrillic twin replaced by it (the first character when
/// none has): looks the same, is not the pass.
fn lookalike(code: &str) -> String {
    let twin = |c: char| match c {
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'K' => 'К',
        'M' => 'М',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        'Y' => 'У',
        c => c,
    };
    let out: String = code.chars().map(twin).collect();
    if out != code {
        return out;
    }
    std::iter::once('А').chain(code.chars().skip(1)).collect()
}

#[test]
fn hostile_answers_never_log_in() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_answers", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    f.stack_full("full", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let cases = hostile_answers(&pass);
    let (mut table, bad) = answered_at_both_stacks(&f, &user.name, &cases);
    table.push(the_pass_then_nul_and_junk(&f, &user.name, &pass));
    let ok_after = f
        .drive("only", &user.name, &["authenticate"], &line(&pass))
        .auth()
        .to_string();
    figure(
        "hostile_answers",
        &format!(
            "cases={} successes={} crashes=0 [{}] right_pass_after={ok_after}",
            cases.len() * 2,
            bad.len(),
            table.join(" ")
        ),
    );
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(
        ok_after, "PAM_SUCCESS",
        "the pass still works after the hostile answers"
    );
}

/// Answers built from `pass` that must not log in: huge, padded, with NUL, not UTF-8, lookalike,
/// empty, no reply at all, a failed conversation, wrong.
fn hostile_answers(pass: &str) -> Vec<(&'static str, Vec<u8>)> {
    let code = pass.replace('-', "");
    let wrong: String = code.chars().map(|c| if c == 'A' { 'B' } else { 'A' }).collect();
    let mut non_utf8 = code.as_bytes().to_vec();
    non_utf8[3] = 0xc3;
    vec![
        ("1MiB", bytes_line(&vec![b'A'; 1 << 20])),
        (
            "pass+1MiB",
            bytes_line(&[code.as_bytes(), &vec![b'A'; 1 << 20]].concat()),
        ),
        (
            "513_bytes_spaces+pass",
            bytes_line(&[&[b' '; 513][..], code.as_bytes()].concat()),
        ),
        ("NUL+pass", bytes_line(&[b"\0", code.as_bytes()].concat())),
        (
            "wrong+NUL+pass",
            bytes_line(&[wrong.as_bytes(), b"\0", code.as_bytes()].concat()),
        ),
        (
            "non_utf8",
            bytes_line(&[0xff, 0xfe, 0xfd, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86]),
        ),
        ("non_utf8_in_pass", bytes_line(&non_utf8)),
        ("cyrillic_lookalike", line(&lookalike(&code))),
        ("empty", line("")),
        ("null_reply", line("<null>")),
        ("conversation_failure", line("<fail>")),
        ("wrong_pass", line(&wrong)),
    ]
}

/// Each answer at pam_tap alone and at the full stack: the table (pam_tap alone's codes), and
/// every answer that logged in or crashed the driver.
fn answered_at_both_stacks(f: &Site, user: &str, cases: &[(&str, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    let mut table = vec![];
    let mut bad = vec![];
    for (name, answer) in cases {
        for stack in ["only", "full"] {
            let r = f.drive(stack, user, &["authenticate"], answer);
            let crashed = r.crashed() || r.auth() == "(none)";
            if r.auth() == "PAM_SUCCESS" || crashed {
                bad.push(format!("{name}/{stack}: {} {}", r.auth(), r.stderr));
            }
            if stack == "only" {
                table.push(format!("{name}={}", r.auth().trim_start_matches("PAM_")));
            }
        }
    }
    (table, bad)
}

/// The conversation carries C strings: bytes after a NUL never reach the module, so the pass
/// followed by NUL and anything is the pass itself (that is what the user typed first). Its
/// table entry.
fn the_pass_then_nul_and_junk(f: &Site, user: &str, pass: &str) -> String {
    let code = pass.replace('-', "");
    let r = f.drive(
        "only",
        user,
        &["authenticate"],
        &bytes_line(&[code.as_bytes(), b"\0junk"].concat()),
    );
    format!("pass+NUL+junk={}(c-string)", r.auth().trim_start_matches("PAM_"))
}

#[test]
fn hostile_user_names_never_log_in() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("input_names", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let names = hostile_names(&user.name);
    let (table, bad) = names_tried(&f, &pass, &names);
    let integrity = f.integrity();
    let passes: i64 = f
        .sqlite()
        .query_row("SELECT count(*) FROM passes", [], |r| r.get(0))
        .unwrap();
    let holder = f
        .drive("only", &user.name, &["authenticate"], &line(&pass))
        .auth()
        .to_string();
    figure(
        "hostile_user_names",
        &format!(
            "cases={} successes={} [{}] integrity={integrity} passes_table_rows={passes} real_user_after={holder}",
            names.len(),
            bad.len(),
            table.join(" ")
        ),
    );
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!((integrity.as_str(), passes, holder.as_str()), ("ok", 1, "PAM_SUCCESS"));
}

/// User names made from `user`'s that are not it: paths, quotes, SQL, wildcards, line ends,
/// case, size, bytes that are not UTF-8, nothing.
fn hostile_names(user: &str) -> Vec<(&'static str, Vec<u8>)> {
    let u = user.as_bytes();
    vec![
        ("slash", [u, b"/x"].concat()),
        ("dotdot", b"../../../etc/passwd".to_vec()),
        ("dotdot_user", [b"../", u].concat()),
        ("quote", [u, b"'"].concat()),
        ("dquote", [b"\"", u, b"\""].concat()),
        ("sql", [u, b"' OR '1'='1"].concat()),
        ("sql_drop", b"x'); DROP TABLE passes; --".to_vec()),
        ("like_wildcard", b"%".to_vec()),
        ("like_underscore", [&u[..u.len() - 1], b"_"].concat()),
        ("newline", [u, b"\n"].concat()),
        ("colon", [u, b":0:0"].concat()),
        ("trailing_space", [u, b" "].concat()),
        ("upper_case", user.to_uppercase().into_bytes()),
        ("1MiB", vec![b'a'; 1 << 20]),
        ("non_utf8", [u, b"\xff\xfe"].concat()),
        ("non_utf8_only", b"\xc3\x28\xa0\xa1".to_vec()),
        ("empty", b"".to_vec()),
    ]
}

/// `pass` typed at pam_tap alone under each name (its raw bytes, through sec_probe's `@FILE`):
/// the table, and every name that logged in, crashed or never got an answer.
fn names_tried(f: &Site, pass: &str, names: &[(&str, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    let mut table = vec![];
    let mut bad = vec![];
    for (label, raw) in names {
        let file = f.dir.join("name");
        write_file(&file, raw, 0o600);
        let arg = [b"@", file.as_os_str().as_bytes()].concat();
        let r = f.probe("auth", "only", OsStr::from_bytes(&arg), &[], &line(pass));
        let code = r.results.first().map_or(NOT_RUN, |(_, c)| c.as_str()).to_string();
        table.push(format!("{label}={}", code.trim_start_matches("PAM_")));
        if code == "PAM_SUCCESS" || r.crashed() || code == NOT_RUN {
            bad.push(format!("{label}: {code} {}", r.stderr));
        }
    }
    (table, bad)
}
