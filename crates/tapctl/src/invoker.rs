//! Who is running tapctl. tapctl runs as root for operators who are not, so "root" must mean a
//! real root session, never "we could not tell".
//!
//! - `SUDO_USER` names the operator: sudo sets it (and overwrites whatever the caller had), as do
//!   run0 and sudo-rs. `SUDO_USER=root` only says that root ran sudo, which is also what an
//!   `su`-to-root shell does, so it is treated as absent.
//! - Without it (doas, pkexec, `su`, a root shell opened from someone's login), the kernel's audit
//!   login uid names the person whose login this is. It is set once per login session by
//!   pam_loginuid and inherited across su, sudo and setuid programs, so it survives every way of
//!   becoming root. 4294967295 means "not set" (a console or service started outside any login).
//! - Root is only: no `SUDO_USER` (or `SUDO_USER=root`) and a login uid that is 0 or not set.
//!   A login uid naming no user is refused.

use pam_tap_base::error::{Error, Result};

/// The kernel's "no login uid" value, `(uid_t)-1`.
pub const LOGINUID_UNSET: u32 = u32::MAX;

const LOGINUID_FILE: &str = "/proc/self/loginuid";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoker {
    /// Root itself: the global administrator.
    Root,
    /// A person acting through root; their role comes from the policy.
    Operator {
        name: String,
        /// Where the name came from, for messages: `SUDO_USER` or `login uid N`.
        source: String,
    },
}

impl Invoker {
    pub fn is_root(&self) -> bool {
        matches!(self, Invoker::Root)
    }
}

/// Decides who is running tapctl from the real uid, `SUDO_USER`, the audit login uid (`None`:
/// unreadable) and a uid -> name lookup.
pub fn identify(
    uid: u32,
    sudo_user: Option<&str>,
    loginuid: Option<u32>,
    name_of: &dyn Fn(u32) -> Result<Option<String>>,
) -> Result<Invoker> {
    if uid != 0 {
        return Err(Error::Refused(
            "tapctl must run as root; a helpdesk runs it through sudo (the sudo rule: docs/guide/src/tapctl.md)".into(),
        ));
    }
    if let Some(n) = sudo_user.filter(|n| !n.is_empty() && *n != "root") {
        return Ok(Invoker::Operator {
            name: n.to_string(),
            source: "SUDO_USER".into(),
        });
    }
    match loginuid {
        None => Err(Error::Refused(format!(
            "cannot read {LOGINUID_FILE}, so who runs tapctl is unknown: run it through sudo"
        ))),
        Some(0) | Some(LOGINUID_UNSET) => Ok(Invoker::Root),
        Some(id) => match name_of(id)? {
            Some(name) => Ok(Invoker::Operator {
                name,
                source: format!("login uid {id}"),
            }),
            None => Err(Error::Refused(format!(
                "this session's login uid {id} names no user, so who runs tapctl is unknown"
            ))),
        },
    }
}

/// The audit login uid of this process, `None` when it cannot be read.
fn loginuid() -> Option<u32> {
    std::fs::read_to_string(LOGINUID_FILE).ok()?.trim().parse().ok()
}

/// Who is running this process.
pub fn current() -> Result<Invoker> {
    let sudo_user = std::env::var("SUDO_USER").ok();
    let name_of = |id: u32| -> Result<Option<String>> {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(id))
            .map(|u| u.map(|u| u.name))
            .map_err(|e| Error::Lookup(e.to_string()))
    };
    // SAFETY: getuid cannot fail.
    identify(unsafe { libc::getuid() }, sudo_user.as_deref(), loginuid(), &name_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(id: u32) -> Result<Option<String>> {
        Ok((id == 1000).then(|| "alice".to_string()))
    }

    fn op(name: &str) -> Invoker {
        Invoker::Operator {
            name: name.into(),
            source: String::new(),
        }
    }

    fn who(sudo: Option<&str>, login: Option<u32>) -> Result<Invoker> {
        identify(0, sudo, login, &names).map(|i| match i {
            Invoker::Operator { name, .. } => op(&name),
            root => root,
        })
    }

    #[test]
    fn root_only_when_nobody_else_is_named() {
        assert_eq!(who(None, Some(LOGINUID_UNSET)).unwrap(), Invoker::Root);
        assert_eq!(who(None, Some(0)).unwrap(), Invoker::Root);
        assert_eq!(who(Some(""), Some(0)).unwrap(), Invoker::Root);
        assert_eq!(who(Some("root"), Some(0)).unwrap(), Invoker::Root);
    }

    #[test]
    fn sudo_user_then_login_uid_name_the_operator() {
        assert_eq!(who(Some("bob"), Some(1000)).unwrap(), op("bob"));
        assert_eq!(who(Some("bob"), None).unwrap(), op("bob"));
        assert_eq!(who(None, Some(1000)).unwrap(), op("alice"));
        // root ran sudo from a shell that alice's login opened with su: still alice.
        assert_eq!(who(Some("root"), Some(1000)).unwrap(), op("alice"));
    }

    #[test]
    fn unknown_is_refused_never_root() {
        assert!(who(None, Some(4242)).unwrap_err().to_string().contains("names no user"));
        assert!(who(None, None).is_err());
        assert!(identify(1000, None, Some(0), &names).is_err());
    }
}
