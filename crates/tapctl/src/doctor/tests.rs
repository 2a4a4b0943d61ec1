//! doctor against fixture trees (root: they own files), and how a pam.d line splits.

use super::*;
use crate::pamd::split_fields;
use pam_tap_base::safefile::Trust;
use std::fs;
use std::os::unix::fs::PermissionsExt;

const NOW: i64 = 1_800_000_000; // 2027-01-15

const COMMON_AUTH: &str = "\
auth\t[success=2 default=ignore]\tpam_tap.so
auth\t[success=1 default=ignore]\tpam_unix.so nullok try_first_pass
auth\trequisite\t\t\tpam_deny.so
auth\trequired\t\t\tpam_permit.so
";
const COMMON_PASSWORD: &str = "\
password\trequisite\t\t\tpam_tap.so
password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
password\trequisite\t\t\tpam_deny.so
password\trequired\t\t\tpam_permit.so
";

/// A Debian-like tree: config, initialised database, wired common-*, sshd with kbd-int.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    /// The tree's files are the test's own user's, and trusted as root's are outside tests
    /// (`Options::trust`): the same checks, as any user.
    fn new() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let t = Tree { dir };
        t.write("etc/security/pam_tap.toml", 0o600, "enabled = true\n");
        t.write("etc/pam.d/common-auth", 0o644, COMMON_AUTH);
        t.write("etc/pam.d/common-password", 0o644, COMMON_PASSWORD);
        t.write(
            "etc/pam.d/sshd",
            0o644,
            "@include common-auth\naccount required pam_nologin.so\n@include common-password\n",
        );
        t.write(
            "etc/pam.d/sudo",
            0o644,
            "@include common-auth\n@include common-account\n",
        );
        t.write("etc/pam.d/common-account", 0o644, "account required pam_unix.so\n");
        t.write(
            "etc/ssh/sshd_config",
            0o644,
            "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n",
        );
        t.write(
            "etc/ssh/sshd_config.d/pam_tap.conf",
            0o644,
            "KbdInteractiveAuthentication yes\n",
        );
        t.write("usr/lib/x86_64-linux-gnu/security/pam_tap.so", 0o644, "");
        t.db_dir();
        pam_tap_store::SqliteStore::create_trusting(&t.p("var/lib/pam_tap/tap.db"), Trust::current_user()).unwrap();
        Some(t)
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn db_dir(&self) {
        fs::create_dir_all(self.p("var/lib/pam_tap")).unwrap();
        fs::set_permissions(self.p("var/lib/pam_tap"), fs::Permissions::from_mode(0o700)).unwrap();
    }
    fn write(&self, rel: &str, mode: u32, text: &str) {
        let p = self.p(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    fn config(&self, text: &str) {
        // The database named in the config is looked up under the root.
        self.write(
            "etc/security/pam_tap.toml",
            0o600,
            &format!("{text}\ndatabase = \"/var/lib/pam_tap/tap.db\"\n"),
        );
    }
    fn run(&self) -> Vec<Check> {
        let opts = Options {
            config: self.p("etc/security/pam_tap.toml"),
            root: self.dir.path().to_path_buf(),
            sshd: Sshd::ConfigFile,
            clock_floor: BUILD_FLOOR,
            trust: Trust::current_user(),
        };
        let found = checks(&opts, NOW);
        eprintln!("{}", render(&opts, &found));
        found
    }
}

fn status(found: &[Check], check: &str) -> Level {
    found
        .iter()
        .filter(|c| c.check == check)
        .map(|c| c.status)
        .max()
        .unwrap_or_else(|| panic!("no {check} check in {found:?}"))
}

fn message<'a>(found: &'a [Check], check: &str) -> &'a str {
    &found.iter().find(|c| c.check == check).unwrap().message
}

#[test]
fn healthy_tree_is_clean() {
    let Some(t) = Tree::new() else { return };
    t.config("enabled = true");
    let found = t.run();
    assert!(found.iter().all(|c| c.status == Level::Ok), "{found:?}");
    assert_eq!(exit_code(&found), 0);
    assert!(message(&found, "sshd").contains("inside the login"));
    assert!(message(&found, "pam.d/sudo").contains("no password lines"));
    let json: serde_json::Value = serde_json::from_str(&to_json(&found)).unwrap();
    assert_eq!(json["fail"], 0);
    assert!(json["checks"][0]["status"].is_string());
}

#[test]
fn fresh_install_is_ok_while_disabled_and_unwired() {
    let Some(t) = Tree::new() else { return };
    t.config("enabled = false");
    t.write(
        "etc/pam.d/common-auth",
        0o644,
        "auth [success=1 default=ignore] pam_unix.so nullok\n",
    );
    t.write(
        "etc/pam.d/common-password",
        0o644,
        "password [success=1 default=ignore] pam_unix.so obscure yescrypt\n",
    );
    let found = t.run();
    assert_eq!(status(&found, "pam.d"), Level::Ok);
    assert_eq!(exit_code(&found), 0);
    t.config("enabled = true");
    assert_eq!(status(&t.run(), "pam.d"), Level::Warn);
}

