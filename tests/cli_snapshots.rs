//! tapctl's command lines pinned by snapshots (trycmd): tests/cmd/<set>/NAME.toml is the command,
//! NAME.stdout / NAME.stderr what it prints; `TRYCMD=overwrite cargo test --test cli_snapshots`
//! rewrites them after an intended change.
//!
//! - `any_user/`: every `--help`, `--version` and usage error; clap answers before tapctl looks at
//!   who runs it, so these read the same for root and for anyone else.
//! - `unprivileged/`: what a user who is not root gets (tapctl refuses them before reading any
//!   file). Run as is by a non-root user; run as root, tapctl is started as `nobody` (setpriv).
//! - `root/`: `policy` of the shipped conf/pam_tap.toml and an operator's (SUDO_USER) refusals.
//!   Needs root running tapctl outside any operator's session; otherwise SKIPPED, said loudly.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tapctl::invoker::{self, Invoker};

/// tapctl, beside this test binary's `deps/` (make test builds the workspace first).
fn tapctl() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().join("tapctl")
}
/// `nobody` on Debian and Fedora.
const UNPRIVILEGED_ID: u32 = 65534;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn cli_snapshots() {
    // The sets name their own environment; none inherits the caller's policy or sudo.
    std::env::remove_var("PAM_TAP_CONFIG");
    std::env::remove_var("SUDO_USER");

    trycmd::TestCases::new()
        .register_bin("tapctl", tapctl())
        .case("tests/cmd/any_user/*.toml")
        .run();

    let dir = tempfile::tempdir().unwrap();
    let as_unprivileged = if is_root() {
        // tapctl's own uid test is the point of this set, so root starts it as nobody.
        let wrapper = dir.path().join("tapctl");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec setpriv --reuid={UNPRIVILEGED_ID} --regid={UNPRIVILEGED_ID} --clear-groups {} \"$@\"\n",
                tapctl().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        wrapper
    } else {
        tapctl()
    };
    trycmd::TestCases::new()
        .register_bin("tapctl", as_unprivileged)
        .case("tests/cmd/unprivileged/*.toml")
        .run();

    match invoker::current() {
        Ok(Invoker::Root) => {
            let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/pam_tap.toml");
            std::env::set_var("PAM_TAP_CONFIG", config);
            trycmd::TestCases::new()
                .register_bin("tapctl", tapctl())
                .case("tests/cmd/root/*.toml")
                .run();
        }
        // Straight to stderr: the test harness captures eprintln! of a passing test.
        other => writeln!(
            std::io::stderr(),
            "SKIPPED: tests/cmd/root/ needs tapctl to see root itself (it sees {other:?}); \
             run this test as root outside sudo and any operator's login session"
        )
        .unwrap(),
    }
}
