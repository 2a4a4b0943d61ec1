//! A private pam_tap installation: a root-only directory holding the config, the store (a SQLite
//! file, or a database of a private PostgreSQL cluster), a pam.d directory (read through
//! pam_start_confdir, or bind-mounted over /etc/pam.d in a private mount namespace) and a socket
//! catching the module's syslog lines. Nothing on the host is touched. Every suite makes its sites
//! with [`Site::builder`] (its presets are functions returning a `Site`); tapctl and what it
//! prints are in `site/tapctl.rs`, the PAM side in `site/pam.rs`, the secrets scan in
//! `site/secrets.rs`.

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::syslog::Sink;

#[path = "site/build.rs"]
mod build;
#[path = "site/pam.rs"]
mod pam;
#[path = "site/secrets.rs"]
mod secrets;
#[path = "site/tapctl.rs"]
mod tapctl;

// Not every test binary uses every one.
#[allow(unused_imports)]
pub use build::{Cluster, SiteBuilder, Turn};
#[allow(unused_imports)]
pub use pam::{debian_stack, full_stack, module_line, only_stack, services_line};
#[allow(unused_imports)]
pub use secrets::leaked;
#[allow(unused_imports)]
pub use tapctl::{refused, stderr, stdout, Issued};

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

/// The services the single-host sites admit: the login services and the tests' own `svc`.
pub const HOST_SERVICES: [&str; 6] = ["login", "sshd", "su", "su-l", "passwd", "svc"];

/// A private pam_tap installation (see the module's comment). `tapctl init` has run.
pub struct Site {
    pub log: Sink,
    pub dir: PrivateDir,
    /// tapctl's config (on a single host, the module's too).
    pub config: PathBuf,
    /// The SQLite store; on a PostgreSQL site, tapctl's host store.
    pub db: PathBuf,
    pub pamd: PathBuf,
    /// SQLite host stores (a fleet's hosts') whose audit rows the secrets scan reads too.
    pub host_stores: Vec<PathBuf>,
    /// The PostgreSQL store, when the site has one.
    pg: Option<build::PgStore>,
    /// The services a config admits when its policy does not name them itself.
    services: Vec<String>,
    /// The service [`Site::pam`] drives.
    service: Option<String>,
    /// Every pass issued here (normalised), for the secrets scan.
    passes: Mutex<Vec<String>>,
    /// The name the secrets scan records its tally under.
    scan_name: Option<String>,
    /// tapctl runs hold the accounts lock (see [`SiteBuilder::accounts_lock`]).
    lock_accounts: bool,
    /// pam_drive runs with a cleared environment (see [`SiteBuilder::clean_env`]).
    clean_env: bool,
    _turn: Option<build::TurnGuard>,
}

impl Site {
    /// A site made to measure (see [`SiteBuilder`]).
    pub fn builder() -> SiteBuilder {
        SiteBuilder::new()
    }

    /// The single-host site of the tapctl and stack tests: [`HOST_SERVICES`], Debian's stack as
    /// `svc`, and `policy` (TOML after `enabled`, `database` and, unless it sets them, `services`).
    pub fn new(policy: &str) -> Site {
        Site::builder()
            .services(&HOST_SERVICES)
            .policy(policy)
            .debian_stack("svc")
            .build()
    }

    /// A config naming `database` (and `host_store`, if any), then `policy`; the services line is
    /// left out when `policy` sets `services`.
    pub fn config_text(&self, database: &str, host_store: Option<&Path>, policy: &str) -> String {
        let services: Vec<&str> = self.services.iter().map(String::as_str).collect();
        let host_store = host_store
            .map(|p| format!("host_store = \"{}\"\n", p.display()))
            .unwrap_or_default();
        format!(
            "enabled = true\ndatabase = \"{database}\"\n{}{host_store}{policy}\n",
            services_line(policy, &services)
        )
    }

    /// Rewrites tapctl's config with `policy` (TOML after `enabled`, `database` and `services`;
    /// tables allowed). On SQLite the store is `db`; on PostgreSQL the site's database as
    /// `tapctl_admin`, with `db` as tapctl's host store.
    pub fn write_config(&self, policy: &str) {
        let text = match &self.pg {
            Some(_) => self.config_text(&self.store_uri("tapctl_admin"), Some(&self.db), policy),
            None => self.config_text(&self.db.display().to_string(), None, policy),
        };
        write_file(&self.config, text.as_bytes(), 0o600);
    }

