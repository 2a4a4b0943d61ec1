//! SSH keys enrolled with a pass, and who may enroll one now: what key-only servers need.
//!
//! sshd asks two things, each through a different door. Its `AuthorizedKeysCommand` (the
//! `pam_tap_keys` program, never root) asks "which keys may log in as this user, and may this user
//! enroll the key offered?" and reads only the keys database ([`KeysDb`], group-readable, no pass
//! hash in it). The module's `enroll` step (keyboard-interactive, after the key was proven) asks
//! "is this key known, and if not, does the answer to the prompt enroll it?"; only it writes.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use pam_tap_base::error::{Error, Result};

mod db;
pub mod fleet;
pub use db::{KeysDb, Lookup, NewKey, DEFAULT_KEYS_DB};

/// The key types a pass may enroll: plain public keys (no certificates), as sshd names them in
/// `SSH_AUTH_INFO_0` and in authorized_keys lines.
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// The security-key types (FIDO2 authenticators).
pub const SK_KEY_TYPES: &[&str] = &["sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"];

/// The longest base64 key blob accepted (an RSA 16384-bit key is about 2.8 kB).
const MAX_BLOB: usize = 4096;

/// A public key: its type and its base64 blob, checked to agree with each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicKey {
    pub key_type: String,
    pub blob: String,
}

impl PublicKey {
    /// A key from its type and base64 blob: a known type, valid base64 whose first field names the
    /// same type (as the SSH wire format puts it).
    pub fn parse(key_type: &str, blob: &str) -> Result<Self> {
        if !KEY_TYPES.contains(&key_type) {
            return Err(Error::Refused(format!(
                "not a key type pam_tap enrolls: {:?}",
                clip(key_type)
            )));
        }
        if blob.is_empty() || blob.len() > MAX_BLOB {
            return Err(Error::Refused(format!("a key blob of {} bytes", blob.len())));
        }
        let raw = STANDARD
            .decode(blob)
            .map_err(|_| Error::Refused("the key is not valid base64".into()))?;
        let named = raw
            .get(..4)
            .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize)
            .and_then(|n| raw.get(4..4 + n));
        if named != Some(key_type.as_bytes()) {
            return Err(Error::Refused(format!("the key blob is not a {key_type} key")));
        }
        Ok(PublicKey {
            key_type: key_type.to_string(),
            blob: blob.to_string(),
        })
    }

    /// The key sshd proved in this connection: the `publickey TYPE BLOB` line of `SSH_AUTH_INFO_0`
    /// (sshd's `expose_authinfo`: one line per method that succeeded so far). `None` when no key
    /// was proven, or more than one (pam_tap then cannot tell which to enroll).
    pub fn from_auth_info(info: &str) -> Option<Self> {
        let mut found = info.lines().filter_map(|l| l.strip_prefix("publickey ")).map(|rest| {
            let mut f = rest.split(' ');
            Self::parse(f.next().unwrap_or(""), f.next().unwrap_or("")).ok()
        });
        let first = found.next()??;
        found.next().is_none().then_some(first)
    }

    /// OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the blob's SHA-256.
    pub fn fingerprint(&self) -> String {
        let raw = STANDARD.decode(&self.blob).unwrap_or_default();
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(raw)))
    }

    /// The key as an authorized_keys line (no options).
    pub fn line(&self) -> String {
        format!("{} {}", self.key_type, self.blob)
    }

    pub fn is_security_key(&self) -> bool {
        SK_KEY_TYPES.contains(&self.key_type.as_str())
    }
}

/// Whether `fingerprint` looks like OpenSSH's SHA256 form.
pub fn plausible_fingerprint(fingerprint: &str) -> bool {
    fingerprint
        .strip_prefix("SHA256:")
        .is_some_and(|b| b.len() == 43 && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/'))
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests;
