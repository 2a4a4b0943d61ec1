//! Shared pieces of the integration tests: throwaway users, a private site (config, database and a
//! pam.d directory used through pam_start_confdir), and runners for tapctl and the PAM driver.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::paths::{module, pam_drive};

/// A local user (no home, `/bin/sh`) that exists for the life of the value.
pub struct User(crate::support::accounts::Account);

impl User {
    pub fn new() -> User {
        User(crate::support::accounts::Account::create("tapt", false, "/bin/sh"))
    }

    pub fn with_password(pw: &str) -> User {
        let u = User::new();
        u.set_password(pw);
        u
    }
}

impl std::ops::Deref for User {
    type Target = crate::support::accounts::Account;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A top-level `services` key admitting the login services and the tests' own `extra_services`,
/// or nothing when `config` sets `services` itself.
pub fn services_line(config: &str, extra_services: &[&str]) -> String {
    if config.lines().any(|l| l.trim_start().starts_with("services")) {
        return String::new();
    }
    let all: Vec<String> = ["login", "sshd", "su", "su-l", "passwd"]
        .iter()
        .chain(extra_services)
        .map(|s| format!("{s:?}"))
        .collect();
    format!("services = [{}]\n", all.join(", "))
}

/// A private pam_tap installation: config, database and a pam.d directory with service `svc`.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub confdir: PathBuf,
    pub db: PathBuf,
}

/// The Debian shape of common-auth/common-password with pam_tap as the first Primary module.
pub fn stack(so: &Path, config: &Path) -> String {
    let m = format!("{} config={}", so.display(), config.display());
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

impl Site {
    pub fn new(extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let config = dir.path().join("pam_tap.toml");
        let db = dir.path().join("db/tap.db");
        let confdir = dir.path().join("pam.d");
        std::fs::create_dir(&confdir).unwrap();
        let site = Site {
            dir,
            config,
            confdir,
            db,
        };
        site.write_config(extra);
        std::fs::write(site.confdir.join("svc"), stack(&module(), &site.config)).unwrap();
        let out = site.tapctl(&["init"]);
        assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
        site
    }

    /// `extra`: TOML after `enabled`, `database` and (unless `extra` sets it) `services`, which
    /// then admits this site's test service `svc` besides the login services.
    pub fn write_config(&self, extra: &str) {
        std::fs::write(
            &self.config,
            format!(
                "enabled = true\ndatabase = \"{}\"\n{}{extra}",
                self.db.display(),
                services_line(extra, &["svc"])
            ),
        )
        .unwrap();
        std::fs::set_permissions(&self.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// Runs tapctl with `env` added. With a `SUDO_USER` the run is an operator's, as sudo leaves
    /// it (see [`Site::tapctl_cmd`]).
    pub fn tapctl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.tapctl_cmd(args, env, None).output().unwrap()
    }

    /// tapctl with `env` added and, if `loginuid` is given, that audit login uid (as a login
    /// session of that user would have). A run with a `SUDO_USER` other than root or a login uid
    /// other than 0 is an operator's, who may not name a config: the site is then bind-mounted
    /// over /etc/security in a private mount namespace, and tapctl reads it from the default path.
    pub fn tapctl_cmd(&self, args: &[&str], env: &[(&str, &str)], loginuid: Option<u32>) -> Command {
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
        if operator {
            c.arg(self.dir.path()).arg(env!("CARGO_BIN_EXE_tapctl"));
        } else {
            c.arg("")
                .arg(env!("CARGO_BIN_EXE_tapctl"))
                .arg("--config")
                .arg(&self.config);
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

    pub fn tapctl(&self, args: &[&str]) -> Output {
        self.tapctl_env(args, &[])
    }

    /// Issues a pass and returns the JSON object tapctl printed.
    pub fn issue(&self, user: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["issue", user, "--json"];
        args.extend_from_slice(extra);
        let out = self.tapctl(&args);
        assert!(out.status.success(), "issue: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn show(&self, user: &str) -> serde_json::Value {
        let out = self.tapctl(&["show", user, "--json"]);
        assert!(out.status.success(), "show: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn events(&self, user: &str) -> Vec<String> {
        let out = self.tapctl(&["log", user, "--json"]);
        assert!(out.status.success());
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        v.iter().map(|e| e["event"].as_str().unwrap().to_string()).collect()
    }

    /// Runs PAM operations on one handle of service `svc`, answering prompts in order.
    pub fn pam(&self, user: &str, ops: &[&str], answers: &[&str]) -> Drive {
        drive(Command::new(pam_drive()), &self.confdir, user, ops, answers)
    }
}

/// What the PAM driver saw.
#[derive(Debug)]
pub struct Drive {
    pub prompts: Vec<String>,
    pub results: Vec<(String, String)>,
    pub text: String,
}

impl Drive {
    pub fn result(&self, op: &str) -> &str {
        self.results
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, r)| r.as_str())
            .unwrap_or("(not run)")
    }
}

pub fn drive(mut cmd: Command, confdir: &Path, user: &str, ops: &[&str], answers: &[&str]) -> Drive {
    cmd.arg("--confdir").arg(confdir).arg("svc").arg(user).args(ops);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for a in answers {
            let _ = writeln!(stdin, "{a}");
        }
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() || text.contains("result"),
        "pam_drive failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prompts = text
        .lines()
        .filter_map(|l| l.strip_prefix("prompt: "))
        .map(String::from)
        .collect();
    let results = text
        .lines()
        .filter_map(|l| l.strip_prefix("result "))
        .filter_map(|l| l.split_once('='))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Drive { prompts, results, text }
}

/// A file `user` owns (0600) in a directory of its own that anyone may traverse: what an operator
/// hands `tapctl issue --csv`, which reads it with the operator's rights.
pub struct OwnedFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl OwnedFile {
    pub fn new(user: &User, name: &str, text: &str) -> OwnedFile {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(user.uid()), None).unwrap();
        OwnedFile { _dir: dir, path }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
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
