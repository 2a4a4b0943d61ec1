//! First login at a real graphical greeter (issue 12): LightDM with lightdm-gtk-greeter on Xvfb, its
//! `lightdm` PAM service reaching pam_tap through common-auth and common-password as
//! pam-auth-update places it, typed into with xdotool the way a new joiner types, photographed at
//! each step. See tests/e2e/lightdm.rs for how LightDM runs without touching the host.
//!
//! Runs only as root (skips loudly otherwise). The module must be built first (`cargo build`).
//! The screenshots land in $CARGO_TARGET_TMPDIR/greeter-shots (docs/first-login holds a copy).

#![allow(clippy::disallowed_methods)]

#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/lightdm.rs"]
mod lightdm;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harness::*;
use lightdm::LightDm;

const NEW: &str = "Gr33ter-first-Word";

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("greeter-shots")
}

/// Waits for `path` to exist (the session writes it as the user).
fn wait_file(path: &Path, dm: &mut LightDm, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(t) = fs::read_to_string(path) {
            if !t.is_empty() {
                return t;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: {} never appeared\n{}", path.display(), dm.logs());
}

#[test]
fn e2e_lightdm_gtk_greeter_first_login() {
    if !can_run("e2e_lightdm_gtk_greeter_first_login") {
        return;
    }
    let missing = lightdm::missing_tools();
    assert!(
        missing.is_empty(),
        "missing {missing:?}: run `make deps` (Makefile GREETER_PACKAGES)"
    );
    let started = Instant::now();
    let tap = Tap::new();
    let user = User::new();
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    let session_file = PathBuf::from(format!("/home/{}/tap-session-user", user.name));

    let mut dm = LightDm::start(&tap.scratch, &tap.pam, &shots_dir());
    dm.shot("01-login-screen");

    // The user name, then the pass at LightDM's "Password:" prompt.
    let greeted = dm.count("Prompt greeter with");
    dm.type_line(&user.name);
    dm.wait_log("Prompt greeter with", greeted + 1, "the password prompt");
    dm.settle();
    dm.type_text(&issued.pass);
    dm.shot("02-pass-typed");
    let prompts = dm.count("Prompt greeter with");
    dm.key("Return");
    // pam_unix: "You are required to change your password immediately", "Changing password for";
    // pam_tap: the line that says what is happening; then the "New password" prompt.
    dm.wait_log(
        "Prompt greeter with",
        prompts + 4,
        "the change messages and the new-password prompt",
    );
    dm.settle();
    dm.shot("03-choose-new-password");
    let prompts = dm.count("Prompt greeter with");
    dm.type_line(NEW);
    dm.wait_log("Prompt greeter with", prompts + 1, "the retype prompt");
    dm.settle();
    dm.shot("04-retype-new-password");
    dm.type_line(NEW);
    dm.wait_log(
        &format!("Authenticate result for user {}: Success", user.name),
        1,
        "the first login",
    );
    dm.wait_log("Running command /etc/X11/Xsession", 1, "the user's session");

    // The session runs as the user.
    let who = wait_file(&session_file, &mut dm, "the session");
    assert_eq!(who.trim(), user.name, "the session ran as {who:?}");
    dm.settle();
    let session = LightDm::processes_of(user.uid(), "Session started for");
    assert!(!session.is_empty(), "no session process runs as {}", user.name);
    dm.shot("05-session-started");
    assert_ne!(user.shadow(), reset, "the new password was not written");
    assert_ne!(
        user.shadow().split(':').nth(2),
        Some("0"),
        "the change is still pending"
    );

    // Log out: the greeter comes back.
    let greeters = dm.count("Greeter connected");
    let prompts = dm.count("Prompt greeter with");
    fs::remove_file(&session_file).unwrap();
    for pid in session {
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    dm.wait_log("Greeter connected", greeters + 1, "the greeter after logout");
    dm.wait_log("Prompt greeter with", prompts + 1, "the login prompt");
    dm.settle();

    // The pass again: refused, and the greeter says only what it says for any wrong password.
    let prompts = dm.count("Prompt greeter with");
    dm.type_line(&user.name);
    dm.wait_log("Prompt greeter with", prompts + 1, "the password prompt");
    dm.settle();
    let shadow = user.shadow();
    let prompts = dm.count("Prompt greeter with");
    dm.type_line(&issued.pass);
    dm.wait_log(
        &format!("Authenticate result for user {}: Authentication failure", user.name),
        1,
        "the refusal of the used pass",
    );
    dm.wait_log("Prompt greeter with", prompts + 1, "the prompt after the refusal");
    dm.settle();
    dm.shot("06-used-pass-refused");
    assert_eq!(user.shadow(), shadow, "a refused pass changed the account");
    assert!(!session_file.exists(), "a session started for the used pass");

    // The new password: straight in, no change asked.
    dm.type_line(NEW);
    dm.wait_log(
        &format!("Authenticate result for user {}: Success", user.name),
        2,
        "the login with the new password",
    );
    let who = wait_file(&session_file, &mut dm, "the second session");
    assert_eq!(who.trim(), user.name);
    dm.settle();
    dm.shot("07-new-password-session");

    // The audit log and syslog say the same.
    let events = tap.events(&user);
    assert!(events.iter().any(|e| e.starts_with("used")), "{events:?}");
    assert!(events.iter().any(|e| e == "refused:used"), "{events:?}");
    let syslog = tap.syslog_for(&user);
    let said = |needle: &str| syslog.iter().any(|l| l.contains(needle));
    let pass = format!("pass={}", issued.pass_id);
    assert!(
        said(&format!(
            "auth service=lightdm user={} {pass} outcome=accepted",
            user.name
        )),
        "{syslog:#?}"
    );
    assert!(
        said(&format!("auth service=lightdm user={} {pass} outcome=used", user.name)),
        "{syslog:#?}"
    );
    assert!(
        tap.syslog.text().contains("chauthtok service=lightdm outcome=handoff"),
        "{}",
        tap.syslog.text()
    );
    assert_eq!(tap.show(&user)["status"], "used");
    drop(dm);
    println!(
        "greeter flow took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots_dir().display()
    );
}
