//! Any text given to `tapctl issue --csv`: the row parser never panics; every accepted row's user
//! is a plausible user name and its texts pass the checks a single issue makes; and no error
//! quotes a field, so a secret in the file (a shadow line given by mistake) never reaches the
//! terminal: each `~` in the input becomes a marker, wherever it lands, and no error may hold it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapctl::admin::host_scope;
use pam_tap_core::config::parse_duration;
use pam_tap_base::text::check_request;
use pam_tap_base::users::plausible_name;

// tapctl's own parser, compiled from its source: the library does not link the CLI's parsers.
// Not every item of the file is used here.
#[allow(dead_code)]
use tapctl::bulk::rows;

const MARKER: &str = "SECRET";

fuzz_target!(|data: &[u8]| {
    // tapctl reads the file as UTF-8 before it parses it.
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let input = raw.replace('~', MARKER);
    match rows::parse(&input) {
        Ok(rows) => {
            assert!(!rows.is_empty() && rows.len() <= rows::MAX_ROWS);
            // A line ends at `\n`, `\r\n` or a lone `\r`: at most one line per `\r` or `\n`.
            let lines = 1 + input.matches(['\n', '\r']).count();
            let mut last = 0;
            for row in &rows {
                assert!(last < row.line && row.line <= lines, "line {} after {last}", row.line);
                last = row.line;
                assert!(plausible_name(&row.user), "{:?}", row.user);
                assert!(check_request(&row.user, row.reason.as_deref()).is_ok(), "{row:?}");
                assert!(row.lifetime.as_deref().is_none_or(|l| parse_duration(l).is_ok()));
                assert!(host_scope(&row.hosts).is_ok(), "{:?}", row.hosts);
            }
        }
        Err(e) => {
            let e = e.to_string();
            // Stricter than the rule (a plausible user name may be quoted): `parse` quotes none,
            // only `issue` names a row's user, once the name passed `plausible_name`.
            assert!(!e.contains(MARKER), "{input:?} gave {e:?}");
            assert!(
                e.starts_with("line ") || e == "the CSV holds no rows" || e.starts_with("more than "),
                "{e:?}"
            );
        }
    }
});
