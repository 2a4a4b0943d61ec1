//! Which answers pam_tap has anything to do with. Most answers at a password prompt are ordinary
//! passwords: they can neither be a pass nor open an account through a reset pass's derived
//! secret, so they need no user look-up, no store and no key derivation, for any user. They leave
//! at once, at a cost that does not depend on who the user is; only the answers that could matter
//! take the paced, equal-cost path (docs/guide/src/design.md, "Timing").

use zeroize::Zeroizing;

use pam_tap_base::passcode::normalize;

/// Length of a reset's derived secret: 32 bytes of HMAC as lowercase hex ([`pam_tap_base::hash::derive`]).
const DERIVED_LEN: usize = 64;

/// What an answer is to pam_tap, normalised once.
pub(super) enum Shape {
    /// It could be a pass: here it is, normalised.
    Pass(Zeroizing<String>),
    /// It could be a reset's derived secret typed at the prompt: pam_unix's password while a
    /// reset lives, so it must reach the settling of a dead reset (`reset::at_login`) before
    /// pam_unix sees it.
    DerivedSecret,
    /// An ordinary password: nothing of pam_tap's.
    Ordinary,
}

pub(super) fn shape(answer: &[u8]) -> Shape {
    match normalize(answer) {
        Some(code) => Shape::Pass(code),
        None if could_be_derived_secret(answer) => Shape::DerivedSecret,
        None => Shape::Ordinary,
    }
}

#[cfg(test)]
fn may_concern_pam_tap(answer: &[u8]) -> bool {
    !matches!(shape(answer), Shape::Ordinary)
}

fn could_be_derived_secret(answer: &[u8]) -> bool {
    answer.len() == DERIVED_LEN && answer.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_and_derived_secrets_concern_pam_tap_ordinary_passwords_do_not() {
        let derived = pam_tap_base::hash::derive(b"some derive key", "K7QXM9TRWP");
        for a in [&b"K7QXM9TRWP"[..], b"k7qx-m9tr-wp", b"K7QX M9TR WP", derived.as_bytes()] {
            assert!(may_concern_pam_tap(a), "{}", String::from_utf8_lossy(a));
        }
        let upper = derived.to_uppercase();
        for a in [
            &b"my ordinary password!"[..],
            b"Tr0ub4dor&3",
            b"K7QX",
            b"K7QXM9TRWP0",
            &derived.as_bytes()[..63],
            upper.as_bytes(),
            "K7QXM9TRWPé".as_bytes(),
        ] {
            assert!(!may_concern_pam_tap(a), "{}", String::from_utf8_lossy(a));
        }
    }
}
