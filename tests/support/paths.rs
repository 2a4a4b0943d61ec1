//! Where cargo put what the tests run: tapctl, the module, the example drivers, system tools.

use std::fs;
use std::path::{Path, PathBuf};

/// The directory cargo built tapctl into (so CARGO_TARGET_DIR is honoured).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_tapctl")).parent().unwrap().to_path_buf()
}

pub fn target_dir() -> PathBuf {
    bin_dir().parent().unwrap().to_path_buf()
}

pub fn tapctl() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tapctl"))
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

/// The built module. `cargo test` refreshes `deps/libpam_tap.so` but copies it up only on
/// `cargo build`: take the newer. A module older than the sources would test old code.
pub fn module() -> PathBuf {
    let dir = bin_dir();
    let (built, p) = [dir.join("deps/libpam_tap.so"), dir.join("libpam_tap.so")]
        .into_iter()
        .filter_map(|p| fs::metadata(&p).and_then(|m| m.modified()).ok().map(|t| (t, p)))
        .max()
        .expect("libpam_tap.so is missing: run `cargo build --all-targets` first");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    if newest_mtime(&src).is_some_and(|t| t > built) {
        panic!(
            "{} is older than src/: run `cargo build --all-targets` first",
            p.display()
        );
    }
    p
}

fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
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
