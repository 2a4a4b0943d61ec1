//! The helpdesk console (cockpit/): Debian's cockpit-ws on loopback, Debian's chromium driven over
//! WebDriver, the sudo rule the guide documents, and the real PAM stack afterwards.
//!
//! A helpdesk logs in on Cockpit's own login page, issues a one-time pass in the page and reads it
//! off the dialog; the pass is gone from the document, storage and URL once the dialog closes; the
//! target logs in with it through pam_tap and pam_unix (pamtester): once, not twice; the audit log
//! names the helpdesk as operator; a revoke in the page is recorded with its reason. A viewer sees
//! the list without issue or revoke controls, and an issue request forged from the viewer's own
//! Cockpit session is refused by tapctl. A Cockpit user without the sudo rule is told so. Cockpit's
//! log never holds the pass.
//!
//! Everything runs inside demo/sandbox.sh (throwaway overlays of /etc /usr /var /home /root /tmp) in a
//! private PID namespace, so users, sudoers, the installed page and every server vanish afterwards.
//! The test re-runs itself in there; the outer half checks the host was left as it was. Screenshots
//! land in target/cockpit-screens/ (docs/guide/src/console/ holds the committed ones).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;
/// Two-person approval: a request approved in the page, collected by its requester.
mod approval_steps;
/// The sandboxed machine: users, policy, sudo rule, page, cockpit-ws and chromedriver.
mod machine;
/// The verdict of `tapctl status` beside each pass.
mod status_steps;
/// The helpdesk's, the viewer's and the rule-less user's steps through the page.
mod steps;
mod steps_keys;
/// A minimal WebDriver client for chromedriver.
mod webdriver;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use machine::*;

const INNER: &str = "PAM_TAP_CONSOLE_INNER";
const PASSED: &str = "COCKPIT CONSOLE TEST PASSED";
const TOOLS: [&str; 6] = [
    "/usr/lib/cockpit/cockpit-ws",
    "/usr/bin/cockpit-bridge",
    "/usr/bin/chromium",
    "/usr/bin/chromedriver",
    "/usr/bin/sudo",
    "/usr/bin/pamtester",
];

#[test]
fn helpdesk_issues_in_cockpit_target_logs_in_once_viewer_is_refused() {
    if std::env::var(INNER).is_ok() {
        inside_the_sandbox();
        println!("{PASSED}");
        return;
    }
    require_root!();
    let missing: Vec<_> = TOOLS.iter().filter(|t| !Path::new(t).exists()).collect();
    if !missing.is_empty() {
        let msg = format!("{missing:?} missing: `make deps` installs cockpit, chromium, chromium-driver, sudo");
        assert!(std::env::var("PAM_TAP_REQUIRE_CONSOLE").is_err(), "{msg}");
        eprintln!("SKIPPED: the Cockpit console test: {msg}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let before = host_state();
    let t = Instant::now();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount", "--mount-proc"])
        .arg(root.join("demo/sandbox.sh"))
        .arg(std::env::current_exe().unwrap())
        .args([
            "helpdesk_issues_in_cockpit_target_logs_in_once_viewer_is_refused",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("console test took {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(before, host_state(), "the host changed during the console test");
    assert!(out.status.success(), "the console test failed in the sandbox");
    assert!(stdout.contains(PASSED));
}

/// What the test must leave as it found it on the host.
fn host_state() -> Vec<(String, String)> {
    let mut state: Vec<(String, String)> = std::fs::read_dir("/etc/sudoers.d")
        .map(|d| d.map(|e| e.unwrap().path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap_or_default()))
        .collect();
    state.sort();
    for f in [
        "/usr/share/cockpit/pam-tap",
        "/usr/sbin/tapctl",
        "/etc/security/pam_tap.toml",
        "/etc/pam.d/tap-console-login",
    ] {
        state.push((f.into(), Path::new(f).exists().to_string()));
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    state.push(("test users".into(), passwd.contains("tap-helpdesk:").to_string()));
    state
}

/// The whole visit, step by step, on one sandboxed machine.
fn inside_the_sandbox() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t0 = Instant::now();
    let console = Console::set_up(&support::paths::tapctl(), &root.join("cockpit"));
    // An older pass in the list, issued by root at the command line.
    run(
        "/usr/sbin/tapctl",
        &["issue", OTHER, "--reason", "laptop swap", "--json"],
    );
    eprintln!("set up in {:.1} s", t0.elapsed().as_secs_f64());

    let t = Instant::now();
    let b = steps::helpdesk_opens_the_list(&console);
    steps::the_page_speaks_tapctls_vocabulary(&b);
    steps::the_keyboard_alone_moves_between_tabs_and_dialogs(&b);
    let pass = steps::helpdesk_issues_a_one_time_pass(&b);
    steps::the_pass_leaves_the_page_when_its_dialog_closes(&b, &pass);
    steps::the_target_logs_in_with_it_once(&pass);
    steps::a_refusal_reads_as_tapctl_wrote_it(&b);
    steps::show_log_policy_and_doctor(&b);
    steps::a_scoped_pass_is_issued_from_the_form(&b);
    status_steps::each_pass_shows_whether_it_would_log_in(&b, OTHER, false);
    steps::a_resting_pass_shows_as_resting_and_can_be_revoked(&b);
    status_steps::each_pass_shows_whether_it_would_log_in(&b, RESTING, true);
    steps::helpdesk_revokes_with_a_reason(&b);
    steps_keys::an_enrollment_pass_enrolls_a_key_the_page_lists_and_revokes(&b);
    approval_steps::a_request_is_approved_in_the_page_and_collected_by_its_requester(&b);
    drop(b);
    steps::a_viewer_sees_no_controls_and_a_forged_issue_is_refused(&console);
    steps::without_the_sudo_rule_the_page_says_what_to_do(&console);

    let ws_log = std::fs::read_to_string(&console.ws_log).unwrap();
    assert!(!ws_log.contains(&pass), "cockpit-ws logged the pass");
    eprintln!("browser part took {:.1} s", t.elapsed().as_secs_f64());
}

#[test]
fn the_page_keeps_no_copy_of_the_vocabulary() {
    // Statuses, events and roles reach the page from `tapctl vocabulary`; a word written into the
    // page would be a copy that drifts. The words are read from the code's own enums.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cockpit");
    let page = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "js" || x == "html"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    assert!(
        page.contains("keys revoke") && page.contains("approve"),
        "every script of the page is read"
    );
    let words = pam_tap_store::Status::all()
        .map(|s| s.as_str())
        .chain(pam_tap_store::Event::all().map(|e| e.as_str()))
        .chain(pam_tap_store::operator::Role::all().map(|r| r.word()))
        .chain(pam_tap_core::usability::Reason::ALL.iter().map(|r| r.word()));
    let quoted: Vec<&str> = words
        .filter(|w| {
            page.contains(&format!("\"{w}\"")) || page.contains(&format!("'{w}'")) || page.contains(&format!(">{w}<"))
        })
        .collect();
    assert_eq!(quoted, Vec::<&str>::new(), "the page spells these words itself");
}
