//! Pass codes: generation from the OS CSPRNG, normalisation of what a user types, grouping for display.

use zeroize::Zeroizing;

/// The shortest and longest pass (the policy's `pass.length` lies between).
pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 48;

/// 31 symbols with no look-alikes: no 0/O, no 1/I/L. log2(31) = 4.95 bits per character.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Longest answer the module accepts from a conversation, in bytes.
pub const MAX_INPUT: usize = 512;

/// Entropy of a pass of `len` characters, in bits.
pub fn entropy_bits(len: usize) -> f64 {
    len as f64 * (ALPHABET.len() as f64).log2()
}

/// A new pass of `len` characters, uniform over [`ALPHABET`] (rejection sampling, no modulo bias).
pub fn generate(len: usize) -> Result<Zeroizing<String>, getrandom::Error> {
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        getrandom::getrandom(&mut buf[..])?;
        for &b in buf.iter() {
            // 248 = 8 * 31: bytes at or above it would favour the first symbols.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 31) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// What the user typed, reduced to the canonical pass form: upper case, spaces and dashes dropped.
/// `None` when the answer cannot be a pass (other characters, wrong length, not UTF-8): such an
/// answer is left to the rest of the stack and never counts as a failed try.
pub fn normalize(input: &[u8]) -> Option<Zeroizing<String>> {
    if input.len() > MAX_INPUT {
        return None;
    }
    let mut out = Zeroizing::new(String::with_capacity(input.len()));
    for &b in input {
        match b {
            b' ' | b'-' => continue,
            _ => {
                let up = b.to_ascii_uppercase();
                if !ALPHABET.contains(&up) {
                    return None;
                }
                out.push(up as char);
            }
        }
    }
    (MIN_LENGTH..=MAX_LENGTH).contains(&out.len()).then_some(out)
}

/// The pass as shown once to the issuer: groups of four joined by dashes, for reading aloud.
pub fn grouped(code: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(code.len() + code.len() / 4));
    for (i, c) in code.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_has_no_lookalikes_and_no_duplicates() {
        for c in b"01OIL" {
            assert!(!ALPHABET.contains(c));
        }
        let mut v = ALPHABET.to_vec();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 31);
    }

    #[test]
    fn generated_passes_have_the_length_and_alphabet_and_differ() {
        let a = generate(10).unwrap();
        let b = generate(10).unwrap();
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(*a, *b);
        assert_eq!(generate(48).unwrap().len(), 48);
    }

    #[test]
    fn generation_is_roughly_uniform() {
        let mut counts = [0u32; 31];
        for _ in 0..200 {
            for c in generate(48).unwrap().bytes() {
                counts[ALPHABET.iter().position(|&a| a == c).unwrap()] += 1;
            }
        }
        // 9600 draws, 310 expected each; a biased modulo would starve the tail symbols.
        assert!(counts.iter().all(|&n| (200..430).contains(&n)), "{counts:?}");
    }

    #[test]
    fn normalisation_accepts_case_spaces_dashes() {
        assert_eq!(normalize(b"abcd-efgh-jk").unwrap().as_str(), "ABCDEFGHJK");
        assert_eq!(normalize(b" ABCD EFGH JK ").unwrap().as_str(), "ABCDEFGHJK");
        assert_eq!(grouped("ABCDEFGHJK").as_str(), "ABCD-EFGH-JK");
        assert_eq!(
            normalize(grouped("ABCDEFGHJK").as_bytes()).unwrap().as_str(),
            "ABCDEFGHJK"
        );
    }

    #[test]
    fn normalisation_rejects_what_cannot_be_a_pass() {
        for bad in [
            &b"ABCDEFG"[..],           // too short
            &[b'A'; 49][..],           // too long
            b"ABCDEFGHJ0",             // look-alike
            b"ABCDEFGHJ\0",            // NUL
            b"ABCDEF\xffGHJ",          // not UTF-8
            b"",                       // empty
            b"correct horse battery!", // a password
        ] {
            assert!(normalize(bad).is_none(), "{bad:?}");
        }
        assert!(normalize(&vec![b'A'; 1 << 20]).is_none());
    }
}
