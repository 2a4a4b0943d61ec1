//! Accounts: name service lookups (passwd, groups, shadow) and the two shadow edits pam_tap makes,
//! done by shadow's own tools (`chpasswd -e`, `chage -d`) so pam_tap never writes /etc/shadow.

use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::unistd::{Gid, Group, User};

use crate::error::{Error, Result};

/// A user as policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub groups: Vec<String>,
}

/// The two shadow fields the handoff uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    pub hash: String,
    /// Days since the epoch of the last change; `Some(0)` forces a change; `None` is empty.
    pub lastchg: Option<i64>,
    /// Days since the epoch on which the account expires (`chage -E`); `None`: never.
    pub expire: Option<i64>,
}

/// Longest user name pam_tap will look up; anything longer, or with `/`, NUL or control
/// characters, is treated as an unknown user without asking the name service.
pub const MAX_USER: usize = 256;

pub fn plausible_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_USER && !name.bytes().any(|b| b == b'/' || b < 0x20 || b == 0x7f || b == b':')
}

/// The uid of the account named `name` (no group lookups: sshd's keys command asks this per key).
pub fn uid_of(name: &str) -> Result<Option<u32>> {
    if !plausible_name(name) {
        return Ok(None);
    }
    let user = User::from_name(name).map_err(|e| Error::Lookup(e.to_string()))?;
    Ok(user.map(|u| u.uid.as_raw()))
}

/// The name service, behind a trait so the core can be tested with a fake one.
pub trait Directory {
    fn account(&self, name: &str) -> Result<Option<Account>>;
    fn shadow(&self, name: &str) -> Result<Option<ShadowEntry>>;
    /// Sets `user`'s shadow hash and last-change day ([`set_shadow`] on the real system).
    fn set_shadow(&self, user: &str, crypted: &str, lastchg: Option<i64>) -> Result<()>;
    /// `user`'s shadow entry once no shadow tool is changing it ([`wait_for_tools`] on the real
    /// system): a change cut short may have left its tool running.
    fn shadow_after_tools(&self, user: &str) -> Result<Option<ShadowEntry>>;
    /// The text of the user's own authorized_keys files (sshd's `AuthorizedKeysFile` patterns),
    /// read as the user ([`crate::authorized_keys::read_as_user`] on the real system). A name
    /// service that knows no home directories has none.
    fn authorized_keys(&self, _name: &str, _patterns: &[String]) -> Result<String> {
        Ok(String::new())
    }
}

/// The real name service (NSS).
pub struct System;

impl Directory for System {
    fn account(&self, name: &str) -> Result<Option<Account>> {
        if !plausible_name(name) {
            return Ok(None);
        }
        let Some(user) = User::from_name(name).map_err(|e| Error::Lookup(e.to_string()))? else {
            return Ok(None);
        };
        let cname = CString::new(name).map_err(|_| Error::Lookup("NUL in name".into()))?;
        let gids = nix::unistd::getgrouplist(&cname, user.gid).map_err(|e| Error::Lookup(e.to_string()))?;
        let mut groups = Vec::with_capacity(gids.len());
        for gid in gids {
            if let Some(g) = Group::from_gid(Gid::from_raw(gid.as_raw())).map_err(|e| Error::Lookup(e.to_string()))? {
                groups.push(g.name);
            }
        }
        Ok(Some(Account {
            name: user.name,
            uid: user.uid.as_raw(),
            groups,
        }))
    }

    fn authorized_keys(&self, name: &str, patterns: &[String]) -> Result<String> {
        if !plausible_name(name) {
            return Ok(String::new());
        }
        let Some(user) = User::from_name(name).map_err(|e| Error::Lookup(e.to_string()))? else {
            return Ok(String::new());
        };
        Ok(crate::authorized_keys::read_as_user(
            patterns,
            &user.dir,
            &user.name,
            user.uid.as_raw(),
            user.gid.as_raw(),
        ))
    }

    fn shadow(&self, name: &str) -> Result<Option<ShadowEntry>> {
        if !plausible_name(name) {
            return Ok(None);
        }
        let cname = CString::new(name).map_err(|_| Error::Lookup("NUL in name".into()))?;
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        // SAFETY: spwd is plain data filled by getspnam_r; pointers in it point into `buf`.
        let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::spwd = std::ptr::null_mut();
        let rc = unsafe { libc::getspnam_r(cname.as_ptr(), &mut sp, buf.as_mut_ptr(), buf.len(), &mut result) };
        if result.is_null() {
            return match rc {
                0 | libc::ENOENT => Ok(None),
                e => Err(Error::Lookup(format!(
                    "getspnam_r: {}",
                    std::io::Error::from_raw_os_error(e)
                ))),
            };
        }
        let hash = if sp.sp_pwdp.is_null() {
            String::new()
        } else {
            // SAFETY: non-null, NUL-terminated inside buf.
            unsafe { CStr::from_ptr(sp.sp_pwdp) }.to_string_lossy().into_owned()
        };
        buf.iter_mut().for_each(|b| *b = 0);
        Ok(Some(ShadowEntry {
            hash,
            lastchg: (sp.sp_lstchg >= 0).then_some(sp.sp_lstchg),
            expire: (sp.sp_expire >= 0).then_some(sp.sp_expire),
        }))
    }

