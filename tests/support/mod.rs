//! The one test kit every integration binary shares: where the built module and binaries are, one
//! lock and one user type for throwaway users and groups, the one private site (`site::Site`: its
//! dir, config, store, pam.d, syslog sink, tapctl runner, issued passes and secrets scan), the PAM
//! drivers, the figures, and `require_root!`. A suite's own helpers (tests/tapctl/operators.rs,
//! tests/e2e/harness.rs, tests/fleet/site.rs) are presets and drivers on these; the console's
//! sandboxed machine (tests/console/machine.rs) installs pam_tap with the same builder
//! (`Site::builder().installed()`).
#![allow(dead_code)]

pub mod accounts;
pub mod drive;
pub mod figures;
pub mod ids;
pub mod paths;
pub mod pg_cluster;
pub mod pgbouncer;
pub mod pty;
pub mod site;
pub mod soft_sk;
pub mod syslog;

// Where the suites have always found it; not every test binary uses it.
#[allow(unused_imports)]
pub use ids::free_port;

use std::io::Write;

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// False, with a loud SKIPPED line naming `test` and `why`, when not root. Written straight to fd 2:
/// libtest captures the output of a passing test, and a skip must be seen.
pub fn root_or_skip(test: &str, why: &str) -> bool {
    if is_root() {
        return true;
    }
    let _ = writeln!(std::io::stderr(), "\n!!!!!!!! SKIPPED {test}: needs root ({why})\n");
    false
}

/// xorshift64: where the kill tests strike (seeded from getrandom; no crate needed for this).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Returns from the test, loudly, when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::support::root_or_skip(
            std::thread::current().name().unwrap_or(module_path!()),
            "throwaway users, root-owned files, private mounts",
        ) {
            return;
        }
    };
}