    /// The module line's arguments: this site's config and log socket, plus `extra`.
    pub fn module_args(&self, extra: &str) -> String {
        self.module_args_on(&self.config, extra)
    }

    /// The module line's arguments for `config` (a host's), with this site's log socket.
    pub fn module_args_on(&self, config: &Path, extra: &str) -> String {
        format!(
            "config={} log_socket={} {extra}",
            config.display(),
            self.log.path.display()
        )
    }

    /// Writes pam.d service `name`.
    pub fn write_service(&self, name: &str, text: &str) {
        write_file(&self.pamd.join(name), text.as_bytes(), 0o644);
    }

    /// A stack where pam_tap decides alone: its own return code is the result.
    pub fn stack_only(&self, service: &str, extra: &str) {
        self.write_service(service, &only_stack(&module_line(&self.module_args(extra))));
    }

    /// The documented stack: pam_tap, then pam_unix for anyone pam_tap does not let in.
    pub fn stack_full(&self, service: &str, extra: &str) {
        self.write_service(service, &full_stack(&module_line(&self.module_args(extra))));
    }

    /// A connection to the SQLite store for inspection and tampering.
    pub fn sqlite(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(&self.db).expect("open db");
        c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
        c
    }

    /// SQLite's own check of the store: "ok", or what is wrong.
    pub fn integrity(&self) -> String {
        self.sqlite()
            .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    fn pg(&self) -> &build::PgStore {
        self.pg.as_ref().expect("a PostgreSQL site (SiteBuilder::postgres)")
    }

    /// The cluster of a PostgreSQL site's store.
    pub fn cluster(&self) -> &crate::support::pg_cluster::PgCluster {
        &self.pg().cluster
    }

    /// The pooler a PostgreSQL site's configs go through, if it was built `pooled()`.
    pub fn pooler(&self) -> Option<&crate::support::pgbouncer::PgBouncer> {
        self.pg().pooler.as_ref()
    }

    /// The primary and standby of a site built on [`Cluster::Pair`].
    pub fn pair(&self) -> &crate::support::pg_cluster::Pair {
        match &self.pg().cluster {
            Cluster::Pair(p) => p,
            _ => panic!("a site on a primary and a standby (Cluster::Pair)"),
        }
    }

    /// `role`'s URI of the store over TCP to 127.0.0.1 with TLS verified: the pooler's, if any,
    /// else the cluster's (on a pair, both servers).
    pub fn store_uri(&self, role: &str) -> String {
        let pg = self.pg();
        match &pg.pooler {
            Some(p) => p.uri(role, &pg.db),
            None => pg.cluster.uri(role, &pg.db),
        }
    }

    /// `role`'s URI of the store over a Unix socket: the pooler's, if any, else the cluster's (on
    /// a pair, both servers').
    pub fn store_socket_uri(&self, role: &str) -> String {
        let pg = self.pg();
        match &pg.pooler {
            Some(p) => p.socket_uri(role, &pg.db),
            None => pg.cluster.socket_uri(role, &pg.db),
        }
    }

    /// The name of a PostgreSQL site's database.
    pub fn database(&self) -> &str {
        &self.pg().db
    }

    /// One query as the superuser in a PostgreSQL site's database (`|` between columns, a row a
    /// line).
    pub fn psql(&self, q: &str) -> String {
        self.cluster().query(self.database(), q)
    }

    /// Keeps `pass` (normalised) for the secrets scan.
    pub fn remember(&self, pass: &str) {
        let normalised = pass.replace(['-', ' '], "").to_uppercase();
        self.passes.lock().unwrap().push(normalised);
    }

    /// Every pass issued here, normalised.
    pub fn passes(&self) -> Vec<String> {
        self.passes.lock().unwrap().clone()
    }

    /// The module's syslog lines that mention `user`.
    pub fn syslog_for(&self, user: impl AsRef<str>) -> Vec<String> {
        let needle = format!("user={} ", user.as_ref());
        self.log.lines().into_iter().filter(|l| l.contains(&needle)).collect()
    }
}