#[test]
fn pam_tap_after_pam_unix_fails() {
    let Some(t) = Tree::new() else { return };
    t.write(
        "etc/pam.d/common-auth",
        0o644,
        "auth [success=2 default=ignore] pam_unix.so nullok\nauth [success=1 default=ignore] pam_tap.so\nauth requisite pam_deny.so\n",
    );
    let found = t.run();
    assert_eq!(status(&found, "pam.d/common-auth"), Level::Fail);
    assert_eq!(status(&found, "pam.d/sshd"), Level::Fail);
    assert_eq!(exit_code(&found), 1);
}

#[test]
fn missing_password_stanza_fails_and_missing_use_authtok_warns() {
    let Some(t) = Tree::new() else { return };
    t.write(
        "etc/pam.d/common-password",
        0o644,
        "password [success=1 default=ignore] pam_unix.so obscure yescrypt\n",
    );
    let found = t.run();
    assert_eq!(status(&found, "pam.d/sshd"), Level::Fail);
    assert!(message(&found, "pam.d/sshd").contains("current password"));
    t.write(
        "etc/pam.d/common-password",
        0o644,
        "password requisite pam_tap.so\npassword [success=1 default=ignore] pam_unix.so obscure yescrypt\n",
    );
    assert_eq!(status(&t.run(), "pam.d/common-password"), Level::Warn);
}

#[test]
fn required_pam_tap_in_auth_and_skipping_jump_in_password_fail() {
    let Some(t) = Tree::new() else { return };
    t.write(
        "etc/pam.d/common-auth",
        0o644,
        "auth required pam_tap.so\nauth [success=1 default=ignore] pam_unix.so try_first_pass\n",
    );
    t.write(
        "etc/pam.d/common-password",
        0o644,
        "password [success=2 default=ignore] pam_tap.so\npassword [success=1 default=ignore] pam_unix.so use_authtok\n",
    );
    let found = t.run();
    assert!(message(&found, "pam.d/common-auth").contains("every user without a pass"));
    assert!(message(&found, "pam.d/common-password").contains("never written"));
}

#[test]
fn unsafe_config_fails() {
    let Some(t) = Tree::new() else { return };
    fs::set_permissions(t.p("etc/security/pam_tap.toml"), fs::Permissions::from_mode(0o664)).unwrap();
    let found = t.run();
    assert_eq!(status(&found, "config"), Level::Fail);
    assert!(found[0].fix.as_deref().unwrap().starts_with("chmod go-w"));

    fs::rename(t.p("etc/security/pam_tap.toml"), t.p("etc/security/real.toml")).unwrap();
    std::os::unix::fs::symlink(t.p("etc/security/real.toml"), t.p("etc/security/pam_tap.toml")).unwrap();
    let found = t.run();
    assert!(message(&found, "config").contains("symlink"));
}

#[test]
fn invalid_config_fails() {
    let Some(t) = Tree::new() else { return };
    t.config("enabled = true\n[pass]\nlenght = 12");
    let found = t.run();
    assert_eq!(status(&found, "config"), Level::Fail);
    assert_eq!(exit_code(&found), 1);
}

