//! The step that sees `tapctl status` on the page (cockpit/status.js): beside a user's newest pass,
//! the verdict tapctl gives, in the vocabulary's words and tone.

use std::time::Duration;

use serde_json::json;

use crate::machine::*;
use crate::webdriver::Browser;

const SOON: Duration = Duration::from_secs(20);

/// `user`'s row shows the reason `tapctl status` gives, labelled as `tapctl vocabulary` says.
pub fn each_pass_shows_whether_it_would_log_in(b: &Browser, user: &str) {
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
    b.click("#passes-refresh");
    let row = format!("tr[data-user=\"{user}\"]");
    b.wait_for(
        &format!("{user}'s verdict"),
        &format!("return !!document.querySelector('{row} .tap-verdict')"),
        SOON,
    );
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
}
