//! Opening files the module must trust: absolute path, `O_NOFOLLOW|O_CLOEXEC`, then `fstat` of the
//! open descriptor (regular, root-owned, not group/world-writable) and the same check of its directory.
//!
//! Whose files count is a value, [`Trust`]: root's ([`Trust::ROOT`], what every free function here
//! and every caller outside tests uses). Tests that run as any user trust their own uid instead
//! ([`Trust::current_user`]), the one narrow hook, so the same checks run unprivileged.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::Error;

/// Why a file or directory is not trusted: the one definition of a trusted file. The module turns
/// it into a refusal ([`Error::Unsafe`]); `tapctl doctor` into a finding with the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    Symlink,
    /// Not a regular file (`dir` false) or not a directory (`dir` true).
    WrongKind {
        dir: bool,
    },
    NotRootOwned {
        uid: u32,
    },
    /// Group- or world-writable; `mode` is the permission bits.
    Writable {
        mode: u32,
    },
}

/// Whose files are trusted: root's outside tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    owner: u32,
}

impl Trust {
    /// Root's files: the module's rule and tapctl's.
    pub const ROOT: Trust = Trust { owner: 0 };

    /// The files of the user running the tests (root's when that is root): the same checks,
    /// runnable as any user.
    pub fn current_user() -> Trust {
        // SAFETY: geteuid cannot fail.
        Trust {
            owner: unsafe { libc::geteuid() },
        }
    }

    /// The first rule `meta` breaks, if any (see [`Untrusted::of`]).
    pub fn problem(self, meta: &Metadata, dir: bool) -> Option<Untrusted> {
        Untrusted::judge(meta, dir, self.owner)
    }

    fn check_meta(self, what: &str, path: &Path, meta: &Metadata, dir: bool) -> Result<(), Error> {
        match self.problem(meta, dir) {
            Some(problem) => Err(problem.refusal(what, path)),
            None => Ok(()),
        }
    }

    /// [`check_parent`] under this trust.
    pub fn check_parent(self, path: &Path) -> Result<(), Error> {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or_else(|| Error::Unsafe(format!("{} has no parent directory", path.display())))?;
        let meta = std::fs::symlink_metadata(parent).map_err(|e| Error::Io(format!("{}: {e}", parent.display())))?;
        self.check_meta("directory", parent, &meta, true)
    }

    /// [`open_trusted`] under this trust.
    pub fn open(self, path: &Path) -> Result<File, Error> {
        if !path.is_absolute() {
            return Err(Error::Unsafe(format!("{} is not an absolute path", path.display())));
        }
        self.check_parent(path)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::Unsafe(format!("{} is a symlink", path.display())),
                _ => Error::Io(format!("{}: {e}", path.display())),
            })?;
        let meta = file
            .metadata()
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        self.check_meta("file", path, &meta, false)?;
        Ok(file)
    }

    /// [`check_trusted`] under this trust.
    pub fn check(self, path: &Path, optional: bool) -> Result<(), Error> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => Err(Error::Unsafe(format!("{} is a symlink", path.display()))),
            Ok(_) => self.open(path).map(drop),
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io(format!("{}: {e}", path.display()))),
        }
    }

    /// [`read_trusted_with_mode`] under this trust.
    pub fn read(self, path: &Path, max: u64) -> Result<(Vec<u8>, u32), Error> {
        let file = self.open(path)?;
        let meta = file
            .metadata()
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        let (len, mode) = (meta.len(), meta.mode() & 0o7777);
        if len > max {
            return Err(Error::Io(format!(
                "{} is {len} bytes, over the {max}-byte limit",
                path.display()
            )));
        }
        let mut buf = Vec::new();
        file.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        if buf.len() as u64 > max {
            return Err(Error::Io(format!("{} is over the {max}-byte limit", path.display())));
        }
        Ok((buf, mode))
    }
}

impl Untrusted {
    /// The first rule `meta` breaks, if any, for a file of root's. `meta` comes from
    /// `symlink_metadata` of a path or from `fstat` of a descriptor opened with `O_NOFOLLOW`.
    pub fn of(meta: &Metadata, dir: bool) -> Option<Self> {
        Trust::ROOT.problem(meta, dir)
    }

