//! What a login against PostgreSQL leaves in its host process: no descriptor (the connection is
//! closed within the PAM call, never kept for a fork to inherit), no thread, no signal handler.

use std::ffi::OsStr;

use crate::site::fleet;
use crate::support::accounts::User;
use crate::support::drive::line;
use crate::support::figures::figure;
use crate::support::site::Site;

/// `key=N ...` from sec_probe's output: N.
fn number_after(out: &str, key: &str) -> usize {
    let rest = out
        .split(&format!("{key}="))
        .nth(1)
        .unwrap_or_else(|| panic!("no {key} in {out}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_login_against_postgresql_leaves_no_descriptor_thread_or_signal_handler() {
    require_root!();
    let _g = crate::support::figures::serial();
    let f = fleet("[pass]\nmax_failures = 100");
    let u = User::new();
    let pass = f.issue_keeping(&u.name, &["--reusable"]).pass;
    let (mut rows, mut bad) = (vec![], vec![]);
    for (service, label, answer, expected) in [
        ("only-a", "tls_accepted", pass.as_str(), "PAM_SUCCESS"),
        ("only-a", "tls_wrong", "AAAA-BBBB-CC", "PAM_AUTH_ERR"),
        ("only-c", "socket_accepted", pass.as_str(), "PAM_SUCCESS"),
        ("only-c", "socket_wrong", "AAAA-BBBB-CC", "PAM_AUTH_ERR"),
    ] {
        let r = f.probe_leaks(service, &u.name, answer);
        let o = &r.stdout;
        let counts = [
            "new_fds_after_auth",
            "new_fds_after_end",
            "new_fds_without_cloexec",
            "sig_changed_after_auth",
            "sig_changed_after_end",
        ]
        .map(|k| number_after(o, k));
        let threads = [
            "threads_before",
            "threads_started",
            "threads_after_auth",
            "threads_after_end",
        ]
        .map(|k| number_after(o, k));
        rows.push(format!(
            "{label}:auth={} leaked={counts:?} threads={threads:?}",
            r.auth()
        ));
        if r.auth() != expected || counts.iter().any(|&n| n != 0) || threads.iter().any(|&t| t != threads[0]) {
            bad.push(o.clone());
        }
    }
    figure("fleet_leaks", &rows.join(" | "));
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
}

impl Site {
    /// sec_probe's `leaks` mode: one handle, authenticate and setcred, what changed in the process.
    fn probe_leaks(&self, service: &str, user: &str, answer: &str) -> crate::support::drive::Run {
        let mut cmd = std::process::Command::new(crate::support::paths::sec_probe());
        cmd.env_clear().env("PATH", "/usr/bin:/bin");
        cmd.arg("leaks").arg(&self.pamd).arg(service).arg(OsStr::new(user));
        crate::support::drive::Run::from_output(crate::support::drive::feed(cmd, &line(answer)))
    }
}
