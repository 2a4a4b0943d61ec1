//! The authenticator's arithmetic, free of FFI: a new key pair, the flags a signature carries, and
//! the bytes OpenSSH verifies (ssh-ed25519-sk.c and ssh-ecdsa-sk.c of OpenSSH 9.2).

use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

/// sk-api.h's SSH_SK_USER_PRESENCE_REQD: asked for at enroll and sign, and reported in a signature.
pub const USER_PRESENCE: u8 = 0x01;
/// sk-api.h's SSH_SK_USER_VERIFICATION_REQD: asked for, and reported as "the user was verified".
pub const USER_VERIFIED: u8 = 0x04;

/// sk-api.h's algorithm numbers: SSH_SK_ECDSA (0, NIST P-256) and SSH_SK_ED25519 (1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Alg {
    EcdsaP256,
    Ed25519,
}

impl Alg {
    pub fn from_api(alg: u32) -> Option<Alg> {
        match alg {
            0 => Some(Alg::EcdsaP256),
            1 => Some(Alg::Ed25519),
            _ => None,
        }
    }
}

/// A new credential: the public key as OpenSSH reads it (32 bytes for Ed25519, an uncompressed
/// SEC1 point for P-256) and the key handle, which is the 32-byte private key itself.
pub struct Credential {
    pub public_key: Vec<u8>,
    pub key_handle: Vec<u8>,
}

pub fn new_credential(alg: Alg) -> Result<Credential, getrandom::Error> {
    loop {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret)?;
        // Not every 32 bytes are a P-256 scalar (zero or past the group order): draw again.
        if let Some(public_key) = public_key(alg, &secret) {
            return Ok(Credential {
                public_key,
                key_handle: secret.to_vec(),
            });
        }
    }
}

/// The public key of the private key in `key_handle`, or None when the handle is not one.
pub fn public_key(alg: Alg, key_handle: &[u8]) -> Option<Vec<u8>> {
    match alg {
        Alg::Ed25519 => Some(ed25519_key(key_handle)?.verifying_key().to_bytes().to_vec()),
        Alg::EcdsaP256 => {
            let key = p256::ecdsa::SigningKey::from_slice(key_handle).ok()?;
            Some(key.verifying_key().to_encoded_point(false).as_bytes().to_vec())
        }
    }
}

fn ed25519_key(key_handle: &[u8]) -> Option<ed25519_dalek::SigningKey> {
    Some(ed25519_dalek::SigningKey::from_bytes(key_handle.try_into().ok()?))
}

/// A signature was asked to carry user verification and no PIN came with the request: OpenSSH
/// then asks the user for one and signs again (sshconnect2.c's identity_sign).
#[derive(Debug, PartialEq, Eq)]
pub struct PinRequired;

/// The flags a signature reports for a key enrolled with `requested` flags: presence when the key
/// asks for it, verification only when the key asks for it and a PIN was given. The soft key
/// checks no PIN: any non-empty one counts, which is all a test of the server side needs.
pub fn signature_flags(requested: u8, pin_given: bool) -> Result<u8, PinRequired> {
    let presence = requested & USER_PRESENCE;
    if requested & USER_VERIFIED == 0 {
        return Ok(presence);
    }
    if !pin_given {
        return Err(PinRequired);
    }
    Ok(presence | USER_VERIFIED)
}

/// What an authenticator signs for OpenSSH:
/// sha256(application) || flags || counter (big-endian u32) || sha256(data).
pub fn signed_message(application: &[u8], flags: u8, counter: u32, data: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(32 + 1 + 4 + 32);
    message.extend_from_slice(&Sha256::digest(application));
    message.push(flags);
    message.extend_from_slice(&counter.to_be_bytes());
    message.extend_from_slice(&Sha256::digest(data));
    message
}

/// The signature parts of sk-api.h's sk_sign_response: Ed25519's 64 bytes alone in `r`; for ECDSA
/// the big-endian r and s over SHA-256 of the message.
pub struct SignatureParts {
    pub r: Vec<u8>,
    pub s: Option<Vec<u8>>,
}

