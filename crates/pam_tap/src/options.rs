//! The PAM side of a hook call: module arguments and the `pam_sm_chauthtok` flags.

use std::path::PathBuf;

use pam::constants::{PamFlag, PAM_CHANGE_EXPIRED_AUTHTOK};

use pam_tap_core::config::DEFAULT_CONFIG;
use pam_tap_core::login::Phase;

pub const PAM_PRELIM_CHECK: PamFlag = 0x4000;
pub const PAM_UPDATE_AUTHTOK: PamFlag = 0x2000;

/// Module arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub config: PathBuf,
    pub debug: bool,
    pub log_socket: Option<PathBuf>,
    pub test_panic: bool,
    /// `enroll`: the key enrollment step of a key-only sshd (crates/core/src/login/enroll.rs).
    pub enroll: bool,
    /// Arguments pam_tap does not know (logged, otherwise ignored).
    pub unknown: Vec<String>,
}

impl Options {
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Self {
        let mut o = Options {
            config: PathBuf::from(DEFAULT_CONFIG),
            debug: false,
            log_socket: None,
            test_panic: false,
            enroll: false,
            unknown: vec![],
        };
        for a in args {
            let a = a.as_ref();
            match a.split_once('=') {
                Some(("config", v)) => o.config = PathBuf::from(v),
                Some(("log_socket", v)) => o.log_socket = Some(PathBuf::from(v)),
                None if a == "debug" => o.debug = true,
                None if a == "test_panic" => o.test_panic = true,
                None if a == "enroll" => o.enroll = true,
                // Read by pam_get_authtok itself.
                None if matches!(a, "try_first_pass" | "use_first_pass" | "use_authtok") => {}
                _ => o.unknown.push(a.to_string()),
            }
        }
        o
    }
}

/// Which pass of `pam_sm_chauthtok` libpam is making; `None` for flags with neither pass set.
pub fn phase(flags: PamFlag) -> Option<Phase> {
    if flags & PAM_UPDATE_AUTHTOK != 0 {
        Some(Phase::Update)
    } else if flags & PAM_PRELIM_CHECK != 0 {
        Some(Phase::Prelim {
            expired: flags & PAM_CHANGE_EXPIRED_AUTHTOK != 0,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        let o = Options::parse(&["config=/x.toml", "debug", "try_first_pass", "bogus", "log_socket=/s"]);
        assert_eq!(o.config, PathBuf::from("/x.toml"));
        assert!(o.debug && !o.test_panic && !o.enroll);
        assert!(Options::parse(&["enroll"]).enroll);
        assert_eq!(o.log_socket, Some(PathBuf::from("/s")));
        assert_eq!(o.unknown, ["bogus"]);
    }

    #[test]
    fn flags_name_the_chauthtok_pass() {
        assert_eq!(
            phase(PAM_UPDATE_AUTHTOK | PAM_CHANGE_EXPIRED_AUTHTOK),
            Some(Phase::Update)
        );
        assert_eq!(phase(PAM_PRELIM_CHECK), Some(Phase::Prelim { expired: false }));
        assert_eq!(
            phase(PAM_PRELIM_CHECK | PAM_CHANGE_EXPIRED_AUTHTOK),
            Some(Phase::Prelim { expired: true })
        );
        assert_eq!(phase(PAM_CHANGE_EXPIRED_AUTHTOK), None);
    }
}
