//! syslog: facility authpriv, ident `pam_tap`, a fresh datagram socket per PAM call (no threads,
//! no global openlog in the host process, nothing kept across fork).

use std::path::PathBuf;

use syslog::{Facility, Formatter3164};

/// Syslog severities pam_tap uses: ALERT for a broken or unsafe setup, ERR for failures, NOTICE
/// for refusals, INFO for accepted passes, DEBUG only with the `debug` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Alert,
    Err,
    Notice,
    Info,
    Debug,
}

/// Where the core's log lines go (syslog in the module, a vector in tests).
pub trait Logger {
    fn log(&mut self, level: Level, msg: &str);
}

pub struct Syslog {
    socket: Option<PathBuf>,
    debug: bool,
}

impl Syslog {
    /// `socket`: a test socket instead of /dev/log. `debug`: also send DEBUG lines.
    pub fn new(socket: Option<PathBuf>, debug: bool) -> Self {
        Syslog { socket, debug }
    }
}

impl Logger for Syslog {
    fn log(&mut self, level: Level, msg: &str) {
        if level == Level::Debug && !self.debug {
            return;
        }
        let fmt = Formatter3164 {
            facility: Facility::LOG_AUTHPRIV,
            hostname: None,
            process: "pam_tap".into(),
            pid: std::process::id(),
        };
        let logger = match &self.socket {
            Some(p) => syslog::unix_custom(fmt, p),
            None => syslog::unix(fmt),
        };
        // Logging must never change the PAM result; a missing syslog daemon loses the line only.
        if let Ok(mut l) = logger {
            let _ = match level {
                Level::Alert => l.alert(msg),
                Level::Err => l.err(msg),
                Level::Notice => l.notice(msg),
                Level::Info => l.info(msg),
                Level::Debug => l.debug(msg),
            };
        }
    }
}
