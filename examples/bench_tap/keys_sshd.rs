//! K1/K2's servers: private sshds on loopback (copies of /usr/sbin/sshd, one host key), the keys
//! command and its files, the accounts' homes, and the timed `ssh` runs against them.
//!
//! Everything lives in a fresh root 0755 directory under /run (sshd refuses a keys command or an
//! authorized_keys file below a group- or world-writable directory, as /var/tmp is), removed when
//! the [`KeyRun`] is dropped; each [`Sshd`] is stopped when dropped, on an error too.

use std::process::Child;

use super::*;

/// The keys command's user and group (`AuthorizedKeysCommandUser`), and the K accounts' first uid:
/// above the bench's other accounts, below BENCH_POLICY's max_uid.
pub const KEYS_USER: &str = "tapbench-keys";
pub const K_UID_BASE: u32 = UID_BASE + 2500;

/// The fresh /run directory of K1/K2 and what is in it.
pub struct KeyRun {
    pub dir: PathBuf,
}

impl Drop for KeyRun {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl KeyRun {
    /// The directory, the sshd copies named `names` (a copy's name is its PAM service), the host
    /// key, and the keys command.
    pub fn new(c: &Ctx, names: &[&str]) -> R<KeyRun> {
        let dir = PathBuf::from(format!("/run/tapbench-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let run = KeyRun { dir };
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).map_err(|e| format!("{}: {e}", p.display()))
        };
        mode(&run.dir, 0o755)?;
        // sshd's privilege-separation directory (made by openssh-server's tmpfiles at boot).
        if !Path::new("/run/sshd").exists() {
            std::fs::create_dir("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
            mode(Path::new("/run/sshd"), 0o755)?;
        }
        for name in names {
            let bin = run.dir.join(name);
            std::fs::copy("/usr/sbin/sshd", &bin).map_err(|e| format!("/usr/sbin/sshd: {e}"))?;
        }
        keygen(&run.dir.join("hostkey"))?;
        let keys = run.dir.join("pam_tap_keys");
        std::fs::copy(c.bin.join("pam_tap_keys"), &keys)
            .map_err(|e| format!("{}/pam_tap_keys: {e}", c.bin.display()))?;
        mode(&keys, 0o755)?;
        std::fs::create_dir(run.dir.join("home")).map_err(|e| e.to_string())?;
        mode(&run.dir.join("home"), 0o755)?;
        Ok(run)
    }

    /// Writes the keys command's config `name`.toml, readable by its group only (root:KEYS_USER 0640).
    pub fn keys_config(&self, name: &str, text: &str) -> R<PathBuf> {
        let p = self.dir.join(format!("{name}.toml"));
        write_private(&p, text)?;
        sh(Command::new("chown").arg(format!("root:{KEYS_USER}")).arg(&p), None)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).map_err(|e| e.to_string())?;
        Ok(p)
    }

    /// The `[enroll]` table of a host whose keys database is `db`.keys.db in this directory.
    pub fn enroll_table(&self, db: &str) -> String {
        format!(
            "[enroll]\nkeys_db = \"{}\"\nkeys_group = \"{KEYS_USER}\"\n",
            self.dir.join(db).join("keys.db").display()
        )
    }

    pub fn home(&self, user: &str) -> PathBuf {
        self.dir.join("home").join(user)
    }

    /// A new ed25519 key pair in this directory; the private key's path.
    pub fn keypair(&self, name: &str) -> R<PathBuf> {
        let key = self.dir.join(name);
        keygen(&key)?;
        Ok(key)
    }

    /// Puts `key`'s public half in `user`'s own ~/.ssh/authorized_keys, as sshd requires it.
    pub fn authorize(&self, user: &str, key: &Path) -> R<()> {
        let ssh = self.home(user).join(".ssh");
        mkdir_private(&ssh)?;
        std::fs::copy(key.with_extension("pub"), ssh.join("authorized_keys")).map_err(|e| e.to_string())?;
        sh(
            Command::new("chown").arg("-R").arg(format!("{user}:{user}")).arg(&ssh),
            None,
        )
        .map(drop)
    }

    /// The askpass program of the kbd-int answers: prints the root-only file `answer`.
    pub fn askpass(&self) -> R<PathBuf> {
        let p = self.dir.join("askpass");
        write_private(&p, &format!("#!/bin/sh\nexec cat {}\n", self.answer_file().display()))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
        Ok(p)
    }

