//! The real sudo under a private pam.d and sudoers: a pass is not a sudo password, `--service`
//! narrows a pass, and after a first login the new password opens sudo.

use super::*;

/// A private copy of /etc/pam.d whose common-auth has pam_tap first (Debian's shape), so Debian's
/// own /etc/pam.d/sudo, which includes it, sees pam_tap.
fn pamd_with_tap_in_common_auth(dir: &Path, site: &Site) -> PathBuf {
    let pamd = dir.join("pam.d");
    let out = Command::new("cp")
        .arg("-a")
        .arg("/etc/pam.d")
        .arg(&pamd)
        .output()
        .unwrap();
    assert!(out.status.success(), "cp: {}", stderr(&out));
    let m = format!(
        "{} config={}",
        crate::support::paths::module().display(),
        site.config.display()
    );
    std::fs::write(
        pamd.join("common-auth"),
        format!(
            "auth [success=2 default=ignore] {m}\n\
             auth [success=1 default=ignore] pam_unix.so nullok try_first_pass\n\
             auth requisite pam_deny.so\n\
             auth required pam_permit.so\n"
        ),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(pamd.join("sudo"))
            .unwrap()
            .contains("common-auth"),
        "this sudo's pam.d file does not include common-auth"
    );
    pamd
}

/// The real `sudo true` as `who`, answering its password prompt with `answer`, under a private
/// pam.d and sudoers.
fn sudo_true(pamd: &Path, sudoers: &Path, who: &str, answer: &str) -> Output {
    in_private_mounts(
        &[(pamd, "/etc/pam.d"), (sudoers, "/etc/sudoers")],
        &[
            "setpriv",
            &format!("--reuid={who}"),
            &format!("--regid={who}"),
            "--init-groups",
            "sudo",
            "-S",
            "-k",
            "-p",
            "",
            "true",
        ],
        &format!("{answer}\n"),
    )
}

#[test]
fn a_pass_is_not_a_sudo_password_and_service_narrows_a_pass() {
    require_root!();
    if !Path::new("/usr/bin/sudo").exists() {
        panic!("sudo is not installed (apt-get install sudo; the Makefile's deps do)");
    }
    let site = Site::new("");
    let ann = User::with_password("Ann-old-password-1");
    let bob = User::with_password("Bob-old-password-1");
    let code = pass_of(&site.issue(&ann.name, &["--keep-password", "--reusable"]));
    let d = scratch();
    let pamd = pamd_with_tap_in_common_auth(d.path(), &site);
    let s = sudoers(d.path(), &[&ann.name, &bob.name]);
    let sudo_as = |who: &str, answer: &str| sudo_true(&pamd, &s, who, answer);
    // The pass at sudo: refused, audited as such.
    let r = sudo_as(&ann.name, &code);
    assert!(!r.status.success(), "a pass opened sudo: {}", stderr(&r));
    assert!(
        refused_with(&site, &ann.name, "service"),
        "{:?}",
        audit(&site, &ann.name)
    );
    // Passwords at sudo: pam_unix, as ever, for the pass holder and for a user without a pass.
    let r = sudo_as(&ann.name, "Ann-old-password-1");
    assert!(r.status.success(), "ann's password at sudo: {}", stderr(&r));
    let r = sudo_as(&bob.name, "Bob-old-password-1");
    assert!(r.status.success(), "bob's password at sudo: {}", stderr(&r));
    // The same pass still logs in at a login service.
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");

    // --service narrows within the policy's list, never beyond it.
    refused(
        &site.tapctl(&["issue", &bob.name, "--service", "sudo"]),
        &["--service", "sudo"],
    );
    let narrow = pass_of(&site.issue(&bob.name, &["--keep-password", "--reusable", "--service", "login"]));
    assert_eq!(auth(&site, &bob.name, &narrow), "PAM_AUTH_ERR");
    assert!(refused_with(&site, &bob.name, "service"));
    let wide = pass_of(&site.issue(
        &bob.name,
        &[
            "--keep-password",
            "--reusable",
            "--replace",
            "--service",
            "login",
            "--service",
            "svc",
        ],
    ));
    assert_eq!(auth(&site, &bob.name, &wide), "PAM_SUCCESS");
}

#[test]
fn after_a_first_login_the_new_password_opens_sudo_and_the_pass_does_not() {
    require_root!();
    if !Path::new("/usr/bin/sudo").exists() {
        panic!("sudo is not installed (apt-get install sudo; the Makefile's deps do)");
    }
    const NEW_PW: &str = "Cal-chose-this-1";
    let site = Site::new("");
    let cal = User::with_password("Cal-old-password-1");
    // The policy's defaults: an admin reset, the pass one-time.
    let code = pass_of(&site.issue(&cal.name, &[]));
    let first = site.pam(
        &cal.name,
        &["authenticate", "acct_mgmt", "chauthtok_expired"],
        &[&code, NEW_PW, NEW_PW],
    );
    assert_eq!(first.result("chauthtok_expired"), "PAM_SUCCESS", "{}", first.stdout);
    let d = scratch();
    let pamd = pamd_with_tap_in_common_auth(d.path(), &site);
    let s = sudoers(d.path(), &[&cal.name]);
    let sudo_with = |answer: &str| sudo_true(&pamd, &s, &cal.name, answer);
    let r = sudo_with(NEW_PW);
    assert!(r.status.success(), "the new password at sudo: {}", stderr(&r));
    for (what, answer) in [("the pass", code.as_str()), ("the old password", "Cal-old-password-1")] {
        let r = sudo_with(answer);
        assert!(!r.status.success(), "{what} opened sudo after the first login");
    }
}
