//! Security keys without hardware: `sk-` keys made by the real ssh-keygen and used by the real ssh
//! through the soft security key (crates/soft_sk), a provider whose key handle is the private key.
//! A test fixture only: never installed, never on a real user's machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::ids::unique;
use super::paths::{soft_sk_provider, tool};

/// The two security key types OpenSSH 9.2 makes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SkKind {
    /// `sk-ssh-ed25519@openssh.com`
    Ed25519,
    /// `sk-ecdsa-sha2-nistp256@openssh.com`
    Ecdsa,
}

impl SkKind {
    /// The `ssh-keygen -t` name.
    pub fn keygen_type(self) -> &'static str {
        match self {
            SkKind::Ed25519 => "ed25519-sk",
            SkKind::Ecdsa => "ecdsa-sk",
        }
    }

    /// The key type at the start of a public key line.
    pub fn public_type(self) -> &'static str {
        match self {
            SkKind::Ed25519 => "sk-ssh-ed25519@openssh.com",
            SkKind::Ecdsa => "sk-ecdsa-sha2-nistp256@openssh.com",
        }
    }

    /// How sshd names the type in its log ("Accepted publickey ... ssh2: ED25519-SK SHA256:...").
    pub fn log_name(self) -> &'static str {
        match self {
            SkKind::Ed25519 => "ED25519-SK",
            SkKind::Ecdsa => "ECDSA-SK",
        }
    }
}

/// An enrolled key: its private key file (for `ssh -i`) and its public key line (for
/// authorized_keys, without a trailing newline).
#[derive(Clone, Debug)]
pub struct SkKey {
    pub kind: SkKind,
    pub private: PathBuf,
    pub public_line: String,
}

impl SkKey {
    /// The key's SHA256 fingerprint as sshd logs it ("SHA256:...").
    pub fn fingerprint(&self) -> String {
        let out = Command::new(tool("ssh-keygen"))
            .args(["-l", "-E", "sha256", "-f"])
            .arg(self.private.with_extension("pub"))
            .output()
            .expect("ssh-keygen runs");
        assert!(out.status.success(), "ssh-keygen -l: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let fp = text.split_whitespace().nth(1).unwrap_or_default().to_string();
        assert!(fp.starts_with("SHA256:"), "ssh-keygen -l printed {text:?}");
        fp
    }
}

/// The soft security key: where it is and what the real OpenSSH tools need to use it.
pub struct SoftSk;

impl SoftSk {
    /// The built provider (`cargo build --workspace` builds it).
    pub fn provider() -> PathBuf {
        soft_sk_provider()
    }

    /// Enrolls a new key in `dir` with the real `ssh-keygen -t ed25519-sk|ecdsa-sk -w PROVIDER -N ''`,
    /// with `-O verify-required` when `verify_required` (its signatures then need a PIN).
    pub fn keygen(kind: SkKind, dir: &Path, verify_required: bool) -> SkKey {
        let private = dir.join(unique(&format!("{}-", kind.keygen_type())));
        let mut cmd = Command::new(tool("ssh-keygen"));
        cmd.args(["-q", "-t", kind.keygen_type(), "-N", "", "-C", "soft-sk"])
            .arg("-w")
            .arg(Self::provider())
            .arg("-f")
            .arg(&private);
        if verify_required {
            cmd.args(["-O", "verify-required"]);
        }
        let out = cmd.stdin(Stdio::null()).output().expect("ssh-keygen runs");
        assert!(
            out.status.success(),
            "{cmd:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let public = std::fs::read_to_string(private.with_extension("pub")).unwrap();
        let public_line = public.trim_end().to_string();
        assert!(
            public_line.starts_with(&format!("{} ", kind.public_type())),
            "ssh-keygen wrote {public_line:?}"
        );
        SkKey {
            kind,
            private,
            public_line,
        }
    }

    /// The options that make the real `ssh` sign with the soft key.
    pub fn ssh_options() -> Vec<String> {
        vec![
            "-o".into(),
            format!("SecurityKeyProvider={}", Self::provider().display()),
        ]
    }
}