    pub fn answer_file(&self) -> PathBuf {
        self.dir.join("answer")
    }
}

fn keygen(path: &Path) -> R<()> {
    sh(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "tapbench", "-f"])
            .arg(path),
        None,
    )
    .map(drop)
}

/// Adds `names` with a shell and a home in `run` (sshd runs `true` through the shell), and the
/// keys command's user, to the sandbox's private /etc.
pub fn add_key_users(run: &KeyRun, names: &[&str]) -> R<()> {
    let (mut pw, mut sp, mut gr) = (String::new(), String::new(), String::new());
    let keys_id = K_UID_BASE + 99;
    writeln!(
        pw,
        "{KEYS_USER}:x:{keys_id}:{keys_id}:pam_tap bench keys:/nonexistent:/usr/sbin/nologin"
    )
    .unwrap();
    writeln!(sp, "{KEYS_USER}:!:20000:0:99999:7:::").unwrap();
    writeln!(gr, "{KEYS_USER}:x:{keys_id}:").unwrap();
    for (i, n) in names.iter().enumerate() {
        let id = K_UID_BASE + i as u32;
        let home = run.home(n);
        writeln!(pw, "{n}:x:{id}:{id}:pam_tap bench:{}:/bin/sh", home.display()).unwrap();
        writeln!(sp, "{n}:!:20000:0:99999:7:::").unwrap();
        writeln!(gr, "{n}:x:{id}:").unwrap();
        std::fs::create_dir(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&home, Some(id), Some(id)).map_err(|e| e.to_string())?;
    }
    append("/etc/passwd", &pw)?;
    append("/etc/shadow", &sp)?;
    append("/etc/group", &gr)
}

/// The sshd service's account and session stacks, the same for every K server (Debian's, less
/// pam_loginuid and pam_systemd: the sandbox has no login session to register).
pub const ACCOUNT_SESSION: &str = "account  required   pam_nologin.so\n@include common-account\n\
                                   session  required   pam_unix.so\n";

/// One private sshd; SIGTERM (then SIGKILL) when dropped.
pub struct Sshd {
    child: Option<Child>,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let t = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if t.elapsed().as_secs() >= 3 {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

impl Sshd {
    /// Starts the copy `name` of sshd (PAM service `name`) on a free port with `options`.
    pub fn start(run: &KeyRun, name: &str, options: &str) -> R<Sshd> {
        let mut last = String::new();
        for attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let config = run.dir.join(format!("{name}.sshd_config"));
            let text = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile none\nUsePAM yes\n\
                 PermitRootLogin no\nAllowUsers tapbench-k*\nPrintMotd no\nPrintLastLog no\nBanner none\n\
                 UseDNS no\nMaxAuthTries 6\nLogLevel INFO\n{options}",
                run.dir.join("hostkey").display()
            );
            std::fs::write(&config, text).map_err(|e| e.to_string())?;
            let log = run.dir.join(format!("{name}-{attempt}.log"));
            let err = std::fs::File::create(&log).map_err(|e| e.to_string())?;
            let child = Command::new(run.dir.join(name))
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .map_err(|e| format!("sshd: {e}"))?;
            let mut sshd = Sshd {
                child: Some(child),
                port,
                log,
            };
            let t = Instant::now();
            loop {
                last = std::fs::read_to_string(&sshd.log).unwrap_or_default();
                if last.contains("Server listening on 127.0.0.1") {
                    return Ok(sshd);
                }
                let exited = sshd.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).is_some();
                if exited || t.elapsed().as_secs() >= 10 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            drop(sshd);
            if !last.contains("Address already in use") {
                break;
            }
        }
        Err(format!("sshd {name} did not start: {}", last.trim()))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(6)..].join(" | ")
    }
}

/// How the client authenticates in one timed run.
pub enum Client<'a> {
    /// `-i KEY`, publickey then keyboard-interactive; any kbd-int prompt fails the run
    /// (SSH_ASKPASS=/bin/false), unless `askpass` answers it.
    Key { key: &'a Path, askpass: Option<&'a Path> },
    /// keyboard-interactive only, answered by `askpass`.
    Password { askpass: &'a Path },
}

