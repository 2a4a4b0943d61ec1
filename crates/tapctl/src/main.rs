//! tapctl: the issuing CLI of pam_tap (crates/tapctl/src/lib.rs holds all of it).

fn main() -> std::process::ExitCode {
    tapctl::app::main()
}
