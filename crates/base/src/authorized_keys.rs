//! A user's own authorized_keys files, read the way sshd reads them: as the user (file-system uid
//! and gid switched for the read), without following a symlink at the last component, bounded in
//! size. The key enrollment step asks whether the key sshd just accepted is listed there, so a key
//! the user placed themselves never meets a pass prompt.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Largest authorized_keys file read (sshd reads lines of up to 16 kB; a file of a few hundred
/// keys is well under this).
const MAX_FILE: u64 = 1024 * 1024;

/// sshd's `AuthorizedKeysFile` tokens: `%%`, `%h` (home), `%u` (user), `%U` (uid); a relative
/// path is relative to the home directory. `None` for a token sshd would not expand here.
pub fn expand(pattern: &str, home: &Path, user: &str, uid: u32) -> Option<PathBuf> {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            'h' => out.push_str(home.to_str()?),
            'u' => out.push_str(user),
            'U' => out.push_str(&uid.to_string()),
            _ => return None,
        }
    }
    let p = PathBuf::from(out);
    Some(if p.is_absolute() { p } else { home.join(p) })
}

/// Whether an authorized_keys text lists `key_type blob` as a key (not as a `cert-authority`).
pub fn lists(text: &str, key_type: &str, blob: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return false;
        }
        let (options, rest) = split_options(line);
        if options.split(',').any(|o| o.eq_ignore_ascii_case("cert-authority")) {
            return false;
        }
        let mut f = rest.split_ascii_whitespace();
        f.next() == Some(key_type) && f.next() == Some(blob)
    })
}

/// Splits a line into its options field (empty when it starts with the key type) and the rest.
/// Options end at the first space outside double quotes, as in sshd's `sshauthopt_parse`.
fn split_options(line: &str) -> (&str, &str) {
    let first = line.split_ascii_whitespace().next().unwrap_or("");
    if first.starts_with("ssh-") || first.starts_with("ecdsa-") || first.starts_with("sk-") {
        return ("", line);
    }
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return (&line[..i], line[i..].trim_start()),
            _ => {}
        }
    }
    (line, "")
}

/// The text of `user`'s authorized_keys files (`patterns` as sshd's `AuthorizedKeysFile`), each
/// read with the file-system ids of the user. A file that is missing, a symlink, not owned by the
/// user or root, or writable by others is skipped, as sshd's StrictModes would.
pub fn read_as_user(patterns: &[String], home: &Path, user: &str, uid: u32, gid: u32) -> String {
    let mut text = String::new();
    let _ids = FsIds::switch(uid, gid);
    for pattern in patterns {
        let Some(path) = expand(pattern, home, user, uid) else {
            continue;
        };
        if let Some(t) = read_one(&path, uid) {
            text.push_str(&t);
            text.push('\n');
        }
    }
    text
}

fn read_one(path: &Path, uid: u32) -> Option<String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || (meta.uid() != uid && meta.uid() != 0) || meta.mode() & 0o022 != 0 {
        return None;
    }
    let mut buf = String::new();
    file.take(MAX_FILE).read_to_string(&mut buf).ok()?;
    Some(buf)
}

/// The file-system uid and gid of this process switched to a user's for as long as it lives (Linux
/// `setfsuid`/`setfsgid`: they change nothing else, and a caller that is not root keeps its own).
struct FsIds {
    uid: u32,
    gid: u32,
}

impl FsIds {
    fn switch(uid: u32, gid: u32) -> FsIds {
        // SAFETY: plain system calls; each returns the previous id.
        unsafe {
            let old_gid = libc::setfsgid(gid) as u32;
            let old_uid = libc::setfsuid(uid) as u32;
            FsIds {
                uid: old_uid,
                gid: old_gid,
            }
        }
    }
}

impl Drop for FsIds {
    fn drop(&mut self) {
        // SAFETY: as above; restores what `switch` found.
        unsafe {
            libc::setfsuid(self.uid);
            libc::setfsgid(self.gid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIM4pmH4fO4hNTBvtG5iATBC5q8NDTT1XP1qDvLjc2hlm";

    #[test]
    fn a_key_is_listed_with_or_without_options_but_not_as_a_certificate_authority() {
        assert!(lists(&format!("ssh-ed25519 {K} me@laptop\n"), "ssh-ed25519", K));
        assert!(lists(
            &format!("# mine\n\nrestrict,from=\"10.0.0.1, 10.0.0.2\" ssh-ed25519 {K}\n"),
            "ssh-ed25519",
            K
        ));
        assert!(lists(
            &format!("command=\"echo \\\"hi there\\\"\" ssh-ed25519 {K}"),
            "ssh-ed25519",
            K
        ));
        assert!(!lists(&format!("cert-authority ssh-ed25519 {K}"), "ssh-ed25519", K));
        assert!(!lists(&format!("# ssh-ed25519 {K}"), "ssh-ed25519", K));
        assert!(!lists(&format!("ssh-rsa {K}"), "ssh-ed25519", K));
        assert!(!lists("ssh-ed25519 AAAAother", "ssh-ed25519", K));
        assert!(!lists("", "ssh-ed25519", K));
    }

    #[test]
    fn patterns_expand_as_sshd_expands_them() {
        let home = Path::new("/home/alice");
        assert_eq!(
            expand(".ssh/authorized_keys", home, "alice", 1001),
            Some("/home/alice/.ssh/authorized_keys".into())
        );
        assert_eq!(
            expand("/etc/ssh/keys/%u", home, "alice", 1001),
            Some("/etc/ssh/keys/alice".into())
        );
        assert_eq!(
            expand("%h/k_%U_%%", home, "alice", 1001),
            Some("/home/alice/k_1001_%".into())
        );
        assert_eq!(expand("%x", home, "alice", 1001), None);
    }

    #[test]
    fn a_file_is_read_when_it_is_the_users_and_safe() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join(".ssh");
        std::fs::create_dir(&ssh).unwrap();
        std::fs::write(ssh.join("authorized_keys"), format!("ssh-ed25519 {K}\n")).unwrap();
        let me = unsafe { libc::geteuid() };
        let pats = vec![".ssh/authorized_keys".to_string(), ".ssh/missing".to_string()];
        let text = read_as_user(&pats, dir.path(), "me", me, unsafe { libc::getegid() });
        assert!(lists(&text, "ssh-ed25519", K));
        std::fs::set_permissions(ssh.join("authorized_keys"), std::fs::Permissions::from_mode(0o666)).unwrap();
        let text = read_as_user(&pats, dir.path(), "me", me, unsafe { libc::getegid() });
        assert!(!lists(&text, "ssh-ed25519", K), "a world-writable file is skipped");
        std::fs::remove_file(ssh.join("authorized_keys")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", ssh.join("authorized_keys")).unwrap();
        assert!(
            read_as_user(&pats, dir.path(), "me", me, 0).trim().is_empty(),
            "a symlink is not followed"
        );
    }
}
