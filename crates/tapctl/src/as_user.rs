//! Reading a file an operator named (`tapctl issue --csv FILE`) with the operator's own rights.
//!
//! tapctl runs as root, so opening FILE itself would let any operator read /etc/shadow through it.
//! A forked child drops to the operator's uid, gid and supplementary groups (all three uids, so it
//! cannot climb back), checks that it cannot, opens and reads the file, and streams it back over a
//! pipe. The kernel decides access exactly as for the operator's own shell, ACLs and all, which a
//! check in root's process (access(2), a stat of the modes) would only imitate, and racily.
//!
//! The child reports failures as its exit status (an errno, or one of the codes below), so no byte
//! of a file it could not fully read ever reaches the parent in an error.

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getgrouplist, pipe, setgroups, setresgid, setresuid, ForkResult, Gid, Uid, User};

use pam_tap_base::error::{Error, Result};

/// Child exit codes beside an errno (which are all below 200).
const DROP_FAILED: i32 = 200;
const NOT_REGULAR: i32 = 201;
const READ_FAILED: i32 = 202;

/// The first `max` bytes of `path`, read with `user`'s rights. Must be called while the process
/// is single-threaded (tapctl calls it before it starts its hashing threads).
pub fn read_as(user: &str, path: &Path, max: u64) -> Result<Vec<u8>> {
    let account = User::from_name(user)
        .map_err(|e| Error::Lookup(e.to_string()))?
        .ok_or_else(|| Error::Refused(format!("operator {user} is not a known user")))?;
    let cname = CString::new(user).map_err(|_| Error::Lookup("NUL in a user name".into()))?;
    let groups = getgrouplist(&cname, account.gid).map_err(|e| Error::Lookup(e.to_string()))?;
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Refused("the file name holds a NUL byte".into()))?;
    let (rx, tx) = pipe().map_err(|e| Error::Io(format!("pipe: {e}")))?;
    // SAFETY: tapctl is single-threaded here; the child only makes system calls and _exits.
    match unsafe { fork() }.map_err(|e| Error::Io(format!("fork: {e}")))? {
        ForkResult::Child => {
            drop(rx);
            let code = child(account.uid, account.gid, &groups, &cpath, std::fs::File::from(tx), max);
            // SAFETY: _exit skips the parent's atexit handlers and buffered output, as a child must.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(tx);
            let mut data = Vec::new();
            let read = std::fs::File::from(rx).take(max).read_to_end(&mut data);
            // The pipe is closed now: a child still writing gets EPIPE and ends.
            let status = waitpid(child, None).map_err(|e| Error::Io(format!("waitpid: {e}")))?;
            let shown = path.display();
            match status {
                WaitStatus::Exited(_, 0) => {
                    read.map_err(|e| Error::Io(format!("{shown}: {e}")))?;
                    Ok(data)
                }
                // The parent stopped reading at `max` bytes and the child's write failed: too big.
                WaitStatus::Exited(_, READ_FAILED) if data.len() as u64 >= max => Ok(data),
                WaitStatus::Signaled(_, nix::sys::signal::SIGPIPE, _) if data.len() as u64 >= max => Ok(data),
                WaitStatus::Exited(_, DROP_FAILED) => {
                    Err(Error::Io(format!("could not take on {user}'s rights to read {shown}")))
                }
                WaitStatus::Exited(_, NOT_REGULAR) => Err(Error::Refused(format!(
                    "{shown} is not a regular file (use --csv - to read standard input)"
                ))),
                WaitStatus::Exited(_, READ_FAILED) => Err(Error::Io(format!("{shown}: read failed"))),
                WaitStatus::Exited(_, errno) => Err(Error::Refused(format!(
                    "{user} cannot read {shown}: {}",
                    std::io::Error::from_raw_os_error(errno)
                ))),
                other => Err(Error::Io(format!("reading {shown} as {user}: {other:?}"))),
            }
        }
    }
}

/// The child: become `uid`, open, stream. Returns the exit status.
fn child(uid: Uid, gid: Gid, groups: &[Gid], path: &CString, mut out: std::fs::File, max: u64) -> i32 {
    let dropped = setgroups(groups).is_ok()
        && setresgid(gid, gid, gid).is_ok()
        && setresuid(uid, uid, uid).is_ok()
        && (uid.is_root() || setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_err());
    if !dropped {
        return DROP_FAILED;
    }
    // O_NONBLOCK: a FIFO must not hang the open; it is refused below anyway.
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    let fd = match open(path.as_c_str(), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => return (e as i32).clamp(1, DROP_FAILED - 1),
    };
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    match fstat(std::os::fd::AsRawFd::as_raw_fd(&file)) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG => {}
        Ok(_) => return NOT_REGULAR,
        Err(_) => return READ_FAILED,
    }
    match std::io::copy(&mut file.take(max), &mut out) {
        Ok(_) => 0,
        Err(_) => READ_FAILED,
    }
}
