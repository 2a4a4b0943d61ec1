//! argon2id hashing of passes, bounded verification of stored hashes, the timing decoy, and the
//! derived secret that stands in for the account's current password during the handoff.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;

/// argon2id cost. Bounds on read-back keep a tampered row from making sshd allocate gigabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

const MAX_MEMORY_KIB: u32 = 262_144;
const MAX_ITERATIONS: u32 = 10;
const MAX_PARALLELISM: u32 = 4;
const OUTPUT_LEN: usize = 32;

impl KdfParams {
    fn argon2(&self) -> Result<Argon2<'static>, Error> {
        if self.memory_kib > MAX_MEMORY_KIB || self.iterations > MAX_ITERATIONS || self.parallelism > MAX_PARALLELISM {
            return Err(Error::Hash(format!(
                "parameters m={} t={} p={} are beyond m<={MAX_MEMORY_KIB} t<={MAX_ITERATIONS} p<={MAX_PARALLELISM}",
                self.memory_kib, self.iterations, self.parallelism
            )));
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(OUTPUT_LEN))
            .map_err(|e| Error::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| Error::Io(format!("random source: {e}")))?;
    Ok(b)
}

/// A salted argon2id PHC string for `code`.
pub fn hash(code: &str, p: &KdfParams) -> Result<String, Error> {
    let salt = SaltString::encode_b64(&random::<16>()?).map_err(|e| Error::Hash(e.to_string()))?;
    Ok(p.argon2()?
        .hash_password(code.as_bytes(), &salt)
        .map_err(|e| Error::Hash(e.to_string()))?
        .to_string())
}

/// Whether `code` matches the stored PHC string. Anything but a well-formed argon2id hash within
/// bounds is an error, never a match.
pub fn verify(code: &str, phc: &str) -> Result<bool, Error> {
    if phc.len() > 256 {
        return Err(Error::Hash("longer than any argon2id PHC string".into()));
    }
    let parsed = PasswordHash::new(phc).map_err(|e| Error::Hash(e.to_string()))?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(Error::Hash(format!("algorithm {} is not argon2id", parsed.algorithm)));
    }
    // pam_tap's bounds before argon2's own checks, which multiply p by 8 before bounding it (a
    // tampered p near u32::MAX overflows there). A name given twice is refused first: argon2 takes
    // the last value, `get_decimal` the first, and pam_tap never writes one.
    let names: Vec<&str> = parsed.params.iter().map(|(name, _)| name.as_str()).collect();
    if let Some(twice) = (1..names.len()).find(|&i| names[..i].contains(&names[i])) {
        return Err(Error::Hash(format!("parameter {} given twice", names[twice])));
    }
    let decimal = |k: &str| parsed.params.get_decimal(k).unwrap_or(0);
    KdfParams {
        memory_kib: decimal("m"),
        iterations: decimal("t"),
        parallelism: decimal("p"),
    }
    .argon2()?;
    let params = Params::try_from(&parsed).map_err(|e| Error::Hash(e.to_string()))?;
    let kdf = KdfParams {
        memory_kib: params.m_cost(),
        iterations: params.t_cost(),
        parallelism: params.p_cost(),
    };
    kdf.argon2()?; // bounds
    let out_len = parsed.hash.map(|h| h.len()).unwrap_or(0);
    if out_len != OUTPUT_LEN {
        return Err(Error::Hash(format!("digest of {out_len} bytes, expected {OUTPUT_LEN}")));
    }
    if parsed.version != Some(0x13) {
        return Err(Error::Hash("argon2id version is not 0x13".into()));
    }
    let salt = parsed.salt.ok_or_else(|| Error::Hash("no salt".into()))?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| Error::Hash(e.to_string()))?;
    let expected = parsed.hash.ok_or_else(|| Error::Hash("no digest".into()))?;
    let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
    run(&kdf, code.as_bytes(), salt, &mut out[..])?;
    // Output's equality is constant-time.
    Ok(argon2::password_hash::Output::new(&out[..]).map_err(|e| Error::Hash(e.to_string()))? == expected)
}

/// One argon2id run over the answer with a fresh salt, compared with nothing: it costs what a real
/// verification costs and can never succeed.
pub fn decoy(answer: &[u8], p: &KdfParams) {
    let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
    let salt = random::<16>().unwrap_or([7u8; 16]);
    let _ = run(p, answer, &salt, &mut out[..]);
}

/// argon2id's working memory, mapped fresh for every run and unmapped after: each verification
/// and each decoy then costs the same page faults, whatever the host process's heap looks like
/// (inside a long-lived process a reused heap block would make some runs measurably cheaper).
struct Blocks {
    ptr: std::ptr::NonNull<Block>,
    len: usize,
}

