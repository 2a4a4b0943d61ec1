//! Reads a GNOME login keyring file (gnome-keyring's binary format, `~/.local/share/keyrings/
//! login.keyring`) and tells whether a password opens it, the way gnome-keyring-daemon does: the
//! key and IV are SHA-256 of password and salt, iterated; the AES-128-CBC plaintext starts with the
//! MD5 of the rest. AES and MD5 come from the `openssl` program.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes(b.try_into().unwrap()))
    }
    fn string(&mut self) -> Option<()> {
        match self.u32()? {
            0xffff_ffff => Some(()),
            n => self.take(n as usize).map(drop),
        }
    }
}

/// The salt, the iteration count and the encrypted block of a keyring file.
fn parse(data: &[u8]) -> Option<(Vec<u8>, u32, Vec<u8>)> {
    let mut r = Reader(data);
    if r.take(16)? != b"GnomeKeyring\n\r\0\n" || r.take(4)? != [0, 0, 0, 0] {
        return None;
    }
    r.string()?; // name
    r.take(16)?; // ctime, mtime
    r.take(8)?; // flags, lock timeout
    let iterations = r.u32()?;
    let salt = r.take(8)?.to_vec();
    r.take(16)?; // reserved
    for _ in 0..r.u32()? {
        r.take(8)?; // id, type
        for _ in 0..r.u32()? {
            r.string()?;
            match r.u32()? {
                0 => r.string()?,
                _ => r.take(4).map(drop)?,
            }
        }
    }
    let n = r.u32()? as usize;
    Some((salt, iterations, r.take(n)?.to_vec()))
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl is missing (make deps)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap().stdout
}

/// Whether `password` opens the keyring file at `path`.
pub fn opens_with(path: &Path, password: &str) -> bool {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (salt, iterations, encrypted) =
        parse(&data).unwrap_or_else(|| panic!("{} is not a keyring file", path.display()));
    let mut digest = Sha256::new()
        .chain_update(password.as_bytes())
        .chain_update(&salt)
        .finalize();
    for _ in 1..iterations {
        digest = Sha256::digest(digest);
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let (key, iv) = (hex(&digest[..16]), hex(&digest[16..]));
    let plain = openssl(
        &["enc", "-d", "-aes-128-cbc", "-K", &key, "-iv", &iv, "-nopad"],
        &encrypted,
    );
    plain.len() >= 16 && openssl(&["dgst", "-md5", "-binary"], &plain[16..]) == plain[..16]
}
