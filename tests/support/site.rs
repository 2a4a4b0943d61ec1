//! A private pam_tap installation: a root-only directory holding the config, the database, a pam.d
//! directory (read through pam_start_confdir, or bind-mounted over /etc/pam.d in a private mount
//! namespace) and a socket catching the module's syslog lines. Nothing on the host is touched.

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::drive::{feed, pam_drive_cmd, Run};
use super::paths::{module, tapctl};
use super::syslog::Sink;

/// A 0700 directory, removed with everything in it when dropped. pam_tap refuses a config in a
/// directory others may write to.
pub struct PrivateDir(tempfile::TempDir);

impl PrivateDir {
    /// In the system's temporary directory.
    pub fn new() -> PrivateDir {
        PrivateDir::new_in(&std::env::temp_dir())
    }

    /// Under `base` (created if missing).
    pub fn new_in(base: &Path) -> PrivateDir {
        fs::create_dir_all(base).unwrap();
        let dir = tempfile::Builder::new().prefix("pamtap-").tempdir_in(base).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        PrivateDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes a file only its owner may read (driver scripts hold passwords).
    pub fn write_private(&self, name: &str, text: &str) -> PathBuf {
        use std::io::Write;
        let p = self.join(name);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&p)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
        p
    }
}

impl AsRef<Path> for PrivateDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<std::ffi::OsStr> for PrivateDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.path().as_os_str()
    }
}

impl std::ops::Deref for PrivateDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

pub fn write_file(path: &Path, text: &[u8], mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A private pam_tap installation (see the module's comment). `tapctl init` has run.
pub struct Site {
    pub config: PathBuf,
    pub db: PathBuf,
    pub pamd: PathBuf,
    pub log: Sink,
    /// The services a config admits when its policy does not name them itself.
    services: Vec<String>,
    pub dir: PrivateDir,
}

impl Site {
    /// A site in `dir` whose config admits `services` (unless `policy` sets `services`) and holds
    /// `policy` after `enabled` and `database`.
    pub fn new(dir: PrivateDir, services: &[&str], policy: &str) -> Site {
        let pamd = dir.join("pam.d");
        fs::create_dir(&pamd).unwrap();
        let site = Site {
            config: dir.join("pam_tap.toml"),
            db: dir.join("db/tap.db"),
            pamd,
            log: Sink::bind(dir.join("log.sock")),
            services: services.iter().map(|s| s.to_string()).collect(),
            dir,
        };
        site.write_config(policy);
        let out = site.tapctl(&["init"]);
        assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
        site
    }

    /// Rewrites the config with `policy` (TOML after `enabled`, `database` and `services`; tables
    /// allowed). `services` is left out when `policy` sets it.
    pub fn write_config(&self, policy: &str) {
        let services: Vec<&str> = self.services.iter().map(String::as_str).collect();
        let text = format!(
            "enabled = true\ndatabase = \"{}\"\n{}{policy}\n",
            self.db.display(),
            services_line(policy, &services)
        );
        write_file(&self.config, text.as_bytes(), 0o600);
    }

    /// The module line's arguments: this site's config and log socket, plus `extra`.
    pub fn module_args(&self, extra: &str) -> String {
        format!(
            "config={} log_socket={} {extra}",
            self.config.display(),
            self.log.path.display()
        )
    }

    /// Writes pam.d service `name`.
    pub fn write_service(&self, name: &str, text: &str) {
        write_file(&self.pamd.join(name), text.as_bytes(), 0o644);
    }

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
            c.arg("--config").arg(&self.config);
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

    /// tapctl as root, from a root login session, on this site's config.
    pub fn tapctl(&self, args: &[&str]) -> Output {
        let mut c = self.tapctl_cmd(args, &[], None);
        c.output().unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
    }

    /// Runs tapctl, which must succeed, and returns the JSON it printed.
    pub fn tapctl_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.tapctl(args);
        assert!(
            out.status.success(),
            "tapctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "tapctl {args:?} printed {:?}: {e}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `tapctl issue USER --json EXTRA...`.
    pub fn issue_json(&self, user: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["issue", user, "--json"];
        args.extend_from_slice(extra);
        self.tapctl_json(&args)
    }

    pub fn show(&self, user: &str) -> serde_json::Value {
        self.tapctl_json(&["show", user, "--json"])
    }

    /// `tapctl log USER --json`: the audit events for one user, oldest first.
    pub fn log_json(&self, user: &str) -> Vec<serde_json::Value> {
        serde_json::from_value(self.tapctl_json(&["log", user, "--json"])).expect("log --json is a list")
    }

    /// pam_drive on this site's pam.d, to be started by the caller.
    pub fn drive_cmd(&self, service: &str, user: &str, ops: &[&str]) -> Command {
        pam_drive_cmd(&self.pamd, service, user, ops)
    }

    /// pam_drive on this site's pam.d with `stdin` as the answers.
    pub fn drive(&self, service: &str, user: &str, ops: &[&str], stdin: &[u8]) -> Run {
        Run::from_output(feed(self.drive_cmd(service, user, ops), stdin))
    }
}

/// A top-level `services` key admitting `services`, or nothing when `config` sets `services` itself.
pub fn services_line(config: &str, services: &[&str]) -> String {
    if config.lines().any(|l| l.trim_start().starts_with("services")) {
        return String::new();
    }
    let all: Vec<String> = services.iter().map(|s| format!("{s:?}")).collect();
    format!("services = [{}]\n", all.join(", "))
}

/// The Debian shape of common-auth/common-password with pam_tap (`module_line`: path and
/// arguments) as the first Primary module, and pam_unix for everyone else.
pub fn debian_stack(module_line: &str) -> String {
    let m = module_line;
    format!(
        "auth     [success=2 default=ignore] {m}\n\
         auth     [success=1 default=ignore] pam_unix.so nullok try_first_pass\n\
         auth     requisite  pam_deny.so\n\
         auth     required   pam_permit.so\n\
         account  required   pam_unix.so\n\
         password requisite  {m}\n\
         password [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt\n\
         password requisite  pam_deny.so\n\
         password required   pam_permit.so\n\
         session  required   pam_permit.so\n"
    )
}

/// The built module and `args`, as a pam.d line's module part.
pub fn module_line(args: &str) -> String {
    format!("{} {args}", module().display())
}