/// One whole `ssh ... USER@127.0.0.1 true` against `sshd`, timed; refuses a failed run with the
/// server's last log lines.
pub fn ssh_true(sshd: &Sshd, user: &str, client: &Client) -> R<f64> {
    let mut cmd = Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-p", &sshd.port.to_string()]);
    for o in [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
        "IdentitiesOnly=yes",
        "IdentityAgent=none",
        "PasswordAuthentication=no",
        "NumberOfPasswordPrompts=1",
        "ControlMaster=no",
        "ControlPath=none",
        "GSSAPIAuthentication=no",
        "UpdateHostKeys=no",
    ] {
        cmd.args(["-o", o]);
    }
    let askpass = match client {
        Client::Key { key, askpass } => {
            cmd.args(["-o", "PreferredAuthentications=publickey,keyboard-interactive", "-i"])
                .arg(key);
            askpass.map_or(PathBuf::from("/bin/false"), Path::to_path_buf)
        }
        Client::Password { askpass } => {
            cmd.args([
                "-o",
                "PreferredAuthentications=keyboard-interactive",
                "-o",
                "PubkeyAuthentication=no",
            ]);
            askpass.to_path_buf()
        }
    };
    cmd.arg(format!("{user}@127.0.0.1"))
        .arg("true")
        .env("SSH_ASKPASS", askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env_remove("DISPLAY")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = cmd.output().map_err(|e| format!("ssh: {e}"))?;
    let wall = ms(t);
    if !out.status.success() {
        return Err(format!(
            "ssh {user}@127.0.0.1 -p {} failed ({}): {} | sshd: {}",
            sshd.port,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            sshd.log_tail()
        ));
    }
    Ok(wall)
}

/// The shipped key-only block (packaging/key-only/pam_tap_enroll.conf): `methods`, with the keys command `command` reading `config`.
pub fn enroll_options(command: &Path, config: &Path, methods: &str, kbdint: &str) -> String {
    format!(
        "KbdInteractiveAuthentication {kbdint}\nPasswordAuthentication no\nPubkeyAuthentication yes\n\
         AuthenticationMethods {methods}\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\n\
         AuthorizedKeysCommand {} --config {} %u %t %k\nAuthorizedKeysCommandUser {KEYS_USER}\n",
        command.display(),
        config.display()
    )
}

pub fn fingerprint(key: &Path) -> R<String> {
    let out = sh(
        Command::new("ssh-keygen").arg("-lf").arg(key.with_extension("pub")),
        None,
    )?;
    out.split_whitespace()
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| format!("ssh-keygen -l printed {out:?}"))
}

/// A keys-command-only sshd (`AuthenticationMethods publickey`) whose keys command is a wrapper
/// that times each of its runs: one more side of K1's rounds, so the runs are timed as sshd starts
/// them, amid the other logins.
pub struct TimedKeys {
    pub sshd: Sshd,
    times: PathBuf,
}

impl TimedKeys {
    /// The copy `name` of sshd, its keys command reading `config`.
    pub fn start(run: &KeyRun, name: &str, config: &Path) -> R<TimedKeys> {
        let times = run.dir.join(format!("{name}.keys-runs"));
        std::fs::write(&times, "").map_err(|e| e.to_string())?;
        sh(
            Command::new("chown")
                .arg(format!("{KEYS_USER}:{KEYS_USER}"))
                .arg(&times),
            None,
        )?;
        let wrapper = run.dir.join(format!("{name}.pam_tap_keys-timed"));
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nt0=$(date +%s%N)\n{} \"$@\"\nrc=$?\necho $(( $(date +%s%N) - t0 )) >> {}\nexit $rc\n",
                run.dir.join("pam_tap_keys").display(),
                times.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let sshd = Sshd::start(run, name, &enroll_options(&wrapper, config, "publickey", "no"))?;
        Ok(TimedKeys { sshd, times })
    }

    /// (runs per login over `logins` logins, the median ms of one run).
    pub fn runs(&self, logins: usize) -> R<(f64, f64)> {
        let text = std::fs::read_to_string(&self.times).map_err(|e| e.to_string())?;
        let ns: Vec<f64> = text.lines().filter_map(|l| l.trim().parse::<f64>().ok()).collect();
        if ns.is_empty() {
            return Err("sshd never ran the timed keys command".into());
        }
        Ok((ns.len() as f64 / logins as f64, median(&ns) / 1e6))
    }
}
