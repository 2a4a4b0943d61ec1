//! First login at a real graphical greeter (issue 12): LightDM with lightdm-gtk-greeter on Xvfb, its
//! `lightdm` PAM service reaching pam_tap through common-auth and common-password as
//! pam-auth-update places it, typed into with xdotool the way a new joiner types, photographed at
//! each step. See tests/e2e/lightdm.rs for how LightDM runs without touching the host.
//!
//! Runs only as root (skips loudly otherwise). The module must be built first (`cargo build`).
//! The screenshots land in $CARGO_TARGET_TMPDIR/greeter-shots (docs/guide/src/first-login holds a copy).

#![allow(clippy::disallowed_methods)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::lightdm::LightDm;
use crate::support::site::Issued;

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

/// What the session and the login keyring leave in the user's home.
struct Home {
    /// The login keyring pam_gnome_keyring makes at the first login.
    keyring: PathBuf,
    /// Who the session ran as (written by the session, removed to log out).
    session: PathBuf,
    /// Whether the session had GNOME_KEYRING_CONTROL.
    control: PathBuf,
    /// Whether the login keyring was locked in the session.
    keyring_locked: PathBuf,
}

impl Home {
    fn of(user: &User) -> Home {
        let home = PathBuf::from(format!("/home/{}", user.name));
        Home {
            keyring: home.join(".local/share/keyrings/login.keyring"),
            session: home.join("tap-session-user"),
            control: home.join("tap-keyring-control"),
            keyring_locked: home.join("tap-keyring-locked"),
        }
    }
}

#[test]
fn e2e_lightdm_gtk_greeter_first_login() {
    if !can_run("e2e_lightdm_gtk_greeter_first_login") {
        return;
    }
    let missing = crate::lightdm::missing_tools();
    assert!(
        missing.is_empty(),
        "missing {missing:?}: run `make deps` (Makefile GREETER_PACKAGES)"
    );
    let started = Instant::now();
    let tap = tap();
    the_keyring_follows_password_changes(&tap);
    let user = User::person().create();
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    let home = Home::of(&user);

    let modules = crate::keyring_module::private_module_dir(&tap.dir);
    let mut dm = LightDm::start(&tap.dir, &tap.pamd, &modules, &shots_dir());
    dm.shot("01-login-screen");
    first_login_with_the_pass(&mut dm, &user, &issued.pass);
    let session = the_session_runs_as_the_user_with_the_keyring(&mut dm, &user, &home);
    assert_ne!(user.shadow(), reset, "the new password was not written");
    assert_ne!(
        user.shadow().split(':').nth(2),
        Some("0"),
        "the change is still pending"
    );
    the_keyring_opens_with_the_new_password_only(&home, &issued.pass);
    log_out(&mut dm, &home, session);
    the_used_pass_is_refused(&mut dm, &user, &home, &issued.pass);
    the_new_password_logs_in(&mut dm, &user, &home);
    audit_and_syslog_tell_the_same(&tap, &user, &issued);
    drop(dm);
    println!(
        "greeter flow took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots_dir().display()
    );
}

/// common-password as pam-auth-update writes it once libpam-gnome-keyring is installed (Debian's
/// GNOME and Xfce tasks install it): the keyring follows password changes.
fn the_keyring_follows_password_changes(tap: &Site) {
    let common_password = tap.pamd.join("common-password");
    let mut text = fs::read_to_string(&common_password).unwrap();
    text.push_str("password\toptional\tpam_gnome_keyring.so\n");
    fs::write(&common_password, text).unwrap();
}

/// The user name, then the pass at LightDM's "Password:" prompt, told the password must change,
/// the new password twice: the session starts.
fn first_login_with_the_pass(dm: &mut LightDm, user: &User, pass: &str) {
    let greeted = dm.count("Prompt greeter with");
    dm.type_line(&user.name);
    dm.wait_log("Prompt greeter with", greeted + 1, "the password prompt");
    dm.settle();
    dm.type_text(pass);
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
}

