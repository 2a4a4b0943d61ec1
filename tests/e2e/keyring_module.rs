//! Debian's pam_gnome_keyring.so for the display-manager tests, without installing it on the host:
//! installing libpam-gnome-keyring runs pam-auth-update, which edits the host's common-password.
//! `make deps` unpacks the package into the target directory (GREETER_PAM_DIR); the tests copy the
//! host's module directory next to their private pam.d, add the unpacked module, and bind the copy
//! over the real directory inside their own mount namespace.
//!
//! Debian's service files load it as `-auth optional pam_gnome_keyring.so`, and the `-` makes libpam
//! skip a missing module without a word: callers check that it really ran (GNOME_KEYRING_CONTROL
//! in the PAM environment or the session).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{run_ok, tool, Scratch};

/// The host's PAM module directory (Debian's multiarch path).
pub fn host_module_dir() -> PathBuf {
    PathBuf::from(format!("/lib/{}-linux-gnu/security", std::env::consts::ARCH))
}

/// The unpacked pam_gnome_keyring.so (Makefile `deps`, GREETER_PAM_DIR).
fn unpacked_module() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let module = target
        .join("greeter-pam/root")
        .join(host_module_dir().strip_prefix("/").unwrap())
        .join("pam_gnome_keyring.so");
    assert!(
        module.exists(),
        "{} is missing: run `make deps` (it unpacks libpam-gnome-keyring there)",
        module.display()
    );
    module
}

/// A copy of the host's module directory in `scratch` with the unpacked pam_gnome_keyring.so in it
/// (replacing the host's, should one be installed), to bind over `host_module_dir()`.
pub fn private_module_dir(scratch: &Scratch) -> PathBuf {
    let dir = scratch.join("pam-modules");
    if dir.exists() {
        return dir;
    }
    run_ok(Command::new(tool("cp")).arg("-a").arg(host_module_dir()).arg(&dir));
    let keyring = dir.join("pam_gnome_keyring.so");
    let _ = fs::remove_file(&keyring);
    fs::copy(unpacked_module(), &keyring).unwrap();
    dir
}

/// argv that binds `modules` over the host's module directory (run it inside a private mount
/// namespace, e.g. after `Site::wrap`), then execs `argv`.
pub fn with_modules(modules: &Path, argv: &[&str]) -> Vec<String> {
    let mut v = vec![
        "/bin/sh".to_string(),
        "-c".into(),
        format!("mount --bind \"$0\" {} && exec \"$@\"", host_module_dir().display()),
        modules.display().to_string(),
    ];
    v.extend(argv.iter().map(|s| s.to_string()));
    v
}
