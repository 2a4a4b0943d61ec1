//! The Debian package, installed, used and purged inside a throwaway copy-on-write view of this
//! machine (demo/sandbox.sh: overlays on /etc /usr /var /home /root in a private mount namespace).
//! The steps are in tests/deb_package.sh; this test runs them and then proves the host was not
//! touched: /etc/pam.d, the account files and dpkg's view of pam-tap are as they were.
//!
//! The .deb comes from `make deb` (PAM_TAP_DEB names it; `make test` builds it first). Without one
//! the test says so and passes, so that `cargo test` alone stays usable; `make test` never skips it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The package `env` names (it must exist), else the newest file in `dir` (under the project)
/// whose name starts with `prefix` and ends with `suffix`.
fn find_package(env: &str, dir: &str, prefix: &str, suffix: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{env}={} does not exist: run `make deb rpm`", p.display());
        return Some(p);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found.pop()
}

fn find_deb() -> Option<PathBuf> {
    find_package("PAM_TAP_DEB", "target/debian", "pam-tap_", ".deb")
}

fn find_rpm() -> Option<PathBuf> {
    find_package("PAM_TAP_RPM", "target/rpm/RPMS/x86_64", "pam-tap-", ".rpm")
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

fn lines_of(program: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A packaged file's path as both packages would name it: the distributions' own places for the
/// PAM module and zsh completions, man pages uncompressed, units under /usr/lib.
fn in_common(path: &str) -> String {
    let path = path.trim_start_matches('.');
    path.replace("/usr/lib/x86_64-linux-gnu/security/", "/usr/lib64/security/")
        .replace("/usr/share/zsh/vendor-completions/", "/usr/share/zsh/site-functions/")
        .replace("/lib/systemd/system/", "/usr/lib/systemd/system/")
        .replace("/usr/usr/", "/usr/")
        .trim_end_matches(".gz")
        .to_string()
}

/// Files only one family has: Debian's pam-auth-update profile and its package papers; the
/// build ids rpmbuild adds.
fn one_family_only(path: &str) -> bool {
    path == "/usr/share/pam-configs/pam-tap"
        || path.starts_with("/usr/share/doc/pam-tap/changelog")
        || path == "/usr/share/doc/pam-tap/copyright"
        || path.starts_with("/usr/lib/.build-id/")
}

#[test]
fn the_rpm_ships_what_the_deb_ships() {
    let (Some(deb), Some(rpm)) = (find_deb(), find_rpm()) else {
        eprintln!("SKIP: no .deb or .rpm under target/; `make test` builds both first");
        return;
    };
    // `dpkg-deb -c`: "-rw-r--r-- root/root 123 date time ./path"; files only.
    let deb_files: BTreeSet<String> = lines_of("dpkg-deb", &["-c", deb.to_str().unwrap()])
        .iter()
        .filter(|l| l.starts_with('-'))
        .map(|l| in_common(l.rsplit(' ').next().unwrap()))
        .filter(|p| !one_family_only(p))
        .collect();
    let rpm_files: BTreeSet<String> = lines_of(
        "rpm",
        &[
            "-qp",
            "--qf",
            "[%{FILEMODES:perms} %{FILENAMES}\n]",
            rpm.to_str().unwrap(),
        ],
    )
    .iter()
    .filter(|l| l.starts_with('-'))
    .map(|l| in_common(l.split_once(' ').unwrap().1))
    .filter(|p| !one_family_only(p))
    .collect();
    let only_deb: Vec<_> = deb_files.difference(&rpm_files).collect();
    let only_rpm: Vec<_> = rpm_files.difference(&deb_files).collect();
    assert!(
        only_deb.is_empty() && only_rpm.is_empty(),
        "only in the .deb: {only_deb:#?}\nonly in the .rpm: {only_rpm:#?}"
    );
    let page: Vec<_> = rpm_files
        .iter()
        .filter(|p| p.starts_with("/usr/share/cockpit/pam-tap/"))
        .collect();
    assert_eq!(page.len(), 9, "the Cockpit page in the .rpm: {page:?}");
    println!("FIGURE packages: files_in_both={}", deb_files.len());
}
