//! The step that sees `tapctl status` on the page (cockpit/status.js): beside a user's newest pass,
//! the verdict tapctl gives, in the vocabulary's words and tone.

use std::time::Duration;

use serde_json::json;

use crate::machine::*;
use crate::webdriver::Browser;

const SOON: Duration = Duration::from_secs(20);

/// `user`'s row shows the reason `tapctl status` gives, labelled as `tapctl vocabulary` says;
/// with `ended`, among every pass (the box for expired, used and revoked passes ticked, then
/// unticked).
pub fn each_pass_shows_whether_it_would_log_in(b: &Browser, user: &str, ended: bool) {
    let status = tapctl_json(&["status", user]);
    let vocab = tapctl_json(&["vocabulary"]);
    let reason = status["reason"].as_str().unwrap().to_string();
    let word = vocab["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == reason.as_str())
        .unwrap_or_else(|| panic!("{reason} is not in the vocabulary"))
        .clone();
    // The rows drawn before are marked, so only a verdict on a row drawn by this reload counts.
    reload(b, if ended { "#passes-all" } else { "#passes-refresh" }, user);
    let row = format!("tr[data-user=\"{user}\"]:not([data-drawn-before])");
    // Polled here rather than through wait_for, so a row that never gets its verdict says what
    // it shows instead (tapctl's refusal, or nothing).
    let t = std::time::Instant::now();
    let probe = format!("return !!document.querySelector('{row} .tap-verdict')");
    while b.js(&probe, json!([])) != json!(true) {
        if t.elapsed() > SOON {
            let seen = b.js(
                &format!(
                    "const r = document.querySelector('{row}');
                     const p = window.tapPage;
                     return [p && JSON.stringify(p.vocab.you), r ? r.dataset.verdict : 'no row',
                             r && r.querySelector('td[data-label=Status]').textContent];"
                ),
                json!([]),
            );
            panic!("{user}'s verdict: not within {SOON:?}: {seen}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let shown = b.js(
        &format!(
            "const v = document.querySelector('{row} .tap-verdict');
             return {{ reason: v.dataset.reason, usable: v.dataset.usable,
                       label: v.querySelector('.pf-c-label').textContent,
                       tone: v.querySelector('.pf-c-label').dataset.tone }};"
        ),
        json!([]),
    );
    assert_eq!(shown["reason"], reason.as_str(), "{shown} vs {status}");
    assert_eq!(shown["label"], word["label"], "{shown}");
    assert_eq!(shown["tone"], word["tone"], "{shown}");
    let usable = if status["usable"] == true { "1" } else { "0" };
    assert_eq!(shown["usable"], usable, "{shown}");
    eprintln!("page: {user}'s pass shows {reason} ({})", word["label"]);
    if ended {
        reload(b, "#passes-all", OTHER);
    }
}

/// Marks the rows on the page, clicks `control` (which reloads the list) and waits until `user`'s
/// row is one drawn after it.
fn reload(b: &Browser, control: &str, user: &str) {
    b.js(
        "document.querySelectorAll('#passes-body tr').forEach(r => { r.dataset.drawnBefore = '1' }); return true;",
        json!([]),
    );
    b.click(control);
    b.wait_for(
        &format!("{user}'s row drawn again"),
        &format!("return !!document.querySelector('tr[data-user=\"{user}\"]:not([data-drawn-before])')"),
        SOON,
    );
}