impl Blocks {
    fn map(len: usize) -> Result<Self, Error> {
        let bytes = len * std::mem::size_of::<Block>();
        // SAFETY: a private anonymous mapping, checked for failure; zero-filled pages are valid Blocks.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Hash(format!("cannot map {bytes} bytes for argon2id")));
        }
        let ptr = std::ptr::NonNull::new(p.cast::<Block>()).ok_or_else(|| Error::Hash("mmap gave NULL".into()))?;
        Ok(Blocks { ptr, len })
    }
}

impl AsMut<[Block]> for Blocks {
    fn as_mut(&mut self) -> &mut [Block] {
        // SAFETY: the mapping holds `len` Blocks, page-aligned (Block needs 64), owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `map` mapped; the kernel zeroes the pages before reuse.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len * std::mem::size_of::<Block>()) };
    }
}

/// One argon2id run over fresh memory.
fn run(p: &KdfParams, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let argon = p.argon2()?;
    let mut blocks = Blocks::map(argon.params().block_count())?;
    argon
        .hash_password_into_with_memory(pwd, salt, out, &mut blocks)
        .map_err(|e| Error::Hash(e.to_string()))
}

/// A fresh per-pass key for [`derive`].
pub fn new_derive_key() -> Result<[u8; 32], Error> {
    random::<32>()
}

/// The account password pam_tap sets at issue: HMAC-SHA256(per-pass key, pass) in hex. Only a holder
/// of the root-only database and the pass can compute it; the raw pass typed into pam_unix fails.
pub fn derive(key: &[u8], code: &str) -> Zeroizing<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"pam_tap handoff v1\0");
    mac.update(code.as_bytes());
    let tag: Zeroizing<[u8; 32]> = Zeroizing::new(mac.finalize().into_bytes().into());
    let mut out = Zeroizing::new(String::with_capacity(64));
    for b in tag.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A crypt(3) SHA-512 hash of the derived secret, for /etc/shadow (pam_unix verifies any format
/// libxcrypt knows; the secret has 256 bits, so the crypt cost does not matter).
pub fn shadow_crypt(secret: &str) -> Result<String, Error> {
    let params = sha_crypt::Sha512Params::new(5000).map_err(|e| Error::Hash(format!("{e:?}")))?;
    sha_crypt::sha512_simple(secret, &params).map_err(|e| Error::Hash(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: KdfParams = KdfParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    #[test]
    fn hash_verifies_only_the_code() {
        let h = hash("ABCDEFGHJK", &P).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("ABCDEFGHJK", &h).unwrap());
        assert!(!verify("ABCDEFGHJM", &h).unwrap());
        assert_ne!(h, hash("ABCDEFGHJK", &P).unwrap(), "salted");
    }

    #[test]
    fn tampered_hashes_are_errors_not_matches() {
        let h = hash("ABCDEFGHJK", &P).unwrap();
        let huge = h.replace("m=19456", "m=4194304");
        assert!(matches!(verify("ABCDEFGHJK", &huge), Err(Error::Hash(_))));
        let slow = h.replace("t=2", "t=1000");
        assert!(matches!(verify("ABCDEFGHJK", &slow), Err(Error::Hash(_))));
        // Each bound is pam_tap's, checked before argon2 reads the parameters: a p argon2 would
        // multiply past u32::MAX (found by the hash_parse fuzz target) is refused, not a panic.
        for p in ["p=5", "p=536870913", "p=2333333333", "p=4294967295", "p=1,p=2333333333"] {
            let wide = h.replace("p=1", p);
            assert!(matches!(verify("ABCDEFGHJK", &wide), Err(Error::Hash(_))), "{p}");
        }
        let argon2i = h.replace("$argon2id$", "$argon2i$");
        assert!(verify("ABCDEFGHJK", &argon2i).is_err());
        for garbage in ["", "x", "$argon2id$", "$6$salt$hash", &"A".repeat(10_000)] {
            assert!(verify("ABCDEFGHJK", garbage).is_err(), "{garbage:.20}");
        }
    }

    #[test]
    fn derived_secret_depends_on_key_and_code_and_crypts() {
        let k1 = new_derive_key().unwrap();
        let k2 = new_derive_key().unwrap();
        let d = derive(&k1, "ABCDEFGHJK");
        assert_eq!(d.len(), 64);
        assert_eq!(*d, *derive(&k1, "ABCDEFGHJK"));
        assert_ne!(*d, *derive(&k2, "ABCDEFGHJK"));
        assert_ne!(*d, *derive(&k1, "ABCDEFGHJM"));
        let c = shadow_crypt(&d).unwrap();
        assert!(c.starts_with("$6$"));
        assert!(sha_crypt::sha512_check(&d, &c).is_ok());
        assert!(sha_crypt::sha512_check("ABCDEFGHJK", &c).is_err());
    }
}
