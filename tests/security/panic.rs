//! A panic inside any hook becomes PAM_ABORT and the host process carries on. Needs the module
//! built with `--features test-panic`, into its own target dir so the normal build stays clean.

use std::path::PathBuf;
use std::process::Command;

use crate::support::drive::line;
use crate::support::figures::figure;
use crate::support::site::write_file;
use crate::{site, user};

fn panic_module() -> PathBuf {
    let dir = crate::support::paths::target_dir().join("panic");
    let out = Command::new(env!("CARGO"))
        // Dependencies unoptimised, SQLite too (Cargo.toml optimises it for test logins): this
        // build only has to panic, and it must not cost CI minutes.
        .args([
            "build",
            "-p",
            "pam-tap-module",
            "--lib",
            "--features",
            "test-panic",
            "--config",
            "profile.dev.package.\"*\".opt-level=0",
            "--config",
            "profile.dev.package.libsqlite3-sys.opt-level=0",
        ])
        .env("CARGO_TARGET_DIR", &dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo build --features test-panic");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.join("debug/libpam_tap.so")
}

#[test]
fn injected_panic_in_every_hook_gives_pam_abort_and_the_host_survives() {
    require_root!();
    let _g = crate::support::figures::serial();
    let so = panic_module();
    let user = user().create();
    let f = site("panic", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let args = f.module_args("test_panic");
    let m = so.display();
    let stack = format!(
        "auth required {m} {args}\naccount required {m} {args}\npassword required {m} {args}\n\
         session required {m} {args}\n"
    );
    write_file(&f.pamd.join("boom"), stack.as_bytes(), 0o644);
    let ops = [
        "authenticate",
        "setcred",
        "acct_mgmt",
        "chauthtok",
        "open_session",
        "close_session",
    ];
    let r = f.drive("boom", &user.name, &ops, &line(&pass));
    let codes: Vec<String> = ops.iter().map(|op| format!("{op}={}", r.result(op))).collect();
    let all_abort = ops.iter().all(|op| r.get(op) == Some("PAM_ABORT"));
    let survived = r.status.success() && !r.crashed();
    // The same .so without the argument works: the guard, not the build, is what is tested.
    f.stack_only("calm", "");
    let calm_stack = std::fs::read_to_string(f.pamd.join("calm"))
        .unwrap()
        .replace(&crate::support::paths::module().display().to_string(), &m.to_string());
    write_file(&f.pamd.join("calm"), calm_stack.as_bytes(), 0o644);
    let calm = f.drive("calm", &user.name, &["authenticate"], &line(&pass));
    figure(
        "panics",
        &format!(
            "hooks={} [{}] host_exit={:?} host_survived={survived} same_so_without_test_panic={}",
            ops.len(),
            codes.join(" "),
            r.status.code(),
            calm.auth()
        ),
    );
    f.check_no_secrets();
    assert!(all_abort, "{codes:?} {}", r.stderr);
    assert!(survived, "{r:?}");
    assert_eq!(calm.auth(), "PAM_SUCCESS");
}
