//! Key-only hosts of a fleet: the site's PostgreSQL store (tapctl as `tapctl_admin`), and two hosts,
//! host-a and host-b, each with its own sshd, private pam.d and config (its host role, bound to
//! its host name), and its own keys command connecting as `tapkeys` (a pam_tap_keys member), with
//! its own keys database as its cache of the store's keys.

use super::*;
use crate::support::site::{write_file, Cluster};

/// (role, host_name) of the two hosts.
pub const KEY_HOSTS: [(&str, &str); 2] = [("host_a", "host-a"), ("host_b", "host-b")];

pub struct KeyFleet {
    pub site: Site,
    pub keys_user: User,
    /// host-a's and host-b's servers, in [`KEY_HOSTS`] order.
    pub hosts: Vec<KeyHost>,
    /// Each host's private directory (its sshd files, pam.d, config and host store).
    dirs: Vec<Scratch>,
}

impl KeyFleet {
    pub fn start(cluster: Cluster) -> KeyFleet {
        let keys_user = User::no_shell().create();
        let site = Site::builder()
            .under(Path::new(env!("CARGO_TARGET_TMPDIR")))
            .services(&SERVICES)
            .policy(&format!("[pass]\nmax_failures = {MAX_FAILURES}\n"))
            .postgres(cluster)
            .accounts_lock()
            .build();
        debian_pamd(&site.dir, Stack::WithTap, &site.module_args(""));
        let (mut hosts, mut dirs) = (vec![], vec![]);
        for (role, name) in KEY_HOSTS {
            let dir = Scratch::new_in(&site.dir);
            let pamd = dir.join("pam.d");
            run_ok(Command::new(tool("cp")).arg("-a").arg(&site.pamd).arg(&pamd));
            let run = run_dir();
            let enroll = enroll_table(&run, &keys_user, "");
            let config = dir.join("host.toml");
            let policy = format!("host_name = \"{name}\"\n[pass]\nmax_failures = {MAX_FAILURES}\n{enroll}");
            let text = site.config_text(&site.store_uri(role), Some(&dir.join("host.db")), &policy);
            write_file(&config, text.as_bytes(), 0o600);
            site.tapctl_ok(&["hosts", "bind", role, name]);
            let keys = site.config_text(
                &site.store_uri("tapkeys"),
                None,
                &format!("host_name = \"{name}\"\n{enroll}"),
            );
            let args = site.module_args_on(&config, "enroll");
            hosts.push(serve(&dir, &pamd, &args, &keys, &keys_user, run));
            dirs.push(dir);
        }
        KeyFleet {
            site,
            keys_user,
            hosts,
            dirs,
        }
    }

    /// host `i`'s sshd ([`KEY_HOSTS`] order).
    pub fn sshd(&self, i: usize) -> &Sshd {
        &self.hosts[i].sshd
    }

    pub fn ssh(&self, i: usize, user: &str, key: &Path) -> Vec<String> {
        ssh_offering(self.sshd(i), user, key, &[])
    }

    pub fn keypair(&self) -> PathBuf {
        keypair(&self.dirs[0])
    }

    pub fn enrolled(&self, user: &User) -> Vec<String> {
        enrolled(&self.site, user)
    }
}
