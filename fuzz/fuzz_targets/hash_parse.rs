//! Any stored hash string (a tampered database row): `verify` returns an error or a bool and never
//! panics; parameters beyond the bounds are refused before any argon2 work.
#![no_main]

use argon2::password_hash::PasswordHash;
use libfuzzer_sys::fuzz_target;
use pam_tap_base::hash::verify;

/// Inside the bounds `verify` accepts, but too slow for thousands of runs a second.
fn costly(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let get = |k: &str| parsed.params.get_decimal(k).unwrap_or(0);
    let (m, t, p) = (get("m"), get("t"), get("p"));
    m <= 262_144 && t <= 10 && p <= 4 && (m > 1024 || t > 2)
}

fuzz_target!(|data: &[u8]| {
    let Ok(phc) = std::str::from_utf8(data) else {
        return;
    };
    if costly(phc) {
        return;
    }
    let _ = verify("ABCDEFGHJK", phc);
});