/// The session runs as the user, with the keyring pam_gnome_keyring started at login (Debian's
/// `-auth optional pam_gnome_keyring.so` would skip a missing module silently). Returns the
/// session's processes.
fn the_session_runs_as_the_user_with_the_keyring(dm: &mut LightDm, user: &User, home: &Home) -> Vec<u32> {
    let who = wait_file(&home.session, dm, "the session");
    assert_eq!(
        fs::read_to_string(&home.control).unwrap().trim(),
        "set",
        "pam_gnome_keyring did not run: no GNOME_KEYRING_CONTROL in the session"
    );
    assert_eq!(who.trim(), user.name, "the session ran as {who:?}");
    dm.settle();
    let session = LightDm::processes_of(user.uid(), "Session started for");
    assert!(!session.is_empty(), "no session process runs as {}", user.name);
    dm.shot("05-session-started");
    session
}

/// The desktop's secrets follow: the login keyring made at this first login opens with the new
/// password, not with the pass, and the session found it unlocked (no "unlock your keyring").
fn the_keyring_opens_with_the_new_password_only(home: &Home, pass: &str) {
    assert!(home.keyring.exists(), "no login keyring after the first login");
    assert!(
        crate::keyring::opens_with(&home.keyring, NEW),
        "the login keyring does not open with the new password"
    );
    assert!(
        !crate::keyring::opens_with(&home.keyring, pass),
        "the login keyring opens with the pass"
    );
    assert_eq!(
        fs::read_to_string(&home.keyring_locked).unwrap().trim(),
        "(<false>,)",
        "login keyring locked"
    );
    fs::remove_file(&home.keyring_locked).unwrap();
}

/// Log out: the greeter comes back.
fn log_out(dm: &mut LightDm, home: &Home, session: Vec<u32>) {
    let greeters = dm.count("Greeter connected");
    let prompts = dm.count("Prompt greeter with");
    fs::remove_file(&home.session).unwrap();
    for pid in session {
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    dm.wait_log("Greeter connected", greeters + 1, "the greeter after logout");
    dm.wait_log("Prompt greeter with", prompts + 1, "the login prompt");
    dm.settle();
}

/// The pass again: refused, and the greeter says only what it says for any wrong password.
fn the_used_pass_is_refused(dm: &mut LightDm, user: &User, home: &Home, pass: &str) {
    let prompts = dm.count("Prompt greeter with");
    dm.type_line(&user.name);
    dm.wait_log("Prompt greeter with", prompts + 1, "the password prompt");
    dm.settle();
    let shadow = user.shadow();
    let prompts = dm.count("Prompt greeter with");
    dm.type_line(pass);
    dm.wait_log(
        &format!("Authenticate result for user {}: Authentication failure", user.name),
        1,
        "the refusal of the used pass",
    );
    dm.wait_log("Prompt greeter with", prompts + 1, "the prompt after the refusal");
    dm.settle();
    dm.shot("06-used-pass-refused");
    assert_eq!(user.shadow(), shadow, "a refused pass changed the account");
    assert!(!home.session.exists(), "a session started for the used pass");
}

/// The new password: straight in, no change asked, and the next login opens the same keyring
/// without asking.
fn the_new_password_logs_in(dm: &mut LightDm, user: &User, home: &Home) {
    dm.type_line(NEW);
    dm.wait_log(
        &format!("Authenticate result for user {}: Success", user.name),
        2,
        "the login with the new password",
    );
    let who = wait_file(&home.session, dm, "the second session");
    assert_eq!(who.trim(), user.name);
    dm.settle();
    dm.shot("07-new-password-session");
    assert_eq!(
        fs::read_to_string(&home.keyring_locked).unwrap().trim(),
        "(<false>,)",
        "login keyring locked"
    );
    assert!(crate::keyring::opens_with(&home.keyring, NEW));
}

/// The audit log and syslog say the same: the pass used at lightdm, then refused as used, and the
/// handoff in chauthtok.
fn audit_and_syslog_tell_the_same(tap: &Site, user: &User, issued: &Issued) {
    let events = tap.events_with_reasons(user);
    assert!(events.iter().any(|e| e.starts_with("used")), "{events:?}");
    assert!(events.iter().any(|e| e == "refused:used"), "{events:?}");
    let syslog = tap.syslog_for(user);
    let said = |needle: &str| syslog.iter().any(|l| l.contains(needle));
    let pass = format!("pass={}", issued.id);
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
        tap.log.text().contains("chauthtok service=lightdm outcome=handoff"),
        "{}",
        tap.log.text()
    );
    assert_eq!(tap.show(user)["status"], "used");
}

