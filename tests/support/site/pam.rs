//! A site's PAM side: the stacks its services hold, and the built module driven through the real
//! libpam on its pam.d (examples/pam_drive, examples/sec_probe) or under its pam.d bind-mounted
//! over /etc/pam.d (real clients).

use std::ffi::OsStr;
use std::process::Command;

use super::Site;
use crate::support::drive::{feed, pam_drive_cmd, run, Run};
use crate::support::paths::{module, sec_probe};

/// A top-level `services` key admitting `services`, or nothing when `config` sets `services` itself.
pub fn services_line(config: &str, services: &[&str]) -> String {
    if config.lines().any(|l| l.trim_start().starts_with("services")) {
        return String::new();
    }
    let all: Vec<String> = services.iter().map(|s| format!("{s:?}")).collect();
    format!("services = [{}]\n", all.join(", "))
}

/// The Debian shape of common-auth/common-password with pam_tap (`module_line`: path and
/// arguments) as the first Primary module, and pam_unix for everyone else.
pub fn debian_stack(module_line: &str) -> String {
    let m = module_line;
    format!(
        "auth     [success=2 default=ignore] {m}\n\
         auth     [success=1 default=ignore] pam_unix.so nullok try_first_pass\n\
         auth     requisite  pam_deny.so\n\
         auth     required   pam_permit.so\n\
         account  required   pam_unix.so\n\
         password requisite  {m}\n\
         password [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt\n\
         password requisite  pam_deny.so\n\
         password required   pam_permit.so\n\
         session  required   pam_permit.so\n"
    )
}

/// pam_tap deciding alone (`module_line`: path and arguments): its own return code is the result.
pub fn only_stack(module_line: &str) -> String {
    format!("auth required {module_line}\naccount required pam_permit.so\nsession required pam_permit.so\n")
}

/// The documented stack: pam_tap, then pam_unix for anyone pam_tap does not let in.
pub fn full_stack(module_line: &str) -> String {
    let m = module_line;
    format!(
        "auth     [success=1 default=ignore] {m}\n\
         auth     [success=ignore default=die] pam_unix.so try_first_pass\n\
         auth     required   pam_permit.so\n\
         account  required   pam_unix.so\n\
         session  required   pam_permit.so\n"
    )
}

/// The built module and `args`, as a pam.d line's module part.
pub fn module_line(args: &str) -> String {
    format!("{} {args}", module().display())
}

impl Site {
    /// pam_drive on this site's pam.d, to be started by the caller.
    pub fn drive_cmd(&self, service: &str, user: &str, ops: &[&str]) -> Command {
        let mut c = pam_drive_cmd(&self.pamd, service, user, ops);
        if self.clean_env {
            c.env_clear().env("PATH", "/usr/bin:/bin");
        }
        c
    }

    /// pam_drive on this site's pam.d with `stdin` as the answers.
    pub fn drive(&self, service: &str, user: &str, ops: &[&str], stdin: &[u8]) -> Run {
        Run::from_output(feed(self.drive_cmd(service, user, ops), stdin))
    }

    /// PAM operations on one handle of the site's own service (its Debian stack), answering
    /// prompts in order; the driver must have run.
    pub fn pam(&self, user: &str, ops: &[&str], answers: &[&str]) -> Run {
        let service = self
            .service
            .as_deref()
            .expect("a site with a stack (SiteBuilder::debian_stack)");
        self.pam_on(service, user, ops, answers).expect_ran()
    }

    /// PAM operations on one handle of `service`, answering prompts in order.
    pub fn pam_on(&self, service: &str, user: &str, ops: &[&str], answers: &[&str]) -> Run {
        run(self.drive_cmd(service, user, ops), answers)
    }

    /// `authenticate` on `service` with one answer.
    pub fn auth(&self, service: &str, user: &str, answer: &str) -> Run {
        self.pam_on(service, user, &["authenticate"], &[answer])
    }

    /// `sec_probe MODE` over this site's pam.d.
    pub fn probe(&self, mode: &str, service: &str, user: &OsStr, args: &[&str], stdin: &[u8]) -> Run {
        let mut cmd = Command::new(sec_probe());
        cmd.arg(mode).arg(&self.pamd).arg(service).arg(user).args(args);
        Run::from_output(feed(cmd, stdin))
    }

    /// argv that runs `argv` with this site's pam.d mounted over /etc/pam.d, in a private mount
    /// namespace (the host's /etc/pam.d is never touched).
    pub fn wrap(&self, argv: &[&str]) -> Vec<String> {
        crate::support::pty::with_pamd(&self.pamd, argv)
    }
}
