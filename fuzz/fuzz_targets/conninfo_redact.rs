//! Any connection string: pam_tap's reading (`pam_tap_store::conninfo`) and the installed
//! libpq's `PQconninfoParse` agree (both refuse it, or both read the same options), and the
//! redacted text shown for it holds no password or sslpassword libpq would use. The property
//! lives in `pam_tap_store::postgres::differential`, shared with the unit tests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pam_tap_store::postgres::differential::check;

fuzz_target!(|data: &[u8]| {
    // libpq reads a C string, and a config value is at most 4096 bytes.
    if data.contains(&0) || data.len() > 4096 {
        return;
    }
    if let Err(e) = check(data) {
        panic!("{:?}: {e}", String::from_utf8_lossy(data));
    }
});
