//! Text that crosses the helpdesk boundary: what an operator types (a reason, a user name, a CSV
//! field) is refused if it holds a control character, and what tapctl shows a person (audit rows
//! written by any version of pam_tap, rhosts a remote client chose) has its control characters
//! escaped. A control character in the audit log could forge a second log line or drive the
//! reader's terminal (ESC and C1 sequences), and a bidi override could make one name read as
//! another.

use std::borrow::Cow;
use std::fmt::Write;

use crate::error::{Error, Result};

/// Longest reason an operator may give (bytes).
pub const MAX_REASON: usize = 500;

/// Unicode's format characters (general category Cf, Unicode 15) and the line and paragraph
/// separators: invisible, and some (the bidi overrides and isolates) reorder what follows them.
/// The list is short and fixed, so it is kept here rather than pulling in a Unicode table crate.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// C0 (including tab and newline), DEL, C1, and the format characters above.
pub fn is_control(c: char) -> bool {
    let u = c as u32;
    c.is_control() || FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

/// Whether `s` holds no control character.
pub fn is_clean(s: &str) -> bool {
    !s.chars().any(is_control)
}

/// Refuses `s` (named `what` in the message) if it holds a control character. The message names
/// the character's code point and position, never the text, which may not be the operator's own.
pub fn check(what: &str, s: &str) -> Result<()> {
    match s.chars().enumerate().find(|(_, c)| is_control(*c)) {
        None => Ok(()),
        Some((i, c)) => Err(Error::Refused(format!(
            "{what} holds a control character (U+{:04X} at character {}): use plain printable text",
            c as u32,
            i + 1
        ))),
    }
}

/// Refuses a reason that holds a control character or is longer than [`MAX_REASON`] bytes.
pub fn check_reason(what: &str, reason: Option<&str>) -> Result<()> {
    let Some(r) = reason else {
        return Ok(());
    };
    check(what, r)?;
    if r.len() > MAX_REASON {
        return Err(Error::Refused(format!(
            "{what} must be one line of at most {MAX_REASON} bytes"
        )));
    }
    Ok(())
}

/// The texts of an issue or revoke request: the target's name and the `--reason`.
pub fn check_request(user: &str, reason: Option<&str>) -> Result<()> {
    check("the user name", user)?;
    check_reason("--reason", reason)
}

/// `s` for a terminal or a log line: every control character as `\n`, `\t`, `\r` or `\u{…}`, and
/// `\` as `\\` so an escape cannot be faked. Clean text is returned as it is.
pub fn shown(s: &str) -> Cow<'_, str> {
    if is_clean(s) && !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`shown`] of an optional field, `-` when absent.
pub fn shown_opt(s: Option<&str>) -> Cow<'_, str> {
    s.map_or(Cow::Borrowed("-"), shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_of_every_kind_are_refused() {
        for bad in [
            "a\nb",
            "a\rb",
            "a\tb",
            "a\0b",
            "\u{1b}[2J",
            "a\u{7f}",
            "a\u{9b}31m",
            "a\u{85}b",
            "\u{202e}evil",
            "a\u{2066}b",
            "a\u{200b}b",
            "a\u{2028}b",
            "a\u{feff}",
            "a\u{e0041}",
        ] {
            let e = check("--reason", bad).unwrap_err().to_string();
            assert!(e.contains("control character"), "{bad:?}: {e}");
            assert!(is_clean(&shown(bad)), "{bad:?} shown as {:?}", shown(bad));
            assert!(!shown(bad).contains('\n'));
        }
        for good in ["new joiner", "Zoë's laptop, ticket #42", "日本語", "a\\b", ""] {
            check("--reason", good).unwrap();
        }
    }

    #[test]
    fn shown_escapes_unambiguously() {
        assert_eq!(shown("plain"), "plain");
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown("a\\nb"), "a\\\\nb");
        assert_eq!(shown("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(shown("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(shown_opt(None), "-");
    }

    #[test]
    fn reasons_are_capped() {
        check_reason("--reason", Some(&"x".repeat(MAX_REASON))).unwrap();
        assert!(check_reason("--reason", Some(&"x".repeat(MAX_REASON + 1))).is_err());
        check_reason("--reason", None).unwrap();
    }
}
