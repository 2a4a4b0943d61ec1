//! Where cargo put what the tests run: tapctl, the module, the example drivers, system tools.

use std::fs;
use std::path::{Path, PathBuf};

/// The directory cargo builds the workspace's binaries into (target/debug, or under
/// CARGO_TARGET_DIR): the test binary itself runs from its `deps/`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug/deps/TEST")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    bin_dir().parent().unwrap().to_path_buf()
}

/// tapctl, built by `cargo build --workspace` (make test builds everything before it tests).
pub fn tapctl() -> PathBuf {
    let p = bin_dir().join("tapctl");
    assert!(p.exists(), "{} is missing: cargo build --workspace", p.display());
    p
}

/// sshd's keys command for key-only servers (crates/keys).
pub fn keys_command() -> PathBuf {
    let p = bin_dir().join("pam_tap_keys");
    assert!(p.exists(), "{} is missing: cargo build --workspace", p.display());
    p
}

/// An example program (`cargo test` builds the examples next to the binaries).
pub fn example(name: &str) -> PathBuf {
    let p = bin_dir().join("examples").join(name);
    assert!(p.exists(), "{} is missing: cargo build --all-targets", p.display());
    p
}

/// The PAM application that drives the real libpam (examples/pam_drive.rs).
pub fn pam_drive() -> PathBuf {
    example("pam_drive")
}

/// The security probe (examples/sec_probe.rs): pam_drive's `result` lines, plus what a login
/// left in its process, timings, cycles.
pub fn sec_probe() -> PathBuf {
    example("sec_probe")
}

/// The built module. `cargo test` refreshes `deps/libpam_tap.so` but copies it up only on
/// `cargo build`: take the newer. A module older than its sources would test old code.
pub fn module() -> PathBuf {
    // The crates pam_tap.so is built from (tapctl is not one of them), and the example config.
    built_cdylib(
        "libpam_tap.so",
        &[
            "crates/base/src",
            "crates/store/src",
            "crates/core/src",
            "crates/pam_tap/src",
            "conf/pam_tap.toml",
        ],
    )
}

/// The soft security key (crates/soft_sk), the OpenSSH provider the tests enroll `sk-` keys with.
pub fn soft_sk_provider() -> PathBuf {
    built_cdylib("libpam_tap_soft_sk.so", &["crates/soft_sk/src"])
}

/// A workspace cdylib `file`, the newer of `deps/` and the copy `cargo build` makes, refused when
/// older than any of `sources` (paths from the workspace root).
fn built_cdylib(file: &str, sources: &[&str]) -> PathBuf {
    let dir = bin_dir();
    let (built, p) = [dir.join("deps").join(file), dir.join(file)]
        .into_iter()
        .filter_map(|p| fs::metadata(&p).and_then(|m| m.modified()).ok().map(|t| (t, p)))
        .max()
        .unwrap_or_else(|| panic!("{file} is missing: run `cargo build --all-targets` first"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest = sources
        .iter()
        .map(|p| root.join(p))
        .filter_map(|p| newest_module_source(&p))
        .max();
    if let Some(source) = newest.filter(|(t, _)| *t > built) {
        panic!(
            "{} is older than {}: run `cargo build --all-targets` first",
            p.display(),
            source.1.display()
        );
    }
    p
}

/// Whether `path` is something the module is not built from: the crates' unit tests (`tests.rs`,
/// `*_tests.rs`, a `tests/` directory), which the cdylib never compiles, so editing them does not
/// rebuild it.
fn not_in_module(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests" || name == "tests.rs" || name.ends_with("_tests.rs")
}

/// The newest file (time and path) the module is built from under `path`: a crate's src/ without what
/// [`not_in_module`] leaves out, and the example config the library includes.
fn newest_module_source(path: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    if not_in_module(path) {
        return None;
    }
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok().map(|t| (t, path.to_path_buf()));
    }
    fs::read_dir(path)
        .ok()?
        .flatten()
        .filter_map(|e| newest_module_source(&e.path()))
        .max()
}

/// Absolute path of a system program (tests must not depend on the caller's PATH).
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: `make deps` installs what the tests run");
}