/// Signs `message` with the private key in `key_handle`, or None when the handle is not one.
pub fn sign(alg: Alg, key_handle: &[u8], message: &[u8]) -> Option<SignatureParts> {
    match alg {
        Alg::Ed25519 => Some(SignatureParts {
            r: ed25519_key(key_handle)?.sign(message).to_bytes().to_vec(),
            s: None,
        }),
        Alg::EcdsaP256 => {
            let key = p256::ecdsa::SigningKey::from_slice(key_handle).ok()?;
            let signature: p256::ecdsa::Signature = key.sign(message);
            let (r, s) = signature.split_bytes();
            Some(SignatureParts {
                r: r.to_vec(),
                s: Some(s.to_vec()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;

    #[test]
    fn the_signed_message_is_laid_out_as_openssh_rebuilds_it() {
        let m = signed_message(b"ssh:", 0x05, 0x0102_0304, b"data");
        assert_eq!(m.len(), 69);
        assert_eq!(m[..32], Sha256::digest(b"ssh:")[..]);
        assert_eq!(m[32], 0x05);
        assert_eq!(m[33..37], [1, 2, 3, 4]);
        assert_eq!(m[37..], Sha256::digest(b"data")[..]);
    }

    #[test]
    fn verification_is_reported_only_when_asked_for_and_a_pin_came() {
        assert_eq!(signature_flags(USER_PRESENCE, false), Ok(USER_PRESENCE));
        assert_eq!(signature_flags(USER_PRESENCE, true), Ok(USER_PRESENCE));
        assert_eq!(signature_flags(USER_PRESENCE | USER_VERIFIED, false), Err(PinRequired));
        assert_eq!(
            signature_flags(USER_PRESENCE | USER_VERIFIED, true),
            Ok(USER_PRESENCE | USER_VERIFIED)
        );
        // A key enrolled with no-touch-required reports no presence.
        assert_eq!(signature_flags(0, false), Ok(0));
    }

    #[test]
    fn an_ed25519_signature_verifies_with_the_enrolled_public_key() {
        let c = new_credential(Alg::Ed25519).unwrap();
        assert_eq!(c.public_key.len(), 32);
        let message = signed_message(b"ssh:", USER_PRESENCE, 7, b"session");
        let parts = sign(Alg::Ed25519, &c.key_handle, &message).unwrap();
        assert!(parts.s.is_none());
        let public = ed25519_dalek::VerifyingKey::from_bytes(c.public_key.as_slice().try_into().unwrap()).unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&parts.r).unwrap();
        public.verify_strict(&message, &signature).unwrap();
        let mut other = message.clone();
        other[32] ^= USER_VERIFIED;
        assert!(public.verify_strict(&other, &signature).is_err(), "flags are signed");
    }

    #[test]
    fn an_ecdsa_signature_verifies_with_the_enrolled_public_key() {
        let c = new_credential(Alg::EcdsaP256).unwrap();
        assert_eq!((c.public_key.len(), c.public_key[0]), (65, 0x04), "uncompressed SEC1");
        let message = signed_message(b"ssh:", USER_PRESENCE, 7, b"session");
        let parts = sign(Alg::EcdsaP256, &c.key_handle, &message).unwrap();
        let s = parts.s.unwrap();
        assert_eq!((parts.r.len(), s.len()), (32, 32));
        let public = p256::ecdsa::VerifyingKey::from_sec1_bytes(&c.public_key).unwrap();
        let signature = p256::ecdsa::Signature::from_scalars(
            <[u8; 32]>::try_from(parts.r).unwrap(),
            <[u8; 32]>::try_from(s).unwrap(),
        )
        .unwrap();
        public.verify(&message, &signature).unwrap();
        assert!(public.verify(b"another message", &signature).is_err());
    }

    #[test]
    fn a_handle_that_is_not_a_key_signs_nothing() {
        assert!(sign(Alg::Ed25519, &[1; 31], b"m").is_none());
        assert!(
            sign(Alg::EcdsaP256, &[0; 32], b"m").is_none(),
            "zero is no P-256 scalar"
        );
        assert!(
            public_key(Alg::EcdsaP256, &[0xff; 32]).is_none(),
            "past the group order"
        );
    }
}
