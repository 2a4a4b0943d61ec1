//! Two-person approval in the page: a second helpdesk's request for a pass (made at the command
//! line through the real sudo) shows in the first helpdesk's page with Approve and Deny; approved
//! there, it is collected by its requester, and the target logs in with the pass.

use std::time::Duration;

use serde_json::{json, Value};

use crate::machine::*;
use crate::webdriver::Browser;

const SOON: Duration = Duration::from_secs(20);

/// `sudo -n /usr/sbin/tapctl ARGS --json` as `user`, through the sudo rule; parsed.
fn tapctl_as(user: &str, args: &[&str]) -> Value {
    let mut all = vec![
        "--reuid",
        user,
        "--regid",
        user,
        "--init-groups",
        "sudo",
        "-n",
        "/usr/sbin/tapctl",
    ];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_str(&run("setpriv", &all)).unwrap()
}

/// The request row's buttons and state cell, as the page renders them.
fn row(b: &Browser, id: i64) -> Value {
    b.js(
        "const r = document.querySelector(`tr[data-request=\"${arguments[0]}\"]`);
         if (!r) return null;
         return { state: r.querySelector('[data-label=State]').textContent,
                  buttons: [...r.querySelectorAll('button')].map(x => x.textContent) };",
        json!([id.to_string()]),
    )
}

pub fn a_request_is_approved_in_the_page_and_collected_by_its_requester(b: &Browser) {
    let requested = tapctl_as(HELPDESK2, &["issue", VIP, "--reason", "vip locked out"]);
    assert!(requested.get("pass").is_none(), "a request shows no pass: {requested}");
    let id = requested["id"].as_i64().unwrap();
    b.click("#passes-refresh");
    b.wait_for(
        "the request's row with its buttons",
        &format!("return !!document.querySelector('tr[data-request=\"{id}\"] .tap-approve')"),
        SOON,
    );
    assert_eq!(row(b, id), json!({"state": "pending", "buttons": ["Approve", "Deny"]}));
    crate::steps::shot(b, "console-approval.png");
    b.click(&format!("tr[data-request=\"{id}\"] .tap-approve"));
    b.wait_for(
        "the approval is confirmed",
        &format!(
            "return document.getElementById('tap-alerts').textContent.includes('Request {id} for {VIP} approved')"
        ),
        SOON,
    );
    b.wait_for(
        "the row shows the approval",
        &format!("const r = document.querySelector('tr[data-request=\"{id}\"] [data-label=State]'); return !!r && r.textContent !== 'pending'"),
        SOON,
    );
    assert_eq!(
        row(b, id),
        json!({"state": "approved", "buttons": []}),
        "the approver may not collect"
    );
    let issued = tapctl_as(HELPDESK2, &["collect", &id.to_string()]);
    let pass = issued["pass"].as_str().unwrap();
    assert!(pamtester(VIP, pass), "the collected pass logs {VIP} in");
    let events: Vec<(String, String)> = audit(VIP)
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().into(),
                e["operator"].as_str().unwrap_or("-").into(),
            )
        })
        .collect();
    let want = [
        ("requested", HELPDESK2),
        ("approved", HELPDESK),
        ("issued", HELPDESK2),
        ("collected", HELPDESK2),
    ];
    for (event, by) in want {
        assert!(
            events.contains(&(event.into(), by.into())),
            "{event} by {by} in {events:?}"
        );
    }
    b.click("#passes-refresh");
    b.wait_for(
        "the collected request leaves the list",
        &format!("return !document.querySelector('tr[data-request=\"{id}\"]')"),
        SOON,
    );
}
