//! How a [`Site`] is made: its builder, and what a site on PostgreSQL holds (the cluster, its
//! database, its turn on the machine).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{debian_stack, module_line, PrivateDir, Site};
use crate::support::pg_cluster::{Pair, PgCluster};
use crate::support::pgbouncer::PgBouncer;
use crate::support::syslog::Sink;

/// The cluster a PostgreSQL site's database lives in: the one this test binary shares, a test's
/// own (one it stops and starts), or a primary and its standby (the site's URIs list both; the
/// cluster is whichever is the primary now).
#[allow(clippy::large_enum_variant)] // one a site: its size costs nothing
pub enum Cluster {
    Shared(&'static PgCluster),
    Own(PgCluster),
    Pair(Pair),
}

impl std::ops::Deref for Cluster {
    type Target = PgCluster;
    fn deref(&self) -> &PgCluster {
        match self {
            Cluster::Shared(c) => c,
            Cluster::Own(c) => c,
            Cluster::Pair(p) => p.primary(),
        }
    }
}

impl Cluster {
    /// `role` over TCP with TLS verified: to the cluster, or to both servers of a pair.
    pub fn uri(&self, role: &str, db: &str) -> String {
        match self {
            Cluster::Pair(p) => p.uri(role, db),
            c => (**c).uri(role, db),
        }
    }

    /// `role` over the Unix socket: the cluster's, or both servers' of a pair.
    pub fn socket_uri(&self, role: &str, db: &str) -> String {
        match self {
            Cluster::Pair(p) => p.socket_uri(role, db),
            c => (**c).socket_uri(role, db),
        }
    }
}

/// A site's turn on the machine: sites taking one share it, and a load test (60 logins at once)
/// has it alone, so that no other test's connection waits out its connect_timeout behind it.
#[derive(Clone, Copy)]
pub enum Turn {
    Shared,
    Alone,
}

static MACHINE: RwLock<()> = RwLock::new(());

/// A turn taken, held for the site's life.
pub(super) enum TurnGuard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

impl Turn {
    fn take(self) -> TurnGuard {
        match self {
            Turn::Shared => TurnGuard::Shared(MACHINE.read().unwrap_or_else(|e| e.into_inner())),
            Turn::Alone => TurnGuard::Alone(MACHINE.write().unwrap_or_else(|e| e.into_inner())),
        }
    }
}

/// A PostgreSQL site's store: a fresh database of the cluster, reached directly or through a
/// pooler in front of it (stopped before the cluster: fields drop in order).
pub(super) struct PgStore {
    pub pooler: Option<PgBouncer>,
    pub cluster: Cluster,
    pub db: String,
}

/// What a [`Site`] is made with. Without more, a site admits no service by name, has an empty
/// policy and a SQLite store, and lives in the system's temporary directory.
pub struct SiteBuilder {
    base: PathBuf,
    services: Vec<String>,
    policy: String,
    service: Option<String>,
    scan_name: Option<String>,
    lock_accounts: bool,
    clean_env: bool,
    cluster: Option<Cluster>,
    pooled: bool,
    turn: Option<Turn>,
    installed: bool,
}

/// Where an installed site's files are: the package's own paths.
const INSTALLED_CONFIG: &str = "/etc/security/pam_tap.toml";
const INSTALLED_DB: &str = "/var/lib/pam_tap/tap.db";
const INSTALLED_PAMD: &str = "/etc/pam.d";

impl SiteBuilder {
    pub(super) fn new() -> SiteBuilder {
        SiteBuilder {
            base: std::env::temp_dir(),
            services: vec![],
            policy: String::new(),
            service: None,
            scan_name: None,
            lock_accounts: false,
            clean_env: false,
            cluster: None,
            pooled: false,
            turn: None,
            installed: false,
        }
    }

    /// The config, store and pam.d at the package's own paths (/etc/security/pam_tap.toml,
    /// /var/lib/pam_tap/tap.db, /etc/pam.d), where an operator's `sudo tapctl` finds them (it may
    /// not name a config). Only inside demo/sandbox.sh, whose overlays take them away afterwards.
    pub fn installed(mut self) -> SiteBuilder {
        assert_eq!(
            std::env::var("PAM_TAP_SANDBOX").as_deref(),
            Ok("1"),
            "an installed site only inside demo/sandbox.sh"
        );
        self.installed = true;
        self
    }

