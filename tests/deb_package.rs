//! The Debian package, installed, used and purged inside a throwaway copy-on-write view of this
//! machine (demo/sandbox.sh: overlays on /etc /usr /var /home /root in a private mount namespace).
//! The steps are in tests/deb_package.sh; this test runs them and then proves the host was not
//! touched: /etc/pam.d, the account files and dpkg's view of pam-tap are as they were.
//!
//! The .deb comes from `make deb` (PAM_TAP_DEB names it; `make test` builds it first). Without one
//! the test says so and passes, so that `cargo test` alone stays usable; `make test` never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn find_deb() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PAM_TAP_DEB") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "PAM_TAP_DEB={} does not exist: run `make deb`",
            p.display()
        );
        return Some(p);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debian");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("pam-tap_") && n.ends_with(".deb"))
        })
        .collect();
    debs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    debs.pop()
}

/// What the test must leave exactly as it found it on the host.
fn host_state() -> Vec<(String, Vec<u8>)> {
    let mut state = Vec::new();
    let mut pam: Vec<PathBuf> = std::fs::read_dir("/etc/pam.d")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pam.sort();
    for p in pam {
        let bytes = std::fs::read(&p).unwrap_or_default();
        state.push((p.display().to_string(), bytes));
    }
    let dpkg = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "pam-tap"])
        .output()
        .unwrap();
    state.push(("dpkg pam-tap".into(), dpkg.stdout));
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let debtest = passwd.lines().any(|l| l.starts_with("debtest:"));
    state.push(("user debtest".into(), vec![u8::from(debtest)]));
    for f in [
        "/usr/lib/x86_64-linux-gnu/security/pam_tap.so",
        "/usr/sbin/tapctl",
        "/var/lib/pam_tap",
        "/usr/share/pam-configs/pam-tap",
    ] {
        state.push((f.into(), vec![u8::from(Path::new(f).exists())]));
    }
    state
}

#[test]
fn deb_installs_wires_logs_in_and_purges_in_a_sandbox() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: the .deb test needs root (mount namespace, dpkg); CI runs it as root");
        return;
    }
    let Some(deb) = find_deb() else {
        eprintln!("SKIP: no target/debian/pam-tap_*.deb; `make test` (or `make test-deb`) builds it first");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    eprintln!("testing {}", deb.display());

    let before = host_state();
    let out = Command::new(root.join("demo/sandbox.sh"))
        .arg(root.join("tests/deb_package.sh"))
        .arg(&deb)
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    let after = host_state();

    for ((name, b), (_, a)) in before.iter().zip(&after) {
        assert!(b == a, "the host's {name} changed during the .deb test");
    }
    assert_eq!(
        before.len(),
        after.len(),
        "files appeared in or vanished from /etc/pam.d"
    );
    assert!(out.status.success(), "the .deb test failed in the sandbox");
    assert!(stdout.contains("DEB PACKAGE TEST PASSED"));
}
