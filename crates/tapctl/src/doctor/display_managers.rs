//! Display managers: GDM (`gdm-password`), LightDM (`lightdm`) and SDDM (`sddm`). Each asks for the
//! password through its own PAM service, which on Debian `@include`s common-auth, common-account and
//! common-password. A first login with a pass works there when pam_tap is reached in auth and password
//! (as for any service) and the account step can still report the change the issue forced
//! (PAM_NEW_AUTHTOK_REQD from pam_unix), which is what makes the display manager ask for a new password.

use super::{judge_service, stack, Check, Level, Options, PamLine};

/// The PAM services of the display managers Debian ships.
pub const DISPLAY_MANAGERS: [&str; 3] = ["gdm-password", "lightdm", "sddm"];

/// One check per display manager whose PAM service exists; nothing when none is installed.
pub(super) fn check_display_managers(opts: &Options, out: &mut Vec<Check>) {
    let pam_dir = opts.path("/etc/pam.d");
    for service in DISPLAY_MANAGERS {
        if !pam_dir.join(service).exists() {
            continue;
        }
        let name = format!("pam.d/{service}");
        let stacks = ["auth", "password", "account"].map(|kind| stack(&pam_dir, service, kind));
        let [Ok(auth), Ok(password), Ok(account)] = stacks else {
            let e = stacks.into_iter().find_map(Result::err).unwrap_or_default();
            out.push(Check::fail(&name, e, "repair the file or the include it names"));
            continue;
        };
        let has = |l: &[PamLine]| l.iter().any(|x| x.module_name() == "pam_tap.so");
        let (in_auth, in_password) = (has(&auth), has(&password));
        if !in_auth && !in_password {
            // Wired nowhere at all: the general pam.d check already says so once.
            if !wired_elsewhere(&pam_dir) {
                continue;
            }
            out.push(Check::warn(
                &name,
                "no pam_tap in auth or password: passes do not log in at this display manager",
                "pam-auth-update --enable pam-tap (its stacks @include common-auth and common-password)",
            ));
            continue;
        }
        let mut check = judge_service(service, &auth, &password, in_auth, in_password, opts);
        if let Some((level, problem, fix)) = account_problem(&account) {
            if level > check.status {
                check.status = level;
                check.fix = Some(fix.into());
            }
            check.message = if check.status == Level::Ok || check.message.is_empty() {
                problem
            } else {
                format!("{}; {problem}", check.message)
            };
        } else if check.status == Level::Ok {
            check
                .message
                .push_str("; account: pam_unix can ask for the forced change");
        }
        out.push(check);
    }
}

/// Whether any of the services the general check looks at has pam_tap in its auth stack.
fn wired_elsewhere(pam_dir: &std::path::Path) -> bool {
    super::SERVICES.iter().any(|service| {
        pam_dir.join(service).exists()
            && stack(pam_dir, service, "auth").is_ok_and(|l| l.iter().any(|x| x.module_name() == "pam_tap.so"))
    })
}