    /// The site's private directory goes under `base` (created if missing).
    pub fn under(mut self, base: &Path) -> SiteBuilder {
        self.base = base.to_path_buf();
        self
    }

    /// The services the config admits (unless the policy names its own).
    pub fn services(mut self, services: &[&str]) -> SiteBuilder {
        self.services = services.iter().map(|s| s.to_string()).collect();
        self
    }

    /// TOML after `enabled`, `database` and `services` (tables allowed).
    pub fn policy(mut self, policy: &str) -> SiteBuilder {
        self.policy = policy.to_string();
        self
    }

    /// Debian's stack as pam.d service `service`, the one [`Site::pam`] drives.
    pub fn debian_stack(mut self, service: &str) -> SiteBuilder {
        self.service = Some(service.to_string());
        self
    }

    /// Each secrets scan records its tally under `name` (target/security-logscan.tsv).
    pub fn scanned_as(mut self, name: &str) -> SiteBuilder {
        self.scan_name = Some(name.to_string());
        self
    }

    /// tapctl runs hold the accounts lock: a reset pass runs chpasswd, and any command may settle
    /// one, while other tests of the binary run useradd and userdel.
    pub fn accounts_lock(mut self) -> SiteBuilder {
        self.lock_accounts = true;
        self
    }

    /// pam_drive runs with nothing but PATH in its environment (libpq would read the caller's
    /// PG* variables).
    pub fn clean_env(mut self) -> SiteBuilder {
        self.clean_env = true;
        self
    }

    /// The store is a fresh database of `cluster`, reached by tapctl as `tapctl_admin`; tapctl's
    /// own host store is a SQLite file in the site's directory.
    pub fn postgres(mut self, cluster: Cluster) -> SiteBuilder {
        self.cluster = Some(cluster);
        self
    }

    /// tapctl's config (and a fleet's hosts') reach the store through PgBouncer in transaction
    /// pooling mode (tests/support/pgbouncer.rs), started in front of the cluster for the site.
    pub fn pooled(mut self) -> SiteBuilder {
        self.pooled = true;
        self
    }

    /// The site takes `turn` on the machine for its life.
    pub fn turn(mut self, turn: Turn) -> SiteBuilder {
        self.turn = Some(turn);
        self
    }

    /// Makes the directory, pam.d and the log sink, writes the config, runs `tapctl init` and
    /// writes the Debian stack if one was asked for.
    pub fn build(self) -> Site {
        let turn = self.turn.map(Turn::take);
        let pg = self.cluster.map(|cluster| {
            let db = cluster.new_database();
            let pooler = self.pooled.then(|| PgBouncer::in_front_of(&cluster));
            PgStore { pooler, cluster, db }
        });
        let dir = PrivateDir::new_in(&self.base);
        let (config, db, pamd) = match (self.installed, &pg) {
            (true, _) => (
                INSTALLED_CONFIG.into(),
                INSTALLED_DB.into(),
                PathBuf::from(INSTALLED_PAMD),
            ),
            (false, Some(_)) => (dir.join("pam_tap.toml"), dir.join("admin-host.db"), dir.join("pam.d")),
            (false, None) => (dir.join("pam_tap.toml"), dir.join("db/tap.db"), dir.join("pam.d")),
        };
        std::fs::create_dir_all(&pamd).unwrap();
        let site = Site {
            log: Sink::bind(dir.join("log.sock")),
            config,
            db,
            pamd,
            host_stores: vec![],
            pg,
            services: self.services,
            service: self.service,
            passes: Mutex::new(vec![]),
            scan_name: self.scan_name,
            lock_accounts: self.lock_accounts,
            clean_env: self.clean_env,
            _turn: turn,
            dir,
        };
        site.write_config(&self.policy);
        let out = site.tapctl(&["init"]);
        assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
        if let Some(service) = &site.service {
            site.write_service(service, &debian_stack(&module_line(&site.module_args(""))));
        }
        site
    }
}
