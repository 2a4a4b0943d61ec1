//! Any text given as the policy file: `Policy::parse` returns Ok or Err, never panics; an accepted
//! policy always satisfies the documented ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pam_tap::config::{Policy, MAX_LENGTH, MIN_LENGTH};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Policy::parse(text) {
        assert!(p.database.is_absolute());
        assert!((MIN_LENGTH..=MAX_LENGTH).contains(&p.length));
        assert!((1..=100).contains(&p.max_failures));
        assert!(p.lifetime_min <= p.lifetime_default && p.lifetime_default <= p.lifetime_max);
        assert!(p.min_uid >= 1);
        assert!((19_456..=262_144).contains(&p.kdf.memory_kib));
        assert!((2..=10).contains(&p.kdf.iterations));
        assert!((1..=4).contains(&p.kdf.parallelism));
    }
});
