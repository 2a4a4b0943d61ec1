//! The steps of the console visit (tests/console/main.rs runs them in order on one machine). Each
//! leaves the browser in the page's frame, on the passes tab, with no dialog open.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::machine::*;
use crate::webdriver::Browser;

pub(crate) const PAGE_FRAME: &str = "iframe[name='cockpit1:localhost/pam-tap']";
pub(crate) const SOON: Duration = Duration::from_secs(20);

fn screens() -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cockpit-screens");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A screenshot of the whole Cockpit window (shell and page), then back into the page's frame.
pub(crate) fn shot(b: &Browser, name: &str) {
    b.leave_frame();
    b.screenshot(&screens().join(name));
    b.enter_frame(PAGE_FRAME);
}

pub(crate) fn str_of(v: Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

pub(crate) fn text_of(b: &Browser, script: &str) -> String {
    str_of(b.js(script, json!([])))
}

pub(crate) fn row_shows(b: &Browser, user: &str) {
    b.wait_for(
        &format!("{user}'s row"),
        &format!("return !!document.querySelector('tr[data-user=\"{user}\"]')"),
        SOON,
    );
}

/// The helpdesk logs in on Cockpit's own login page and sees the list, as an issuer.
pub fn helpdesk_opens_the_list(console: &Console) -> Browser {
    let b = console.browser("helpdesk");
    b.viewport(1280, 800);
    log_in_and_open(&b, console, HELPDESK);
    assert_eq!(text_of(&b, "return document.body.dataset.role"), "issuer");
    row_shows(&b, OTHER);
    shot(&b, "console-list.png");
    b
}

/// Every status, event and role tapctl knows is on the page, in tapctl's words.
pub fn the_page_speaks_tapctls_vocabulary(b: &Browser) {
    let vocab = tapctl_json(&["vocabulary"]);
    let legend = b.js(
        "return [...document.querySelectorAll('#status-legend .tap-legend-row')].map(r => ({
             status: r.dataset.status,
             label: r.querySelector('.pf-c-label').textContent,
             tone: r.querySelector('.pf-c-label').dataset.tone,
             meaning: r.querySelector('.tap-why').textContent }))",
        json!([]),
    );
    let expected: Vec<Value> = vocab["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"status": s["status"], "label": s["label"], "tone": s["tone"], "meaning": s["meaning"]}))
        .collect();
    assert_eq!(
        legend,
        json!(expected),
        "the legend shows every status as tapctl words it"
    );
    let options = b.js(
        "return [...document.querySelectorAll('#log-event option')].map(o => o.value).filter(v => v)",
        json!([]),
    );
    let events: Vec<&Value> = vocab["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["event"])
        .collect();
    assert_eq!(options, json!(events), "the audit log filter offers every event");
    let whoami = text_of(b, "return document.getElementById('tap-whoami').textContent");
    assert!(whoami.ends_with("— issuer"), "{whoami:?}");
    b.js("document.getElementById('status-legend-box').open = true", json!([]));
    shot(b, "console-legend.png");
    b.js("document.getElementById('status-legend-box').open = false", json!([]));
}

/// Arrow keys move between tabs, Enter opens the issue dialog, Escape closes it.
pub fn the_keyboard_alone_moves_between_tabs_and_dialogs(b: &Browser) {
    let focused = |b: &Browser| text_of(b, "return document.activeElement.id");
    b.js("document.getElementById('tab-passes').focus()", json!([]));
    b.press("\u{E014}"); // arrow right
    b.wait_for(
        "arrow right selects the audit log tab",
        "return !document.getElementById('panel-log').hidden",
        Duration::from_secs(5),
    );
    b.press("\u{E012}"); // arrow left
    b.wait_for(
        "arrow left goes back to the passes",
        "return !document.getElementById('panel-passes').hidden",
        Duration::from_secs(5),
    );
    row_shows(b, OTHER);
    b.js("document.getElementById('issue-open').focus()", json!([]));
    b.press("\u{E007}"); // Enter
    b.find("#issue-form", Duration::from_secs(5));
    assert_eq!(focused(b), "issue-user", "the dialog opens with the user field focused");
    b.press("\u{E00C}"); // Escape
    b.wait_for(
        "Escape closes the dialog",
        "return !document.getElementById('issue-form')",
        Duration::from_secs(5),
    );
    assert_eq!(focused(b), "issue-open", "focus goes back to the button");
}

/// The helpdesk issues a one-time pass in the page and reads it off the dialog.
pub fn helpdesk_issues_a_one_time_pass(b: &Browser) -> String {
    b.click("#issue-open");
    b.type_into("#issue-user", TARGET);
    b.type_into("#issue-lifetime", "2h");
    b.type_into("#issue-reason", "ticket 4711: phone lost");
    b.js(
        "document.querySelector('.pf-c-modal-box__body').scrollTop = 0",
        json!([]),
    );
    shot(b, "console-issue.png");
    b.click("#issue-submit");
    b.find("#tap-pass", Duration::from_secs(30));
    let pass = text_of(b, "return document.getElementById('tap-pass').textContent");
    assert_eq!(pass.len(), 10, "a pass of the policy's length on the page: {pass:?}");
    assert!(pass.chars().all(|c| c.is_ascii_alphanumeric()), "{pass:?}");
    b.click("#tap-copy");
    b.wait_for(
        "the copy button answers",
        "return document.querySelector('.tap-copied').textContent.length > 0",
        Duration::from_secs(10),
    );
    assert_eq!(
        text_of(b, "return document.querySelector('.tap-copied').textContent"),
        "Copied"
    );
    shot(b, "console-pass.png");
    b.viewport(390, 844);
    shot(b, "console-pass-phone.png");
    b.viewport(1280, 800);
    pass
}

/// Closing the dialog takes the pass out of the page; it was never in storage or the URL.
pub fn the_pass_leaves_the_page_when_its_dialog_closes(b: &Browser, pass: &str) {
    b.click("#tap-pass-done");
    b.wait_for(
        "the pass dialog closes",
        "return !document.getElementById('tap-pass')",
        Duration::from_secs(10),
    );
    assert_eq!(pass_anywhere(b, pass), json!([]), "the pass is still in the page");
    b.leave_frame();
    assert_eq!(pass_anywhere(b, pass), json!([]), "the pass is in Cockpit's shell");
    b.enter_frame(PAGE_FRAME);
    row_shows(b, TARGET);
    b.viewport(390, 844);
    shot(b, "console-list-phone.png");
    b.viewport(1280, 800);
}

/// The target logs in with the pass through the real PAM stack: once, and the audit log names
/// the Cockpit user as its issuer.
pub fn the_target_logs_in_with_it_once(pass: &str) {
    assert!(
        pamtester(TARGET, pass),
        "the pass from the page does not log {TARGET} in"
    );
    assert!(!pamtester(TARGET, pass), "a one-time pass logged in twice");
    let issued = audit(TARGET)
        .into_iter()
        .find(|e| e["event"] == "issued")
        .expect("an issued row");
    assert_eq!(
        issued["operator"], HELPDESK,
        "the audit row names the Cockpit user: {issued}"
    );
    assert_eq!(issued["reason"], "ticket 4711: phone lost");
    assert!(audit(TARGET).iter().any(|e| e["event"] == "used"));
}

/// Nobody issues a pass for themselves; the dialog shows tapctl's own line.
pub fn a_refusal_reads_as_tapctl_wrote_it(b: &Browser) {
    b.click("#issue-open");
    b.type_into("#issue-user", HELPDESK);
    b.click("#issue-submit");
    b.wait_for(
        "the refusal in the dialog",
        "const e = document.querySelector('.tap-dialog-error .tap-refusal'); return !!e && e.textContent.length > 0",
        SOON,
    );
    let refusal = text_of(
        b,
        "return document.querySelector('.tap-dialog-error .tap-refusal').textContent",
    );
    assert!(
        refusal.starts_with("tapctl: ") && refusal.contains("may not act on their own pass"),
        "{refusal:?}"
    );
    b.click(".pf-c-modal-box .pf-c-button.pf-m-link");
}

/// Show, the audit log filtered by operator, the policy, and doctor's refusal for an operator.
pub fn show_log_policy_and_doctor(b: &Browser) {
    b.click(&format!("tr[data-user=\"{TARGET}\"] .pf-c-button.pf-m-link"));
    b.wait_for(
        "the show dialog",
        "const m = document.querySelector('.pf-c-modal-box'); return !!m && m.textContent.includes('Used')",
        SOON,
    );
    b.click(".pf-c-modal-box .pf-c-button.pf-m-primary");
    b.click("#tab-log");
    b.type_into("#log-operator", HELPDESK);
    b.click("#log-filters button[type=submit]");
    b.wait_for(
        "the helpdesk's audit rows",
        "const rows = [...document.querySelectorAll('#log-body tr')];
         return rows.length > 0 && rows.every(r => r.textContent.includes('tap-helpdesk'))
             && rows.some(r => r.dataset.event === 'issued')",
        SOON,
    );
    shot(b, "console-log.png");
    b.click("#tab-policy");
    b.wait_for(
        "the policy",
        "return document.getElementById('policy-body').textContent.includes('max_failures')",
        SOON,
    );
    shot(b, "console-policy.png");
    b.click("#tab-doctor");
    b.wait_for(
        "doctor's refusal for an operator",
        "const a = document.querySelector('#tap-alerts .tap-refusal');
         return !!a && a.textContent.includes(\"doctor is root's only\")",
        Duration::from_secs(30),
    );
    shot(b, "console-doctor.png");
    b.click("#tab-passes");
    row_shows(b, OTHER);
}

/// The issue form narrows a pass to a service and a host; the pass works there and tapctl
/// records the scope.
pub fn a_scoped_pass_is_issued_from_the_form(b: &Browser) {
    let host = str_of(tapctl_json(&["policy"])["host_name"].clone());
    b.click("#issue-open");
    b.type_into("#issue-user", SCOPED);
    b.click(&format!("input[name=issue-service][value=\"{LOGIN_SERVICE}\"]"));
    b.type_into("#issue-hosts", &format!("{host}, elsewhere"));
    b.js(
        "document.querySelector('.pf-c-modal-box__body').scrollTop = 100000",
        json!([]),
    );
    shot(b, "console-issue-scopes.png");
    b.click("#issue-submit");
    b.find("#tap-pass", Duration::from_secs(30));
    let pass = text_of(b, "return document.getElementById('tap-pass').textContent");
    let facts = text_of(b, "return document.querySelector('.tap-pass-facts').textContent");
    assert!(
        facts.contains(LOGIN_SERVICE) && facts.contains("elsewhere"),
        "{facts:?}"
    );
    b.click("#tap-pass-done");
    let shown = tapctl_json(&["show", SCOPED]);
    assert_eq!(shown["services"], LOGIN_SERVICE, "{shown}");
    assert_eq!(shown["hosts"], format!("{host},elsewhere"), "{shown}");
    assert!(
        pamtester(SCOPED, &pass),
        "the scoped pass does not log in at its service and host"
    );
}

/// A pass resting after wrong answers shows as resting, in its tone, with a Revoke button.
pub fn a_resting_pass_shows_as_resting_and_can_be_revoked(b: &Browser) {
    let issued = tapctl_json(&["issue", RESTING, "--keep-password"]);
    let pass = str_of(issued["pass"].clone());
    // Pass-shaped but wrong: the last character changed.
    let last = pass.chars().last().unwrap();
    let wrong = format!("{}{}", &pass[..pass.len() - 1], if last == 'A' { 'B' } else { 'A' });
    let max_failures = tapctl_json(&["policy"])["max_failures"].as_u64().unwrap();
    for _ in 0..max_failures {
        assert!(!pamtester(RESTING, &wrong), "a wrong pass logged in");
    }
    assert_eq!(tapctl_json(&["show", RESTING])["status"], "resting");
    b.click("#passes-refresh");
    row_shows(b, RESTING);
    let row = format!("tr[data-user=\"{RESTING}\"]");
    let tone = text_of(
        b,
        &format!("return document.querySelector('{row} .pf-c-label').dataset.tone"),
    );
    let class = text_of(
        b,
        &format!("return document.querySelector('{row} .pf-c-label').className"),
    );
    assert_eq!(tone, "warning");
    assert!(class.contains("pf-m-orange"), "{class:?}");
    b.click(&format!("{row} .tap-revoke"));
    b.click("#revoke-submit");
    b.wait_for(
        "the resting pass is revoked",
        "return document.getElementById('tap-alerts').textContent.includes('Revoked pass')",
        SOON,
    );
    assert_eq!(tapctl_json(&["show", RESTING])["status"], "revoked");
}

/// Revoke with a reason, in the page; the audit row names the helpdesk and the reason.
pub fn helpdesk_revokes_with_a_reason(b: &Browser) {
    row_shows(b, OTHER);
    b.click(&format!("tr[data-user=\"{OTHER}\"] .tap-revoke"));
    b.type_into("#revoke-reason", "found the laptop");
    b.click("#revoke-submit");
    b.wait_for(
        "the revoke is confirmed",
        &format!("return document.getElementById('tap-alerts').textContent.includes('of {OTHER}')"),
        SOON,
    );
    let revoked = audit(OTHER)
        .into_iter()
        .find(|e| e["event"] == "revoked")
        .expect("a revoked row");
    assert_eq!(revoked["operator"], HELPDESK);
    assert_eq!(revoked["reason"], "found the laptop");
}

/// A viewer sees the list without issue or revoke controls, and tapctl refuses an issue forged
/// from the viewer's own Cockpit session.
pub fn a_viewer_sees_no_controls_and_a_forged_issue_is_refused(console: &Console) {
    run("/usr/sbin/tapctl", &["issue", OTHER, "--json"]);
    let v = console.browser("viewer");
    v.viewport(1280, 800);
    log_in_and_open(&v, console, VIEWER);
    assert_eq!(text_of(&v, "return document.body.dataset.role"), "viewer");
    row_shows(&v, OTHER);
    // Rendered, not merely flagged: a `hidden` attribute loses to a stylesheet's `display`.
    let controls = v.js(
        "const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
         return [...document.querySelectorAll('#issue-open, .tap-revoke, button')]
             .filter(shown)
             .map(e => e.textContent.trim())
             .filter(t => /issue|revoke/i.test(t));",
        json!([]),
    );
    assert_eq!(controls, json!([]), "a viewer sees no issue or revoke control");
    shot(&v, "console-viewer.png");
    // The forgery also claims to be the helpdesk through SUDO_USER: sudo sets it from the real
    // caller, whatever the environment says.
    let forged = str_of(v.js_async(
        "const done = arguments[arguments.length - 1];
         cockpit.spawn(['sudo', '-n', '/usr/sbin/tapctl', 'issue', '--json', '--replace', '--', arguments[0]],
                       { err: 'message', environ: ['SUDO_USER=' + arguments[1]] })
             .then(out => done('ISSUED ' + out), ex => done('REFUSED ' + ex.message));",
        json!([OTHER, HELPDESK]),
    ));
    assert!(
        forged.starts_with("REFUSED tapctl: ") && forged.contains(&format!("{VIEWER} is a viewer")),
        "a forged issue from the viewer's session: {forged}"
    );
    assert!(
        !audit(OTHER)
            .iter()
            .any(|e| e["event"] == "issued" && e["operator"] == VIEWER),
        "a viewer issued a pass"
    );
}

/// Without the sudo rule the page says so, in sudo's words, and what to do.
pub fn without_the_sudo_rule_the_page_says_what_to_do(console: &Console) {
    let n = console.browser("norule");
    log_in_and_open(&n, console, NO_RULE);
    let said = text_of(&n, "return document.getElementById('tap-alerts').textContent");
    assert!(
        said.contains("tapctl cannot run for this account")
            && said.contains("sudo: a password is required")
            && said.contains("no sudo rule for tapctl"),
        "{said:?}"
    );
}