#[test]
fn database_missing_readable_or_wrong_schema() {
    let Some(t) = Tree::new() else { return };
    fs::set_permissions(t.p("var/lib/pam_tap/tap.db"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(status(&t.run(), "database"), Level::Warn);
    fs::set_permissions(t.p("var/lib/pam_tap/tap.db"), fs::Permissions::from_mode(0o600)).unwrap();

    let conn = rusqlite::Connection::open(t.p("var/lib/pam_tap/tap.db")).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(conn);
    assert_eq!(status(&t.run(), "schema"), Level::Fail);

    fs::remove_dir_all(t.p("var/lib/pam_tap")).unwrap();
    let found = t.run();
    assert_eq!(status(&found, "database"), Level::Fail);
    assert_eq!(
        found.iter().find(|c| c.check == "database").unwrap().fix.as_deref(),
        Some("tapctl init")
    );
}

#[test]
fn clock_behind_database_or_build_fails() {
    let Some(t) = Tree::new() else { return };
    let conn = rusqlite::Connection::open(t.p("var/lib/pam_tap/tap.db")).unwrap();
    conn.execute("INSERT INTO meta(key, value) VALUES('clock', ?1)", [NOW + 3600])
        .unwrap();
    drop(conn);
    let found = t.run();
    assert_eq!(status(&found, "clock"), Level::Fail);
    assert!(message(&found, "clock").contains("latest time"));

    let opts = Options {
        config: t.p("etc/security/pam_tap.toml"),
        root: t.dir.path().to_path_buf(),
        sshd: Sshd::ConfigFile,
        clock_floor: BUILD_FLOOR,
        trust: Trust::current_user(),
    };
    let found = checks(&opts, BUILD_FLOOR - 86_400);
    assert!(message(&found, "clock").contains("before this pam_tap was built"));
}

#[test]
fn sshd_settings_and_what_they_mean() {
    let Some(t) = Tree::new() else { return };
    fs::remove_file(t.p("etc/ssh/sshd_config.d/pam_tap.conf")).unwrap();
    let found = t.run();
    assert_eq!(status(&found, "sshd"), Level::Warn);
    assert!(message(&found, "sshd").contains("needs a terminal"));

    t.write("etc/ssh/sshd_config", 0o644, "UsePAM no\n");
    assert!(message(&t.run(), "sshd").contains("UsePAM no"));

    fs::remove_dir_all(t.p("etc/ssh")).unwrap();
    assert!(message(&t.run(), "sshd").contains("not installed"));
}

#[test]
fn module_reading_another_config_warns() {
    let Some(t) = Tree::new() else { return };
    t.write(
        "etc/pam.d/common-auth",
        0o644,
        &COMMON_AUTH.replace("pam_tap.so", "pam_tap.so config=/etc/other.toml"),
    );
    let found = t.run();
    assert_eq!(status(&found, "pam.d/common-auth"), Level::Warn);
    assert!(message(&found, "pam.d/common-auth").contains("/etc/other.toml"));
}

#[test]
fn fedora_authselect_stack_after_the_recipe_is_clean() {
    let Some(t) = Tree::new() else { return };
    for f in ["common-auth", "common-password", "sshd", "sudo", "common-account"] {
        fs::remove_file(t.p(&format!("etc/pam.d/{f}"))).unwrap();
    }
    // authselect's sssd profile after packaging/authselect/authselect-add-pam-tap.sh.
    let system_auth = "\
auth        required                                     pam_env.so
auth        [success=done default=ignore]                pam_tap.so try_first_pass
auth        [default=1 ignore=ignore success=ok]         pam_usertype.so isregular
auth        [default=1 ignore=ignore success=ok]         pam_localuser.so
auth        sufficient                                   pam_unix.so nullok try_first_pass
auth        sufficient                                   pam_sss.so forward_pass
auth        required                                     pam_deny.so
account     required                                     pam_unix.so
password    requisite                                    pam_pwquality.so local_users_only
password    requisite                                    pam_tap.so
password    sufficient                                   pam_unix.so yescrypt shadow nullok use_authtok
password    required                                     pam_deny.so
";
    t.write("etc/pam.d/system-auth", 0o644, system_auth);
    t.write("etc/pam.d/password-auth", 0o644, system_auth);
    t.write(
        "etc/pam.d/sshd",
        0o644,
        "auth substack password-auth\naccount include password-auth\npassword include password-auth\n",
    );
    t.write("usr/lib/x86_64-linux-gnu/security/pam_tap.so", 0o644, "");
    let found = t.run();
    assert!(found.iter().all(|c| c.status == Level::Ok), "{found:?}");
    assert_eq!(status(&found, "pam.d/sshd"), Level::Ok);
}

#[test]
fn pam_line_parsing() {
    let f = split_fields("auth [success=end default=ignore]  pam_tap.so config=/x debug");
    assert_eq!(
        f,
        [
            "auth",
            "[success=end default=ignore]",
            "pam_tap.so",
            "config=/x",
            "debug"
        ]
    );
    assert_eq!(success_jump("[success=2 default=ignore]"), Some(2));
    assert_eq!(success_jump("requisite"), None);
    assert!(control_is_valid("[success=2 default=ignore]"));
    assert!(control_is_valid("[success=done new_authtok_reqd=done default=ignore]"));
    assert!(control_is_valid("requisite"));
    assert!(!control_is_valid("[success=end default=ignore]"));
    assert!(!control_is_valid("[success=0 default=ignore]"));
    assert!(!control_is_valid("[sucess=1 default=ignore]"));
}

#[test]
fn auth_advice_lands_where_pam_unix_lands() {
    let Some(t) = Tree::new() else { return };
    t.write(
        "etc/pam.d/common-auth",
        0o644,
        "auth required pam_tap.so\nauth [success=1 default=ignore] pam_unix.so try_first_pass\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
    );
    let fix = |found: &[Check]| {
        found
            .iter()
            .find(|c| c.check == "pam.d/common-auth")
            .unwrap()
            .fix
            .clone()
            .unwrap()
    };
    let advice = fix(&t.run());
    assert!(
        advice.contains("auth [success=2 default=ignore] pam_tap.so"),
        "{advice}"
    );
    assert!(
        !advice.contains("done"),
        "done ends an including stack's later modules: {advice}"
    );
    t.write(
        "etc/pam.d/common-auth",
        0o644,
        "auth [success=end default=ignore] pam_tap.so\nauth [success=1 default=ignore] pam_unix.so try_first_pass\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
    );
    let found = t.run();
    assert_eq!(status(&found, "pam.d/common-auth"), Level::Fail);
    assert!(message(&found, "pam.d/common-auth").contains("not valid pam.d syntax"));
    assert!(fix(&found).contains("[success=2 default=ignore]"));
}
