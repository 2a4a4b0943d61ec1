//! The private copy of /etc/pam.d every client under test reads, through a bind mount in a private
//! mount namespace.

use super::*;

/// How the private common-auth / common-password are built.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stack {
    /// Debian 12's defaults, pam_unix only: proves the harness itself.
    UnixOnly,
    /// Debian 12's defaults with pam_tap inserted as Primary in Auth and Password.
    WithTap,
}

/// Fills `scratch`/pam.d (a site's pam.d) with a private copy of /etc/pam.d and returns it. The
/// services under test (sshd-tape2e, login, su, passwd) all `@include` the common-* files written
/// here.
pub fn debian_pamd(scratch: &Path, stack: Stack, module_args: &str) -> PathBuf {
    let dir = scratch.join("pam.d");
    fs::create_dir_all(&dir).unwrap();
    run_ok(Command::new(tool("cp")).arg("-a").arg("/etc/pam.d/.").arg(&dir));
    let w = |name: &str, text: String| fs::write(dir.join(name), text).unwrap();
    let (auth_tap, pw_tap, unix_pw_opts, unix_auth_opts) = match stack {
        Stack::UnixOnly => (String::new(), String::new(), "obscure yescrypt", "nullok"),
        Stack::WithTap => {
            let tap = module();
            (
                format!("auth\t[success=2 default=ignore]\t{} {module_args}\n", tap.display()),
                format!("password\trequisite\t\t\t{} {module_args}\n", tap.display()),
                "obscure use_authtok try_first_pass yescrypt",
                "nullok try_first_pass",
            )
        }
    };
    w(
        "common-auth",
        format!(
            "# pam_tap e2e: Debian 12 common-auth{}\n{auth_tap}\
                 auth\t[success=1 default=ignore]\tpam_unix.so {unix_auth_opts}\n\
                 auth\trequisite\t\t\tpam_deny.so\n\
                 auth\trequired\t\t\tpam_permit.so\n",
            if auth_tap.is_empty() { "" } else { " + pam_tap" }
        ),
    );
    w(
        "common-account",
        "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n\
             account\trequisite\t\t\tpam_deny.so\n\
             account\trequired\t\t\tpam_permit.so\n"
            .to_string(),
    );
    w(
        "common-password",
        format!(
            "# pam_tap e2e: Debian 12 common-password{}\n{pw_tap}\
                 password\t[success=1 default=ignore]\tpam_unix.so {unix_pw_opts}\n\
                 password\trequisite\t\t\tpam_deny.so\n\
                 password\trequired\t\t\tpam_permit.so\n",
            if pw_tap.is_empty() { "" } else { " + pam_tap" }
        ),
    );
    w(
        "common-session",
        "session\t[default=1]\t\t\tpam_permit.so\n\
             session\trequisite\t\t\tpam_deny.so\n\
             session\trequired\t\t\tpam_permit.so\n\
             session\trequired\tpam_unix.so\n"
            .to_string(),
    );
    // The services: Debian 12's own files, which include the common-* above.
    let sshd = "@include common-auth\n\
                    account    required     pam_nologin.so\n\
                    @include common-account\n\
                    session    required     pam_loginuid.so\n\
                    session    optional     pam_keyinit.so force revoke\n\
                    @include common-session\n\
                    session    required     pam_limits.so\n\
                    session    required     pam_env.so\n\
                    @include common-password\n";
    w(SSHD_SERVICE, sshd.to_string());
    w(
        "login",
        "auth       optional   pam_faildelay.so  delay=3000000\n\
             auth       requisite  pam_nologin.so\n\
             session    required   pam_loginuid.so\n\
             session    required   pam_env.so readenv=1\n\
             @include common-auth\n\
             session    required   pam_limits.so\n\
             session    optional   pam_lastlog.so\n\
             session    optional   pam_keyinit.so force revoke\n\
             @include common-account\n\
             @include common-session\n\
             @include common-password\n"
            .to_string(),
    );
    w(
        "su",
        "auth       sufficient pam_rootok.so\n\
             session    required   pam_env.so readenv=1\n\
             session    required   pam_limits.so\n\
             @include common-auth\n\
             @include common-account\n\
             @include common-session\n"
            .to_string(),
    );
    w("passwd", "@include common-password\n".to_string());
    dir
}
