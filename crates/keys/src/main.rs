//! `pam_tap_keys [--config FILE] USER KEYTYPE KEY`: sshd's `AuthorizedKeysCommand` on a key-only
//! server (`%u %t %k`). Never root; see crates/keys/src/lib.rs.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    #[allow(clippy::disallowed_methods)] // the one clock read of a run
    let now = chrono::Utc::now().timestamp();
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    match pam_tap_keys::run(&args, euid, now, &mut std::io::stdout()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pam_tap_keys: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
