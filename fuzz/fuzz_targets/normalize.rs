//! Any bytes typed at the prompt: `normalize` never panics, and what it accepts is a canonical pass
//! (alphabet only, length in range) that normalises to itself and survives grouping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pam_tap_core::config::{MAX_LENGTH, MIN_LENGTH};
use pam_tap_base::passcode::{grouped, normalize, ALPHABET, MAX_INPUT};

fuzz_target!(|data: &[u8]| {
    if let Some(code) = normalize(data) {
        assert!(data.len() <= MAX_INPUT);
        assert!((MIN_LENGTH..=MAX_LENGTH).contains(&code.len()));
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(normalize(code.as_bytes()).as_deref(), Some(&*code));
        assert_eq!(normalize(grouped(&code).as_bytes()).as_deref(), Some(&*code));
    }
});
