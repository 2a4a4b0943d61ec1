//! A private sshd on loopback, over the private pam.d, and the ssh command line that reaches it.

use super::*;

pub struct Sshd {
    child: Option<Child>,
    /// A client key pair in the scratch dir (used only by `SshMethod::KeyOnly`).
    pub client_key: PathBuf,
    pub method: SshMethod,
    pub port: u16,
    pub log: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SshMethod {
    /// `KbdInteractiveAuthentication yes`: PAM conversation during auth, chauthtok inside sshd.
    KeyboardInteractive,
    /// Debian's default `KbdInteractiveAuthentication no`: the password method; sshd runs passwd.
    Password,
    /// Public keys only (no password prompt at all): the user's key from `Sshd::authorize_key`.
    KeyOnly,
    /// A key-only server with pam_tap's key enrollment (tests/e2e/harness/enroll.rs): publickey,
    /// then keyboard-interactive through PAM, with the lines `Sshd::start_with` adds.
    Enroll,
}

impl Sshd {
    pub fn start(scratch: &Scratch, pamd: &Path, method: SshMethod) -> Sshd {
        Self::start_with(scratch, pamd, method, "")
    }

    /// [`Sshd::start`] with `extra` lines after the template's (sshd keeps the first value of an
    /// option, so these only add options the template leaves out).
    pub fn start_with(scratch: &Scratch, pamd: &Path, method: SshMethod, extra: &str) -> Sshd {
        // sshd's privilege-separation directory (created by openssh-server's tmpfiles at boot).
        if !Path::new("/run/sshd").exists() {
            fs::create_dir_all("/run/sshd").unwrap();
            fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755)).unwrap();
        }
        // Its program name is its PAM service name.
        let bin = scratch.join(SSHD_SERVICE);
        if !bin.exists() {
            fs::copy(tool("sshd"), &bin).unwrap();
            for key in ["hostkey", "client_key"] {
                run_ok(
                    Command::new(tool("ssh-keygen"))
                        .args(["-q", "-t", "ed25519", "-N", ""])
                        .arg("-f")
                        .arg(scratch.join(key)),
                );
            }
        }
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let config = scratch.join("sshd_config");
            let (kbdint, password, pubkey, authkeys) = match method {
                SshMethod::KeyboardInteractive => ("yes", "yes", "no", "none"),
                SshMethod::Password => ("no", "yes", "no", "none"),
                SshMethod::KeyOnly => ("no", "no", "yes", ".ssh/authorized_keys"),
                SshMethod::Enroll => ("yes", "no", "yes", ".ssh/authorized_keys"),
            };
            let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/sshd_config.in"))
                .unwrap()
                .replace("@PORT@", &port.to_string())
                .replace("@HOSTKEY@", &scratch.join("hostkey").display().to_string())
                .replace("@KBDINT@", kbdint)
                .replace("@PASSWORD@", password)
                .replace("@PUBKEY@", pubkey)
                .replace("@AUTHKEYS@", authkeys)
                + extra;
            fs::write(&config, text).unwrap();
            let log = scratch.join(format!("sshd-{attempt}.log"));
            let argv = with_pamd(
                pamd,
                &[bin.to_str().unwrap(), "-D", "-e", "-f", config.to_str().unwrap()],
            );
            let child = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let mut sshd = Sshd {
                child: Some(child),
                client_key: scratch.join("client_key"),
                method,
                port,
                log: log.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let text = fs::read_to_string(&log).unwrap_or_default();
                if text.contains("Server listening on 127.0.0.1") {
                    return sshd;
                }
                let exited = sshd.child.as_mut().unwrap().try_wait().unwrap().is_some();
                if exited || Instant::now() > deadline {
                    last_log = text;
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            drop(sshd);
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("private sshd did not start:\n{last_log}");
    }

    /// Puts the client key in `user`'s ~/.ssh/authorized_keys, owned by the user as sshd requires.
    pub fn authorize_key(&self, user: &User) {
        let line = fs::read_to_string(self.client_key.with_extension("pub")).unwrap();
        self.authorize_lines(user, &[line.trim_end()]);
    }

    /// Writes `lines` as `user`'s whole ~/.ssh/authorized_keys (options such as `verify-required`
    /// go at the start of a line), owned by the user as sshd requires.
    pub fn authorize_lines(&self, user: &User, lines: &[&str]) {
        let home = PathBuf::from(format!("/home/{}", user.name));
        let ssh = home.join(".ssh");
        fs::create_dir_all(&ssh).unwrap();
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(
            ssh.join("authorized_keys"),
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        run_ok(
            Command::new(tool("chown"))
                .arg("-R")
                .arg(format!("{0}:{0}", user.name))
                .arg(&ssh),
        );
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `ssh` as a person runs it against this sshd (password prompts on the pty).
    pub fn ssh(&self, user: &str, extra: &[&str]) -> Vec<String> {
        self.ssh_with_identity(user, &self.client_key, &[], extra)
    }

    /// [`Sshd::ssh`] with `identity` as the only key offered and `options` (say, a security key's
    /// `-o SecurityKeyProvider=...`) before the destination.
    pub fn ssh_with_identity(&self, user: &str, identity: &Path, options: &[String], extra: &[&str]) -> Vec<String> {
        let (preferred, pubkey) = match self.method {
            SshMethod::KeyboardInteractive => ("keyboard-interactive", "no"),
            SshMethod::Password => ("password", "no"),
            SshMethod::KeyOnly => ("publickey", "yes"),
            SshMethod::Enroll => ("publickey,keyboard-interactive", "yes"),
        };
        let mut v: Vec<String> = vec![tool("ssh").display().to_string()];
        v.extend(options.iter().cloned());
        v.extend([
            "-o".into(),
            format!("PreferredAuthentications={preferred}"),
            "-o".into(),
            format!("PubkeyAuthentication={pubkey}"),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-i".into(),
            identity.display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            "NumberOfPasswordPrompts=1".into(),
            format!("{user}@127.0.0.1"),
        ]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
