//! tapctl on a site: the one way the suites run it (as root from a root login session, or as an
//! operator as sudo leaves them), and what it prints: an issued pass, a pass's record, the audit.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::Site;
use crate::support::accounts::lock;
use crate::support::paths::tapctl;

/// What `tapctl issue --json` printed: the pass, its id, and the whole object (which the value
/// derefs to, so `issued["expires_at"]` reads it).
pub struct Issued {
    pub pass: String,
    pub id: i64,
    pub json: Value,
}

impl std::ops::Deref for Issued {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.json
    }
}

impl std::fmt::Display for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.json.fmt(f)
    }
}

impl Site {
    /// tapctl with `env` added and, if `loginuid` is given, that audit login uid (as a login
    /// session of that user would have). A run with a `SUDO_USER` other than root or a login uid
    /// other than 0 is an operator's, who may not name a config: the site is then bind-mounted
    /// over /etc/security in a private mount namespace, and tapctl reads it from the default path.
    pub fn tapctl_cmd(&self, args: &[&str], env: &[(&str, &str)], loginuid: Option<u32>) -> Command {
        self.tapctl_cmd_via(&[], args, env, loginuid)
    }

    /// [`Site::tapctl_cmd`] with tapctl started by `via` (a tracer and its arguments, ending where
    /// the program to run goes).
    pub fn tapctl_cmd_via(
        &self,
        via: &[&std::ffi::OsStr],
        args: &[&str],
        env: &[(&str, &str)],
        loginuid: Option<u32>,
    ) -> Command {
        self.command_on(&self.config, via, args, env, loginuid)
    }

    fn command_on(
        &self,
        config: &Path,
        via: &[&std::ffi::OsStr],
        args: &[&str],
        env: &[(&str, &str)],
        loginuid: Option<u32>,
    ) -> Command {
        let sudo = env
            .iter()
            .any(|(k, v)| *k == "SUDO_USER" && !v.is_empty() && *v != "root");
        let operator = sudo || loginuid.is_some_and(|id| id != 0 && id != u32::MAX);
        // tapctl takes the login uid for the operator when there is no SUDO_USER: a root run is
        // a root login session's (login uid 0), whoever's login session runs the tests.
        let loginuid = loginuid.or((!sudo).then_some(0));
        // $0: the directory to mount over /etc/security, or empty; $LOGINUID: the login uid to set.
        let script = r#"{ [ -z "$0" ] || mount --bind "$0" /etc/security; } &&
            { [ -z "$LOGINUID" ] || echo "$LOGINUID" > /proc/self/loginuid; } && exec "$@""#;
        let mut c = Command::new(if operator { "unshare" } else { "sh" });
        if operator {
            c.args(["--mount", "--propagation", "private", "sh"]);
        }
        c.arg("-c").arg(script);
        c.arg(if operator {
            self.dir.path().as_os_str()
        } else {
            "".as_ref()
        });
        c.args(via).arg(tapctl());
        if !operator {
            c.arg("--config").arg(config);
        }
        c.args(args)
            .env_remove("SUDO_USER")
            .env_remove("PAM_TAP_CONFIG")
            .env_remove("LOGINUID")
            .env("TZ", "UTC");
        if let Some(id) = loginuid {
            c.env("LOGINUID", id.to_string());
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// Runs `c`, holding the accounts lock if the site was built so.
    fn output(&self, mut c: Command) -> Output {
        let _g = self.lock_accounts.then(lock);
        c.output().unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
    }

    /// tapctl as root, from a root login session, on this site's config.
    pub fn tapctl(&self, args: &[&str]) -> Output {
        self.tapctl_on(&self.config, args)
    }

    /// tapctl as root on `config` (a host's config: what tapctl does on that host).
    pub fn tapctl_on(&self, config: &Path, args: &[&str]) -> Output {
        self.output(self.command_on(config, &[], args, &[], None))
    }

    /// tapctl with `env` added. With a `SUDO_USER` the run is an operator's, as sudo leaves it.
    pub fn tapctl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.output(self.tapctl_cmd(args, env, None))
    }

    /// tapctl itself as the child, with no shell before it (a signal sent to the child reaches
    /// tapctl), as root on this site's config, its standard streams closed.
    pub fn tapctl_direct(&self, args: &[&str]) -> Command {
        let mut c = Command::new(tapctl());
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("SUDO_USER")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// tapctl, which must succeed; what it printed.
    pub fn tapctl_ok(&self, args: &[&str]) -> String {
        let out = self.tapctl(args);
        assert!(
            out.status.success(),
            "tapctl {args:?}: {}\nstdout: {}\nstderr: {}",
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Runs tapctl, which must succeed, and returns the JSON it printed.
    pub fn tapctl_json(&self, args: &[&str]) -> Value {
        let out = self.tapctl(args);
        assert!(out.status.success(), "tapctl {args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("tapctl {args:?} printed {:?}: {e}", stdout(&out)))
    }

    /// `tapctl issue USER --json EXTRA...`, which must succeed. The pass is kept for the secrets
    /// scan.
    pub fn issue(&self, user: impl AsRef<str>, extra: &[&str]) -> Issued {
        let mut args = vec!["issue", user.as_ref(), "--json"];
        args.extend_from_slice(extra);
        let json = self.tapctl_json(&args);
        let pass = json["pass"].as_str().expect("pass").to_string();
        self.remember(&pass);
        Issued {
            pass,
            id: json["pass_id"].as_i64().expect("pass_id"),
            json,
        }
    }

    /// [`Site::issue`] with `--keep-password`: a pass that resets no password.
    pub fn issue_keeping(&self, user: impl AsRef<str>, extra: &[&str]) -> Issued {
        let issued = self.issue(user, &[&["--keep-password"][..], extra].concat());
        assert_eq!(issued["reset_password"], false, "{issued}");
        issued
    }

    /// [`Site::issue`] of a reset pass (the policy's default). On a fleet the account is reset on
    /// the host that accepts the pass, not here.
    pub fn issue_reset(&self, user: impl AsRef<str>, extra: &[&str]) -> Issued {
        let issued = self.issue(user, extra);
        assert_eq!(issued["reset_password"], true, "{issued}");
        issued
    }

    /// `tapctl show USER --json`: the user's newest pass, without its secret.
    pub fn show(&self, user: impl AsRef<str>) -> Value {
        self.tapctl_json(&["show", user.as_ref(), "--json"])
    }

    /// `tapctl log USER --json`: the audit events for one user, oldest first.
    pub fn log_json(&self, user: impl AsRef<str>) -> Vec<Value> {
        serde_json::from_value(self.tapctl_json(&["log", user.as_ref(), "--json"])).expect("log --json is a list")
    }

    /// The user's audit events, by name.
    pub fn events(&self, user: impl AsRef<str>) -> Vec<String> {
        self.log_json(user)
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    }

    /// The user's audit events as "event" or "event:reason", for assertions and messages.
    pub fn events_with_reasons(&self, user: impl AsRef<str>) -> Vec<String> {
        self.log_json(user)
            .iter()
            .map(|e| match e["reason"].as_str() {
                Some(r) => format!("{}:{}", e["event"].as_str().unwrap_or("?"), r),
                None => e["event"].as_str().unwrap_or("?").to_string(),
            })
            .collect()
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A tapctl refusal: exit 1 and one line on stderr, `tapctl: ...`, naming every needle.
pub fn refused(o: &Output, needles: &[&str]) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected a refusal: {}{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("tapctl: "), "{err:?}");
    for n in needles {
        assert!(err.contains(n), "{err:?} lacks {n:?}");
    }
}
