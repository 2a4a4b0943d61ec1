//! Any text given as the policy file: `Policy::parse` returns Ok or Err, never panics; an accepted
//! policy always satisfies the documented ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pam_tap_core::config::{check_host_name, Database, Policy, MAX_LENGTH, MIN_LENGTH};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Policy::parse(text) {
        match &p.database {
            Database::Sqlite(path) => assert!(path.is_absolute()),
            Database::Postgres(uri) => {
                let text = uri.expose();
                assert!(text.starts_with("postgresql://") || text.starts_with("postgres://"));
                assert!(text.len() <= 4096 && !text.contains(['\0', '\n', '\r']));
                // The redaction shown by `tapctl policy` and in errors must not panic on any URI.
                let _ = uri.redacted();
            }
        }
        assert!(check_host_name(&p.host_name).is_ok());
        assert!((MIN_LENGTH..=MAX_LENGTH).contains(&p.length));
        assert!((1..=100).contains(&p.max_failures));
        assert!(p.lifetime_min <= p.lifetime_default && p.lifetime_default <= p.lifetime_max);
        assert!(p.min_uid >= 1);
        assert!((19_456..=262_144).contains(&p.kdf.memory_kib));
        assert!((2..=10).contains(&p.kdf.iterations));
        assert!((1..=4).contains(&p.kdf.parallelism));
    }
});