/// Runs `ops` on one PAM handle of `service` with the private pam.d, answering prompts in order;
/// returns what pam_drive printed (prompts, info lines, results).
fn pam_drive(tap: &Site, service: &str, user: &User, ops: &[&str], answers: &[&str]) -> String {
    let drive = tapctl().parent().unwrap().join("examples/pam_drive");
    assert!(
        drive.exists(),
        "{} is missing: cargo build --all-targets",
        drive.display()
    );
    let mut argv = vec![drive.to_str().unwrap(), service, user.name.as_str()];
    argv.extend_from_slice(ops);
    let modules = crate::keyring_module::private_module_dir(&tap.dir);
    let argv = crate::keyring_module::with_modules(&modules, &argv);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    // Its own pid namespace too: the gnome-keyring-daemon that gdm-password's session line starts
    // dies with pam_drive instead of outliving the throwaway user.
    let argv = tap.wrap(&argv);
    let mut child = std::process::Command::new(tool("unshare"))
        .args(["--pid", "--fork", "--kill-child"])
        .args(&argv)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for a in answers {
            let _ = writeln!(stdin, "{a}");
        }
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// GDM cannot run here (no systemd-logind, which GDM 43 needs to make seats and sessions), so its PAM
/// service, Debian 12's `gdm-password` verbatim, runs through the real libpam in the order GDM's
/// session worker calls it: authenticate, acct_mgmt, chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK) on
/// PAM_NEW_AUTHTOK_REQD, setcred, open_session. What stays unverified: GDM's own rendering of the
/// messages and its retry behaviour.
#[test]
fn gdm_password_service_first_login_through_libpam() {
    if !can_run("gdm_password_service_first_login_through_libpam") {
        return;
    }
    shipped_service_first_login_through_libpam("gdm-password");
}

/// SDDM is not run here either (its greeter needs a full Qt/QML stack, and whether it shows a
/// forced change at all is SDDM's business); this runs Debian 12's `sddm` service file the same way,
/// which proves the stack, not SDDM.
#[test]
fn sddm_service_first_login_through_libpam() {
    if !can_run("sddm_service_first_login_through_libpam") {
        return;
    }
    shipped_service_first_login_through_libpam("sddm");
}

/// A first login, a login with the new password and a refused pass through one of Debian's shipped
/// display-manager PAM services, in GDM's call order.
fn shipped_service_first_login_through_libpam(service: &str) {
    let tap = tap();
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/e2e/debian-pam.d")
            .join(service),
        tap.pamd.join(service),
    )
    .unwrap();
    let user = User::person().create();
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    let gdm = [
        "authenticate",
        "acct_mgmt",
        "chauthtok_expired",
        "setcred",
        "open_session",
        "env",
        "close_session",
    ];

    let first = pam_drive(&tap, service, &user, &gdm, &[&issued.pass, NEW, NEW]);
    for want in [
        "result authenticate=PAM_SUCCESS",
        "result acct_mgmt=PAM_NEW_AUTHTOK_REQD",
        "result chauthtok_expired=PAM_SUCCESS",
        "result setcred=PAM_SUCCESS",
        "result open_session=PAM_SUCCESS",
        &format!("info: {}", pam_tap_core::login::CHOOSE_NEW_PASSWORD),
        "prompt: New password: ",
        "prompt: Retype new password: ",
        // pam_gnome_keyring really ran (the service's `-auth` would skip a missing module).
        "env GNOME_KEYRING_CONTROL",
    ] {
        assert!(first.contains(want), "first login lacks {want:?}:\n{first}");
    }
    assert!(!first.contains("Current password"), "{first}");
    assert_ne!(user.shadow(), reset, "the new password was not written");

    let again = pam_drive(&tap, service, &user, &gdm, &[NEW]);
    assert!(again.contains("result authenticate=PAM_SUCCESS"), "{again}");
    assert!(again.contains("result acct_mgmt=PAM_SUCCESS"), "{again}");

    let used = pam_drive(&tap, service, &user, &["authenticate"], &[&issued.pass]);
    assert!(used.contains("result authenticate=PAM_AUTH_ERR"), "{used}");
    assert!(!used.contains("info:"), "a refused pass was told something: {used}");
    let events = tap.events_with_reasons(&user);
    assert!(events.iter().any(|e| e == "refused:used"), "{events:?}");
    let syslog = tap.log.text();
    assert!(
        syslog.contains(&format!(
            "auth service={service} user={} pass={} outcome=accepted",
            user.name, issued.id
        )),
        "{syslog}"
    );
    println!("--- {service}, first login ---\n{first}");
}
