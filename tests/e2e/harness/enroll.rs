//! A key-only sshd with pam_tap's key enrollment, set up as the README's "Key-only servers" says:
//! `AuthenticationMethods publickey,keyboard-interactive:pam`, the keys command run by sshd as its
//! own unprivileged user (`AuthorizedKeysCommandUser`), and `pam_tap.so enroll` as the whole auth
//! stack of the sshd service. The keys command and its files live under a fresh directory in /run
//! (sshd refuses a keys command with a group- or world-writable directory above it, as /tmp is).

use super::*;
use crate::support::ids::unique;
use crate::support::paths::keys_command;

pub struct KeyOnly {
    pub site: Site,
    pub sshd: Sshd,
    /// The keys command's user (and group, which may read the keys database).
    pub keys_user: User,
    /// Root's 0755 directory in /run holding the keys command, its config and the keys database.
    pub run_dir: PathBuf,
}

impl KeyOnly {
    /// The server, with `extra` TOML tables in the policy (not `[enroll]`, which this sets).
    pub fn start(extra: &str) -> KeyOnly {
        Self::start_enroll(extra, "")
    }

    /// [`KeyOnly::start`] with `enroll` lines added to the policy's `[enroll]`.
    pub fn start_enroll(extra: &str, enroll: &str) -> KeyOnly {
        let keys_user = User::no_shell().create();
        let run_dir = PathBuf::from("/run").join(unique("tape2e-keys-"));
        fs::create_dir(&run_dir).unwrap();
        fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o755)).unwrap();
        let command = run_dir.join("pam_tap_keys");
        fs::copy(keys_command(), &command).unwrap();
        fs::set_permissions(&command, fs::Permissions::from_mode(0o755)).unwrap();
        let policy = format!(
            "{extra}\n[enroll]\nkeys_db = \"{}\"\nkeys_group = \"{}\"\n{enroll}",
            run_dir.join("db/keys.db").display(),
            keys_user.name
        );
        let site = tap_with(&policy);
        // What the keys command reads: the same policy, readable by its group only.
        let keys_config = run_dir.join("pam_tap.toml");
        fs::copy(&site.config, &keys_config).unwrap();
        run_ok(
            Command::new(tool("chown"))
                .arg(format!("root:{}", keys_user.name))
                .arg(&keys_config),
        );
        fs::set_permissions(&keys_config, fs::Permissions::from_mode(0o640)).unwrap();
        site.write_service(SSHD_SERVICE, &enroll_service(&site.module_args("enroll")));
        let extra_sshd = format!(
            "AuthenticationMethods publickey,keyboard-interactive:pam\n\
             AuthorizedKeysCommand {} --config {} %u %t %k\n\
             AuthorizedKeysCommandUser {}\n",
            command.display(),
            keys_config.display(),
            keys_user.name
        );
        let sshd = Sshd::start_with(&site.dir, &site.pamd, SshMethod::Enroll, &extra_sshd);
        KeyOnly {
            site,
            sshd,
            keys_user,
            run_dir,
        }
    }

    /// A new ed25519 key pair in the site's directory; the private key's path.
    pub fn keypair(&self) -> PathBuf {
        let key = self.site.dir.join(unique("key-"));
        run_ok(
            Command::new(tool("ssh-keygen"))
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e"])
                .arg("-f")
                .arg(&key),
        );
        key
    }

    /// The fingerprint `ssh-keygen -l` prints for the key pair at `key`.
    pub fn fingerprint(&self, key: &Path) -> String {
        let out = run_ok(
            Command::new(tool("ssh-keygen"))
                .arg("-lf")
                .arg(key.with_extension("pub")),
        );
        out.split_whitespace().nth(1).unwrap().to_string()
    }

    /// `ssh` as the new joiner runs it, offering only `key`; `options` go first (ssh keeps the first
    /// value of each option, so they override the usual ones).
    pub fn ssh(&self, user: &str, key: &Path, options: &[&str]) -> Vec<String> {
        let mut argv = self.sshd.ssh(user, &[]);
        let i = argv.iter().position(|a| a == "-i").unwrap();
        argv[i + 1] = key.display().to_string();
        argv.splice(1..1, options.iter().map(|o| o.to_string()));
        argv
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

    /// The fingerprints `tapctl keys list USER --json` lists.
    pub fn enrolled(&self, user: &User) -> Vec<String> {
        let v = self.site.tapctl_json(&["keys", "list", &user.name, "--json"]);
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| k["fingerprint"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for KeyOnly {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.run_dir);
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