    fn judge(meta: &Metadata, dir: bool, owner: u32) -> Option<Self> {
        let kind_ok = if dir { meta.is_dir() } else { meta.is_file() };
        if meta.file_type().is_symlink() {
            Some(Self::Symlink)
        } else if !kind_ok {
            Some(Self::WrongKind { dir })
        } else if meta.uid() != owner {
            Some(Self::NotRootOwned { uid: meta.uid() })
        } else if meta.mode() & 0o022 != 0 {
            Some(Self::Writable {
                mode: meta.mode() & 0o7777,
            })
        } else {
            None
        }
    }

    /// The refusal, naming `what` ("file", "directory") and the path.
    fn refusal(self, what: &str, path: &Path) -> Error {
        let path = path.display();
        Error::Unsafe(match self {
            Self::Symlink => format!("{what} {path} is a symlink"),
            Self::WrongKind { dir } => {
                let kind = if dir { "a directory" } else { "a regular file" };
                format!("{what} {path} is not {kind}")
            }
            Self::NotRootOwned { uid } => format!("{what} {path} is owned by uid {uid}, not root"),
            Self::Writable { mode } => format!("{what} {path} is group- or world-writable (mode {mode:o})"),
        })
    }
}

/// Checks the directory holding `path` (not following a symlink at the directory itself).
pub fn check_parent(path: &Path) -> Result<(), Error> {
    Trust::ROOT.check_parent(path)
}

/// Opens `path` read-only if it and its directory are trusted.
pub fn open_trusted(path: &Path) -> Result<File, Error> {
    Trust::ROOT.open(path)
}

/// Checks a file that another library will open by path (the database and its -wal/-shm): it must
/// not be a symlink and must pass the same owner/mode rules. A missing file is fine when `optional`.
pub fn check_trusted(path: &Path, optional: bool) -> Result<(), Error> {
    Trust::ROOT.check(path, optional)
}

/// Reads a trusted file of at most `max` bytes.
pub fn read_trusted(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    read_trusted_with_mode(path, max).map(|(bytes, _)| bytes)
}

/// [`read_trusted`], with the permission bits of the file as it was opened.
pub fn read_trusted_with_mode(path: &Path, max: u64) -> Result<(Vec<u8>, u32), Error> {
    Trust::ROOT.read(path, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn untrusted_names_the_first_rule_broken() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "x").unwrap();
        let l = dir.path().join("l.toml");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        let meta = |p: &Path| std::fs::symlink_metadata(p).unwrap();
        let mine = Trust::current_user();
        assert_eq!(mine.problem(&meta(&l), false), Some(Untrusted::Symlink));
        assert_eq!(
            mine.problem(&meta(dir.path()), false),
            Some(Untrusted::WrongKind { dir: false })
        );
        assert_eq!(mine.problem(&meta(&f), true), Some(Untrusted::WrongKind { dir: true }));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert_eq!(
            mine.problem(&meta(&f), false),
            Some(Untrusted::Writable { mode: 0o620 })
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(mine.problem(&meta(&f), false), None);
        // Someone else's file: not the owner trusted.
        let other = Trust { owner: 4242 };
        let uid = nix::unistd::geteuid().as_raw();
        assert_eq!(other.problem(&meta(&f), false), Some(Untrusted::NotRootOwned { uid }));
        if uid != 0 {
            assert_eq!(Untrusted::of(&meta(&f), false), Some(Untrusted::NotRootOwned { uid }));
        }
    }

    #[test]
    fn refuses_symlink_group_writable_and_relative() {
        let trust = Trust::current_user();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(trust.open(&f).is_ok());
        assert_eq!(trust.read(&f, 10).unwrap(), (b"x".to_vec(), 0o600));
        assert!(matches!(trust.read(&f, 0), Err(Error::Io(_))));
        let l = dir.path().join("l.toml");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        assert!(matches!(trust.open(&l), Err(Error::Unsafe(_))));
        assert!(matches!(trust.check(&l, true), Err(Error::Unsafe(_))));
        assert!(trust.check(&dir.path().join("missing"), true).is_ok());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(matches!(trust.open(&f), Err(Error::Unsafe(_))));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(trust.open(&f), Err(Error::Unsafe(_))));
        assert!(matches!(trust.open(Path::new("rel/c.toml")), Err(Error::Unsafe(_))));
        assert!(matches!(trust.check_parent(&f), Err(Error::Unsafe(_))));
    }
}
