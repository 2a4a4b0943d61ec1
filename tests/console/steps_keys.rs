//! The console's SSH keys (key-only servers): an enrollment pass issued from the form, the key it
//! enrolls (through the real libpam and the module's enrollment step, as sshd runs it) listed on
//! the "SSH keys" tab and revoked there.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::machine::*;
use crate::steps::{shot, text_of, SOON};
use crate::webdriver::Browser;

/// A public key the client "proved" (sshd's SSH_AUTH_INFO_0 line), and its fingerprint.
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM4pmH4fO4hNTBvtG5iATBC5q8NDTT1XP1qDvLjc2hlm";
const FINGERPRINT: &str = "SHA256:stqvfm2CefTyMhDZBZfOhjjMRGIi1DIqYDSetHLmX0Q";

/// The enrollment step through pam_drive, with sshd's SSH_AUTH_INFO_0 set: what it printed.
fn enroll(user: &str, pass: &str) -> String {
    let mut c = Command::new(crate::support::paths::pam_drive())
        .args([
            ENROLL_SERVICE,
            user,
            &format!("putenv:SSH_AUTH_INFO_0=publickey {KEY}\n"),
            "authenticate",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{pass}").unwrap();
    String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned()
}

pub fn an_enrollment_pass_enrolls_a_key_the_page_lists_and_revokes(b: &Browser) {
    b.click("#issue-open");
    b.type_into("#issue-user", KEYED);
    b.click("#issue-enroll-key");
    b.click("#issue-submit");
    b.find("#tap-pass", SOON);
    let pass = text_of(b, "return document.getElementById('tap-pass').textContent");
    let facts = text_of(b, "return document.querySelector('.tap-pass-facts').textContent");
    assert!(facts.contains("ssh-keygen"), "{facts:?}");
    b.click("#tap-pass-done");
    let shown = tapctl_json(&["show", KEYED]);
    assert_eq!(shown["enroll_key"], true, "{shown}");
    assert_eq!(shown["reset_password"], false, "{shown}");

    let ran = enroll(KEYED, &pass);
    assert!(ran.contains("result authenticate=PAM_SUCCESS"), "{ran}");
    assert!(
        ran.contains(&format!("info: Key {FINGERPRINT} enrolled for {KEYED}")),
        "{ran}"
    );

    b.click("#tab-keys");
    let row = format!("tr[data-user=\"{KEYED}\"][data-fingerprint=\"{FINGERPRINT}\"]");
    b.wait_for(
        "the enrolled key's row",
        &format!("return !!document.querySelector('{row}')"),
        SOON,
    );
    shot(b, "console-keys.png");
    b.click(&format!("{row} .tap-key-revoke"));
    b.type_into("#key-revoke-reason", "laptop lost");
    b.click("#key-revoke-submit");
    b.wait_for(
        "the key revoke is confirmed",
        "return document.getElementById('tap-alerts').textContent.includes('Revoked key')",
        SOON,
    );
    b.wait_for(
        "the row is gone",
        &format!("return !document.querySelector('{row}')"),
        SOON,
    );
    assert_eq!(tapctl_json(&["keys", "list", KEYED]), json!([]));
    let revoked = audit(KEYED)
        .into_iter()
        .find(|e| e["event"] == "key_revoked")
        .expect("a key_revoked row");
    assert_eq!(revoked["operator"], HELPDESK);
    assert_eq!(revoked["reason"], format!("{FINGERPRINT}: laptop lost"));
    // The revoked key is unknown to the step again, and the used pass enrolls nothing more.
    let again = enroll(KEYED, &pass);
    assert!(again.contains("result authenticate=PAM_AUTH_ERR"), "{again}");
    b.click("#tab-passes");
    b.wait_for(
        "back on the passes tab",
        "return !document.getElementById('panel-passes').hidden",
        SOON,
    );
}
