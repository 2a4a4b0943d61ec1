//! Any pam.d files: lines split and parse without panicking and re-render to what they parsed
//! from; doctor's stack reader expands includes reading a bounded number of files, and its
//! judging of where a success lands holds for any control (a jump of any size). The input is one or more files, split at NUL bytes, named
//! in the order of [`NAMES`].
#![no_main]

use std::cell::Cell;

use libfuzzer_sys::fuzz_target;
use tapctl::pamd::{rule, split_fields, TYPES};

// doctor's own reader, compiled from its source: the library does not link the CLI's parsers.
// Not every item of the file is used here.
#[allow(dead_code)]
use tapctl::doctor::pam_text;

/// The service doctor reads first, then files it may include.
const NAMES: [&str; 6] = [
    "sshd",
    "common-auth",
    "common-account",
    "common-password",
    "common-session",
    "more",
];

/// Whether every white space in `field` sits inside a bracket opened before it in the field.
fn bracketed(field: &str) -> bool {
    let mut depth = 0i64;
    field.chars().all(|c| {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        !c.is_whitespace() || depth > 0
    })
}

/// Fields as a parser gives them: none empty, none with loose white space, and joined with
/// single spaces they split back into themselves.
fn check_fields(fields: &[String]) {
    for f in fields {
        assert!(!f.is_empty() && bracketed(f), "{f:?} in {fields:?}");
    }
    assert_eq!(split_fields(&fields.join(" ")), fields);
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for line in input.lines() {
        check_fields(&split_fields(line));
        if let Some(r) = rule(line) {
            assert!(TYPES.contains(&r.kind.as_str()), "{r:?}");
            let mut fields = vec![r.kind.clone(), r.control.clone(), r.module.clone()];
            fields.extend(r.args.iter().cloned());
            assert!(fields.iter().all(|f| !f.contains('#')), "{r:?}");
            check_fields(&fields);
            assert_eq!(rule(&fields.join(" ")).as_ref(), Some(&r));
        }
    }

    let files: Vec<&str> = input.split('\0').collect();
    let reads = Cell::new(0usize);
    let read = |name: &str| {
        reads.set(reads.get() + 1);
        NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| files.get(i))
            .map(|t| t.to_string())
            .ok_or_else(|| format!("{name}: missing"))
    };
    // The stacks doctor reads.
    for kind in ["auth", "password", "account"] {
        reads.set(0);
        let stack = pam_text::stack_of(&read, NAMES[0], kind);
        assert!(reads.get() <= pam_text::MAX_READS, "{} reads", reads.get());
        let Ok(lines) = stack else {
            continue;
        };
        for l in &lines {
            let mut fields = vec![l.control.clone(), l.module.clone()];
            fields.extend(l.args.iter().cloned());
            check_fields(&fields);
            let _ = pam_text::control_is_valid(&l.control);
        }
        // As judge_stack and the display managers' account check ask it.
        let unix = lines.iter().position(|l| l.module_name() == "pam_unix.so");
        for (t, l) in lines.iter().enumerate() {
            // A jump passes the next line, and a jump that passes a line passes those before it.
            if pam_text::success_jump(&l.control).is_some_and(|n| n > 0) {
                assert!(pam_text::success_skips(&l.control, t, t + 1), "{l:?}");
            }
            if pam_text::success_skips(&l.control, t, t + 2) {
                assert!(pam_text::success_skips(&l.control, t, t + 1), "{l:?}");
            }
            if let Some(u) = unix.filter(|&u| u > t) {
                let _ = pam_text::success_skips(&l.control, t, u);
            }
            let _ = pam_text::auth_control_fix(&lines, t, unix);
        }
    }
});