/// Why the account stack cannot report a forced change, if it cannot.
fn account_problem(lines: &[PamLine]) -> Option<(Level, String, &'static str)> {
    let fix = "keep Debian's common-account: account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so";
    let Some(u) = lines.iter().position(|l| l.module_name() == "pam_unix.so") else {
        return Some((
            Level::Fail,
            "account: no pam_unix, so the password change a pass forces is never asked for (the user is locked out once the pass is spent)".into(),
            fix,
        ));
    };
    let control = &lines[u].control;
    if let Some(inner) = control.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
        let value = |key: &str| {
            inner
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        };
        // An unlisted return value takes `default`'s action.
        let action = value("new_authtok_reqd").or_else(|| value("default")).unwrap_or("bad");
        if matches!(action, "ignore" | "reset") {
            return Some((
                Level::Fail,
                format!("account: pam_unix's control {control} drops PAM_NEW_AUTHTOK_REQD, so the forced change is never asked for"),
                fix,
            ));
        }
    }
    // A module before pam_unix that can end the stack on success skips it for those users.
    let ends_early = (0..u).find(|&i| super::success_skips(&lines[i].control, i, u));
    ends_early.map(|i| {
        (
            Level::Warn,
            format!(
                "account: {} ({}) comes before pam_unix and can end the stack, so for some users the forced change is not asked for",
                lines[i].module_name(),
                lines[i].control
            ),
            fix,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMON_AUTH: &str = "auth [success=2 default=ignore] pam_tap.so\n\
        auth [success=1 default=ignore] pam_unix.so nullok try_first_pass\n\
        auth requisite pam_deny.so\nauth required pam_permit.so\n";
    const COMMON_PASSWORD: &str = "password requisite pam_tap.so\n\
        password [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt\n\
        password requisite pam_deny.so\npassword required pam_permit.so\n";
    const COMMON_ACCOUNT: &str = "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\n\
        account requisite pam_deny.so\naccount required pam_permit.so\n";
    const SHIPPED: [(&str, &str); 3] = [
        (
            "gdm-password",
            include_str!("../../../../tests/e2e/debian-pam.d/gdm-password"),
        ),
        ("lightdm", include_str!("../../../../tests/e2e/debian-pam.d/lightdm")),
        ("sddm", include_str!("../../../../tests/e2e/debian-pam.d/sddm")),
    ];

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Options) {
        let dir = tempfile::tempdir().unwrap();
        let pam = dir.path().join("etc/pam.d");
        std::fs::create_dir_all(&pam).unwrap();
        for (name, text) in files {
            std::fs::write(pam.join(name), text).unwrap();
        }
        let opts = Options {
            config: dir.path().join("etc/security/pam_tap.toml"),
            root: dir.path().to_path_buf(),
            sshd: super::super::Sshd::ConfigFile,
            clock_floor: 0,
            trust: pam_tap_base::safefile::Trust::current_user(),
        };
        (dir, opts)
    }

    fn run(files: &[(&str, &str)]) -> Vec<Check> {
        let (_dir, opts) = tree(files);
        let mut out = vec![];
        check_display_managers(&opts, &mut out);
        out
    }

    fn debian(common_account: &str) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&str, String)> = SHIPPED.iter().map(|(n, t)| (*n, t.to_string())).collect();
        v.push(("common-auth", COMMON_AUTH.into()));
        v.push(("common-password", COMMON_PASSWORD.into()));
        v.push(("common-account", common_account.into()));
        v.push(("common-session", "session required pam_unix.so\n".into()));
        v
    }

    fn refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        v.iter().map(|(n, t)| (*n, t.as_str())).collect()
    }

    #[test]
    fn debians_shipped_display_manager_services_are_wired_through_the_common_files() {
        let files = debian(COMMON_ACCOUNT);
        let found = run(&refs(&files));
        let names: Vec<&str> = found.iter().map(|c| c.check.as_str()).collect();
        assert_eq!(names, ["pam.d/gdm-password", "pam.d/lightdm", "pam.d/sddm"]);
        for c in &found {
            assert_eq!(c.status, Level::Ok, "{c:?}");
            assert!(c.message.contains("auth: pam_tap before pam_unix"), "{c:?}");
            assert!(c.message.contains("password: pam_tap before pam_unix"), "{c:?}");
            assert!(c.message.contains("forced change"), "{c:?}");
        }
    }

    #[test]
    fn no_display_manager_installed_means_no_check() {
        assert!(run(&[("common-auth", COMMON_AUTH)]).is_empty());
    }

    #[test]
    fn a_display_manager_that_bypasses_the_wired_common_files_warns() {
        let mut files = debian(COMMON_ACCOUNT);
        files.retain(|(n, _)| *n != "lightdm");
        files.push((
            "lightdm",
            "auth required pam_unix.so\naccount include common-account\npassword required pam_unix.so\n".into(),
        ));
        let found = run(&refs(&files));
        let lightdm = found.iter().find(|c| c.check == "pam.d/lightdm").unwrap();
        assert_eq!(lightdm.status, Level::Warn, "{lightdm:?}");
        assert!(lightdm.message.contains("no pam_tap"), "{lightdm:?}");
    }

    #[test]
    fn nothing_wired_anywhere_is_left_to_the_general_check() {
        let mut files = debian(COMMON_ACCOUNT);
        files.retain(|(n, _)| *n != "common-auth" && *n != "common-password");
        files.push((
            "common-auth",
            "auth [success=1 default=ignore] pam_unix.so nullok\n".into(),
        ));
        files.push((
            "common-password",
            "password [success=1 default=ignore] pam_unix.so yescrypt\n".into(),
        ));
        assert!(run(&refs(&files)).is_empty());
    }

    #[test]
    fn an_account_stack_that_cannot_report_the_forced_change_fails() {
        for account in [
            "account required pam_permit.so\n",
            "account [success=1 new_authtok_reqd=ignore default=ignore] pam_unix.so\naccount required pam_permit.so\n",
            "account [success=1 default=ignore] pam_unix.so\naccount required pam_permit.so\n",
        ] {
            let files = debian(account);
            let found = run(&refs(&files));
            for c in &found {
                assert_eq!(c.status, Level::Fail, "{account:?}: {c:?}");
                assert!(c.message.contains("never asked for"), "{c:?}");
            }
        }
        let files = debian(&format!(
            "account sufficient pam_succeed_if.so uid < 1000\n{COMMON_ACCOUNT}"
        ));
        let found = run(&refs(&files));
        assert!(found.iter().all(|c| c.status == Level::Warn), "{found:?}");
    }

    #[test]
    fn a_display_manager_with_pam_tap_only_in_auth_fails() {
        let mut files = debian(COMMON_ACCOUNT);
        files.retain(|(n, _)| *n != "common-password");
        files.push((
            "common-password",
            "password [success=1 default=ignore] pam_unix.so yescrypt\n".into(),
        ));
        let found = run(&refs(&files));
        assert!(found.iter().all(|c| c.status == Level::Fail), "{found:?}");
    }
}
