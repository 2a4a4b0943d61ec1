//! A key-only sshd with pam_tap's key enrollment, set up as the README's "Key-only servers" says:
//! `AuthenticationMethods publickey,keyboard-interactive:pam`, the keys command run by sshd as its
//! own unprivileged user (`AuthorizedKeysCommandUser`), and `pam_tap.so enroll` as the whole auth
//! stack of the sshd service. The keys command and its files live under a fresh directory in /run
//! (sshd refuses a keys command with a group- or world-writable directory above it, as /tmp is).
//! [`KeyOnly`] is one such host on the local store; tests/e2e/harness/enroll_fleet.rs has a fleet.

use super::*;
use crate::support::ids::unique;
use crate::support::paths::keys_command;

/// One key-only host: its sshd, and its /run directory with the keys command, the keys command's
/// config and the keys database.
pub struct KeyHost {
    pub sshd: Sshd,
    pub run_dir: PathBuf,
}

impl Drop for KeyHost {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.run_dir);
    }
}

/// A fresh root 0755 directory in /run (sshd's rule for the keys command's path).
pub fn run_dir() -> PathBuf {
    let dir = PathBuf::from("/run").join(unique("tape2e-keys-"));
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The `[enroll]` table of a host whose /run directory is `run_dir`.
pub fn enroll_table(run_dir: &Path, keys_user: &User, extra: &str) -> String {
    format!(
        "[enroll]\nkeys_db = \"{}\"\nkeys_group = \"{}\"\n{extra}",
        run_dir.join("db/keys.db").display(),
        keys_user.name
    )
}

/// Starts a key-only sshd in `scratch` over `pamd`, whose sshd service runs pam_tap's enrollment
/// step with `module_args`; its keys command reads `keys_config` (a config's text) as `keys_user`.
pub fn serve(
    scratch: &Scratch,
    pamd: &Path,
    module_args: &str,
    keys_config: &str,
    keys_user: &User,
    run_dir: PathBuf,
) -> KeyHost {
    let command = run_dir.join("pam_tap_keys");
    fs::copy(keys_command(), &command).unwrap();
    fs::set_permissions(&command, fs::Permissions::from_mode(0o755)).unwrap();
    // What the keys command reads, readable by its group only.
    let config = run_dir.join("pam_tap.toml");
    fs::write(&config, keys_config).unwrap();
    run_ok(
        Command::new(tool("chown"))
            .arg(format!("root:{}", keys_user.name))
            .arg(&config),
    );
    fs::set_permissions(&config, fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(pamd.join(SSHD_SERVICE), enroll_service(module_args)).unwrap();
    let extra_sshd = format!(
        "AuthenticationMethods publickey,keyboard-interactive:pam\n\
         AuthorizedKeysCommand {} --config {} %u %t %k\n\
         AuthorizedKeysCommandUser {}\n",
        command.display(),
        config.display(),
        keys_user.name
    );
    let sshd = Sshd::start_with(scratch, pamd, SshMethod::Enroll, &extra_sshd);
    KeyHost { sshd, run_dir }
}

/// The pass prompt of the enrollment step for the key `fingerprint`, as a Tcl regex for drive.exp.
pub fn pass_prompt(fingerprint: &str) -> String {
    format!(r"Temporary Access Pass \(enrolls key {}\): $", regex_quote(fingerprint))
}

/// `s` with every character but letters, digits and `:` escaped, for a Tcl regex.
pub fn regex_quote(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c.is_ascii_alphanumeric() || c == ':' {
            true => vec![c],
            false => vec!['\\', c],
        })
        .collect()
}

/// A new ed25519 key pair in `dir`; the private key's path.
pub fn keypair(dir: &Path) -> PathBuf {
    let key = dir.join(unique("key-"));
    run_ok(
        Command::new(tool("ssh-keygen"))
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e"])
            .arg("-f")
            .arg(&key),
    );
    key
}

/// The fingerprint `ssh-keygen -l` prints for the key pair at `key`.
pub fn fingerprint(key: &Path) -> String {
    let out = run_ok(
        Command::new(tool("ssh-keygen"))
            .arg("-lf")
            .arg(key.with_extension("pub")),
    );
    out.split_whitespace().nth(1).unwrap().to_string()
}

/// `ssh` to `sshd` as the new joiner runs it, offering only `key`; `options` go first (ssh keeps
/// the first value of each option, so they override the usual ones).
pub fn ssh_offering(sshd: &Sshd, user: &str, key: &Path, options: &[&str]) -> Vec<String> {
    let mut argv = sshd.ssh(user, &[]);
    let i = argv.iter().position(|a| a == "-i").unwrap();
    argv[i + 1] = key.display().to_string();
    argv.splice(1..1, options.iter().map(|o| o.to_string()));
    argv
}

/// The fingerprints `tapctl keys list USER --json` lists.
pub fn enrolled(site: &Site, user: &User) -> Vec<String> {
    let v = site.tapctl_json(&["keys", "list", &user.name, "--json"]);
    v.as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap().to_string())
        .collect()
}

/// One key-only host on the local store.
pub struct KeyOnly {
    pub site: Site,
    pub host: KeyHost,
    /// The keys command's user (and group, which may read the keys database).
    pub keys_user: User,
}

impl KeyOnly {
    /// The server, with `extra` TOML tables in the policy (not `[enroll]`, which this sets).
    pub fn start(extra: &str) -> KeyOnly {
        Self::start_enroll(extra, "")
    }

    /// [`KeyOnly::start`] with `enroll` lines added to the policy's `[enroll]`.
    pub fn start_enroll(extra: &str, enroll: &str) -> KeyOnly {
        let keys_user = User::no_shell().create();
        let dir = run_dir();
        let site = tap_with(&format!("{extra}\n{}", enroll_table(&dir, &keys_user, enroll)));
        let config = fs::read_to_string(&site.config).unwrap();
        let host = serve(
            &site.dir,
            &site.pamd,
            &site.module_args("enroll"),
            &config,
            &keys_user,
            dir,
        );
        KeyOnly { site, host, keys_user }
    }

    pub fn keypair(&self) -> PathBuf {
        keypair(&self.site.dir)
    }

    pub fn fingerprint(&self, key: &Path) -> String {
        fingerprint(key)
    }

    pub fn ssh(&self, user: &str, key: &Path, options: &[&str]) -> Vec<String> {
        ssh_offering(&self.host.sshd, user, key, options)
    }

    /// Puts `key`'s public half in `user`'s own ~/.ssh/authorized_keys, as sshd requires it.
    pub fn authorize(&self, user: &User, key: &Path) {
        let ssh = PathBuf::from(format!("/home/{}/.ssh", user.name));
        fs::create_dir_all(&ssh).unwrap();
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
        fs::copy(key.with_extension("pub"), ssh.join("authorized_keys")).unwrap();
        run_ok(
            Command::new(tool("chown"))
                .arg("-R")
                .arg(format!("{0}:{0}", user.name))
                .arg(&ssh),
        );
    }

    pub fn enrolled(&self, user: &User) -> Vec<String> {
        enrolled(&self.site, user)
    }
}

/// The sshd service of a key-only server: pam_tap's enrollment step is the whole auth stack, so
/// no password is ever asked for or accepted; account and session as Debian's sshd.
pub fn enroll_service(module_args: &str) -> String {
    format!(
        "auth       required     {} {module_args}\n\
         account    required     pam_nologin.so\n\
         @include common-account\n\
         session    required     pam_loginuid.so\n\
         @include common-session\n\
         session    required     pam_env.so\n",
        module().display()
    )
}