    fn set_shadow(&self, user: &str, crypted: &str, lastchg: Option<i64>) -> Result<()> {
        set_shadow(user, crypted, lastchg)
    }

    fn shadow_after_tools(&self, user: &str) -> Result<Option<ShadowEntry>> {
        wait_for_tools(|| self.shadow(user))
    }
}

fn run_once(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<std::process::Output> {
    let what = format!("{:?}", cmd.get_program());
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C at tapctl's terminal does not cut chpasswd short.
        .process_group(0);
    // su, passwd and sudo run the stack setuid: euid 0, the caller's real uid and gid. chage goes
    // by the real uid (it refuses anyone but root): the tools get real and saved ids 0 too (no
    // capability needed where they are 0 already). Done first: a change of effective ids clears
    // PDEATHSIG. A failure fails the spawn (std passes the errno up, the child _exits).
    // The module runs this inside sshd, login or a display manager: none of their descriptors
    // may reach the tool. CLOSE_RANGE_CLOEXEC keeps std's own exec-error pipe working.
    // A tool must not outlive its caller: a killed tapctl's pending change is judged by the next
    // touch, which must not race a chpasswd still running (see `wait_for_tools`).
    // SAFETY: getpid before the fork; in the child only async-signal-safe calls (setresgid,
    // setresuid, prctl, getppid, close_range, _exit) and reading errno.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int);
            Ok(())
        });
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().map_err(|e| Error::Io(format!("{what}: {e}")))?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data).map_err(|e| Error::Io(format!("{what}: {e}")))?;
    }
    child.wait_with_output().map_err(|e| Error::Io(format!("{what}: {e}")))
}

/// Runs a shadow tool, waiting out (for up to 10 s) another tool holding the shadow lock.
fn run(mut make: impl FnMut() -> Command, stdin: Option<&[u8]>) -> Result<()> {
    for _ in 0..100 {
        let mut cmd = make();
        let out = run_once(&mut cmd, stdin)?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !err.contains("lock") {
            return Err(Error::Io(format!("{:?} failed: {err}", cmd.get_program())));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(Error::Io(
        "the shadow files stayed locked by another tool for 10 s".into(),
    ))
}

/// Sets the shadow hash (already crypt(3)ed) and the last-change day. `lastchg = Some(0)` forces a
/// change at next login, like `chage -d 0`; `None` clears the field.
pub fn set_shadow(user: &str, crypted: &str, lastchg: Option<i64>) -> Result<()> {
    set_shadow_many(&[(user, crypted, lastchg)]).map_err(|(_, e)| e)
}

/// [`set_shadow`] for many accounts: one `chpasswd -e` for every hash (shadow applies all lines or,
/// on any error, none), then one `chage -d` per account, since shadow has no batch form of it.
/// Entries are (user, crypted, lastchg). On error, the flag says whether any account was changed
/// (then every one of them may have been, and a caller puts them all back).
pub fn set_shadow_many(entries: &[(&str, &str, Option<i64>)]) -> std::result::Result<(), (bool, Error)> {
    let mut lines = zeroize::Zeroizing::new(String::new());
    for (user, crypted, _) in entries {
        if !plausible_name(user) || crypted.contains(['\n', ':']) {
            return Err((
                false,
                Error::Refused(format!("refusing to write a shadow entry for {user:?}")),
            ));
        }
        lines.push_str(&format!("{user}:{crypted}\n"));
    }
    if entries.is_empty() {
        return Ok(());
    }
    run(
        || {
            let mut c = Command::new("chpasswd");
            c.arg("-e");
            c
        },
        Some(lines.as_bytes()),
    )
    .map_err(|e| (false, e))?;
    for (user, _, lastchg) in entries {
        let day = lastchg.map_or("-1".to_string(), |d| d.to_string());
        run(
            || {
                let mut c = Command::new("chage");
                c.args(["-d", &day, "--", user]);
                c
            },
            None,
        )
        .map_err(|e| (true, e))?;
    }
    Ok(())
}

extern "C" {
    fn lckpwdf() -> libc::c_int;
    fn ulckpwdf() -> libc::c_int;
}

/// Waits (glibc: up to 15 s) until no shadow tool holds the shadow lock, then runs `f` and lets go.
/// chpasswd and chage take this lock (`lckpwdf`) for as long as they write; a tool started by a
/// process that was killed dies with it (`PR_SET_PDEATHSIG`), so once the lock is free no such
/// tool can still change the entry `f` reads.
pub fn wait_for_tools<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    // SAFETY: lckpwdf/ulckpwdf take no arguments; glibc opens its lock file O_CLOEXEC.
    if unsafe { lckpwdf() } != 0 {
        return Err(Error::Io(format!(
            "the shadow lock stayed taken: {}",
            std::io::Error::last_os_error()
        )));
    }
    let r = f();
    // SAFETY: as above.
    unsafe { ulckpwdf() };
    r
}

/// A group's id, `None` when the name service knows no such group.
pub fn group_id(name: &str) -> Result<Option<u32>> {
    Ok(Group::from_name(name)
        .map_err(|e| Error::Lookup(e.to_string()))?
        .map(|g| g.gid.as_raw()))
}
