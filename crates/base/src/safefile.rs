//! Opening files the module must trust: absolute path, `O_NOFOLLOW|O_CLOEXEC`, then `fstat` of the
//! open descriptor (regular, root-owned, not group/world-writable) and the same check of its directory.

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

impl Untrusted {
    /// The first rule `meta` breaks, if any. `meta` comes from `symlink_metadata` of a path or
    /// from `fstat` of a descriptor opened with `O_NOFOLLOW`.
    pub fn of(meta: &Metadata, dir: bool) -> Option<Self> {
        let kind_ok = if dir { meta.is_dir() } else { meta.is_file() };
        if meta.file_type().is_symlink() {
            Some(Self::Symlink)
        } else if !kind_ok {
            Some(Self::WrongKind { dir })
        } else if meta.uid() != 0 {
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

fn check_meta(what: &str, path: &Path, meta: &Metadata, dir: bool) -> Result<(), Error> {
    match Untrusted::of(meta, dir) {
        Some(problem) => Err(problem.refusal(what, path)),
        None => Ok(()),
    }
}

/// Checks the directory holding `path` (not following a symlink at the directory itself).
pub fn check_parent(path: &Path) -> Result<(), Error> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| Error::Unsafe(format!("{} has no parent directory", path.display())))?;
    let meta = std::fs::symlink_metadata(parent).map_err(|e| Error::Io(format!("{}: {e}", parent.display())))?;
    check_meta("directory", parent, &meta, true)
}

/// Opens `path` read-only if it and its directory are trusted.
pub fn open_trusted(path: &Path) -> Result<File, Error> {
    if !path.is_absolute() {
        return Err(Error::Unsafe(format!("{} is not an absolute path", path.display())));
    }
    check_parent(path)?;
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
    check_meta("file", path, &meta, false)?;
    Ok(file)
}

/// Checks a file that another library will open by path (the database and its -wal/-shm): it must
/// not be a symlink and must pass the same owner/mode rules. A missing file is fine when `optional`.
pub fn check_trusted(path: &Path, optional: bool) -> Result<(), Error> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::Unsafe(format!("{} is a symlink", path.display()))),
        Ok(_) => open_trusted(path).map(drop),
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io(format!("{}: {e}", path.display()))),
    }
}

/// Reads a trusted file of at most `max` bytes.
pub fn read_trusted(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    read_trusted_with_mode(path, max).map(|(bytes, _)| bytes)
}

/// [`read_trusted`], with the permission bits of the file as it was opened.
pub fn read_trusted_with_mode(path: &Path, max: u64) -> Result<(Vec<u8>, u32), Error> {
    let file = open_trusted(path)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn am_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn untrusted_names_the_first_rule_broken() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "x").unwrap();
        let l = dir.path().join("l.toml");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        let meta = |p: &Path| std::fs::symlink_metadata(p).unwrap();
        assert_eq!(Untrusted::of(&meta(&l), false), Some(Untrusted::Symlink));
        assert_eq!(
            Untrusted::of(&meta(dir.path()), false),
            Some(Untrusted::WrongKind { dir: false })
        );
        assert_eq!(Untrusted::of(&meta(&f), true), Some(Untrusted::WrongKind { dir: true }));
        if am_root() {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o620)).unwrap();
            assert_eq!(
                Untrusted::of(&meta(&f), false),
                Some(Untrusted::Writable { mode: 0o620 })
            );
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(Untrusted::of(&meta(&f), false), None);
        } else {
            let uid = nix::unistd::geteuid().as_raw();
            assert_eq!(Untrusted::of(&meta(&f), false), Some(Untrusted::NotRootOwned { uid }));
        }
    }

    #[test]
    fn refuses_symlink_group_writable_and_relative() {
        if !am_root() {
            crate::skipped("safefile tests need root-owned files; run as root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(open_trusted(&f).is_ok());
        let l = dir.path().join("l.toml");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        assert!(matches!(open_trusted(&l), Err(Error::Unsafe(_))));
        assert!(matches!(check_trusted(&l, true), Err(Error::Unsafe(_))));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(matches!(open_trusted(&f), Err(Error::Unsafe(_))));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(open_trusted(&f), Err(Error::Unsafe(_))));
        assert!(matches!(open_trusted(Path::new("rel/c.toml")), Err(Error::Unsafe(_))));
        assert!(matches!(check_parent(&f), Err(Error::Unsafe(_))));
    }
}
