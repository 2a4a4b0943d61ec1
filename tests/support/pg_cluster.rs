//! A private PostgreSQL cluster from Debian's `postgresql` package for the fleet tests and the
//! bench's F rows: initdb'd once per process into a template (roles made, TLS material made per run
//! with the openssl CLI), then copied for each cluster, which listens on 127.0.0.1 at a free port
//! and on a Unix socket in its own directory, with TLS on and scram-sha-256 for the login roles.
//!
//! The server is stopped even when a test fails: a private cluster's Drop runs `pg_ctl stop -m
//! immediate`, the shared one is stopped at exit, and every server is spawned as a direct child of
//! one thread that lives as long as the test process, with PR_SET_PDEATHSIG (SIGQUIT, PostgreSQL's
//! immediate shutdown) set after the switch to the `postgres` user, so a killed test process takes
//! its servers with it. (PDEATHSIG fires when the creating *thread* exits: a libtest thread would
//! stop the server at the end of the test that happened to start it.)
//!
//! A primary with a streaming standby, for the failover tests, is a [`Pair`] (pg_cluster/standby.rs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

// Named by path: the bench loads this file with #[path], where `mod setup;` would look beside it.
#[path = "pg_cluster/setup.rs"]
mod setup;
#[path = "pg_cluster/standby.rs"]
mod standby;

// Not every test binary uses it.
#[allow(unused_imports)]
pub use standby::{Pair, STANDBY_NAME};

use setup::{as_postgres, cluster_dir, mkdir, run, template, Template, DIRS, LIVE};
// A pooler in front of a cluster is spawned the same way (tests/support/pgbouncer.rs).
pub use setup::{dies_with_this_process, spawn_kept};

const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The login roles every cluster has: the admin tapctl uses, one role per host, and the role
/// sshd's keys command uses on key-only servers.
pub const ROLES: [&str; 5] = ["tapctl_admin", "host_a", "host_b", "host_c", "tapkeys"];

/// The script a site's superuser runs once per store database: the two group roles and their
/// rights on the database (what the package ships).
fn roles_sql() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/postgresql/roles.sql");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// This machine's first non-loopback IPv4 address (`ip -4 addr`), if it has one.
pub fn non_loopback_ipv4() -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let addr = text.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
    Some(addr.split('/').next()?.to_string())
}

/// A running (or stopped) cluster.
pub struct PgCluster {
    pub root: PathBuf,
    pub port: u16,
    /// Addresses it listens on: 127.0.0.1 and any extra.
    pub listen: Vec<String>,
    /// How long the last start took, from spawning `postgres` to "ready" (ms).
    pub start_ms: AtomicU32,
    data: PathBuf,
    tpl: Template,
    /// fsync on (see `start`).
    durable: bool,
    /// Server settings given at start (`-c k=v`), after and over the defaults in `start`.
    settings: Vec<(String, String)>,
    server: Mutex<Option<Child>>,
}

impl PgCluster {
    /// The one cluster this test binary shares (stopped at exit).
    pub fn shared() -> &'static PgCluster {
        static S: OnceLock<PgCluster> = OnceLock::new();
        S.get_or_init(|| {
            let c = PgCluster::private(&[]);
            DIRS.lock().unwrap().push(c.root.clone());
            c
        })
    }

    /// A cluster of the caller's own (a test that stops its server), also listening on `extra`
    /// addresses. Dropping it stops it and removes its files.
    pub fn private(extra: &[&str]) -> PgCluster {
        PgCluster::copied(extra, false)
    }

    /// A private cluster that fsyncs its commits, as a production server does: the bench's, whose
    /// figures set a login against it beside one against SQLite's durable commit.
    pub fn durable(extra: &[&str]) -> PgCluster {
        PgCluster::copied(extra, true)
    }

    /// A durable private cluster started with `settings` over the defaults (the bench's F4:
    /// `max_connections`).
    pub fn durable_with(extra: &[&str], settings: &[(&str, &str)]) -> PgCluster {
        PgCluster::configured(extra, true, settings)
    }

    /// A private cluster started with `settings` (`max_connections`, `synchronous_standby_names`,
    /// ...) over the defaults.
    pub fn with_settings(extra: &[&str], settings: &[(&str, &str)]) -> PgCluster {
        PgCluster::configured(extra, false, settings)
    }

    fn copied(extra: &[&str], durable: bool) -> PgCluster {
        PgCluster::configured(extra, durable, &[])
    }

    fn configured(extra: &[&str], durable: bool, settings: &[(&str, &str)]) -> PgCluster {
        let tpl = template();
        let root = cluster_dir("pgtap-");
        let data = root.join("data");
        run({
            let mut c = Command::new("cp");
            c.arg("-a").arg(&tpl.data).arg(&data);
            c
        });
        let extra = extra.iter().map(|s| s.to_string()).collect();
        let settings = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PgCluster::on_data(root, data, tpl.clone(), extra, durable, settings)
    }

    fn on_data(
        root: PathBuf,
        data: PathBuf,
        tpl: Template,
        extra: Vec<String>,
        durable: bool,
        settings: Vec<(String, String)>,
    ) -> PgCluster {
        let sock = root.join("sock");
        mkdir(&sock, 0o700, true);
        let mut listen = vec!["127.0.0.1".to_string()];
        listen.extend(extra);
        // Peer for the superuser on the socket (psql run as `postgres`); scram for everyone else.
        let mut hba = "local all postgres peer\nlocal all all scram-sha-256\n".to_string();
        for a in &listen {
            hba.push_str(&format!(
                "hostssl all all {a}/32 scram-sha-256\nhost all all {a}/32 scram-sha-256\n"
            ));
        }
        std::fs::write(root.join("pg_hba.conf"), hba).unwrap();
        let c = PgCluster {
            port: super::ids::free_port(),
            root,
            listen,
            start_ms: AtomicU32::new(0),
            data,
            tpl,
            durable,
            settings,
            server: Mutex::new(None),
        };
        c.start();
        c
    }

    pub fn ca(&self) -> PathBuf {
        self.tpl.tls.join("ca.crt")
    }

    /// The server's certificate and key (a pooler in front of it presents the same to clients).
    pub fn server_tls(&self) -> (PathBuf, PathBuf) {
        (self.tpl.tls.join("server.crt"), self.tpl.tls.join("server.key"))
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    pub fn password(&self, role: &str) -> &str {
        &self
            .tpl
            .passwords
            .iter()
            .find(|(r, _)| *r == role)
            .expect("a known role")
            .1
    }

    /// `role` over TCP to `host` with TLS verified against the per-run CA.
    pub fn uri_at(&self, role: &str, db: &str, host: &str) -> String {
        format!(
            "postgresql://{role}:{}@{host}:{}/{db}?sslmode=verify-full&sslrootcert={}",
            self.password(role),
            self.port,
            self.ca().display()
        )
    }

    /// `role` over TCP to 127.0.0.1 with `sslmode=verify-full`.
    pub fn uri(&self, role: &str, db: &str) -> String {
        self.uri_at(role, db, "127.0.0.1")
    }

    /// `role` over the Unix socket.
    pub fn socket_uri(&self, role: &str, db: &str) -> String {
        format!(
            "postgresql://{role}:{}@/{db}?host={}&port={}",
            self.password(role),
            self.socket_dir().display(),
            self.port
        )
    }

    /// Starts the server on this cluster's data, port and addresses; waits until it accepts.
    pub fn start(&self) {
        let mut server = self.server.lock().unwrap();
        assert!(server.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("server.log"))
            .unwrap();
        let tls = &self.tpl.tls;
        let mut c = as_postgres("postgres");
        c.arg("-D").arg(&self.data).arg("-p").arg(self.port.to_string());
        c.arg("-k").arg(self.socket_dir());
        for (k, v) in [
            ("listen_addresses", self.listen.join(",")),
            ("hba_file", self.root.join("pg_hba.conf").display().to_string()),
            ("ssl", "on".into()),
            ("ssl_cert_file", tls.join("server.crt").display().to_string()),
            ("ssl_key_file", tls.join("server.key").display().to_string()),
            ("max_connections", "150".into()),
            ("shared_buffers", "16MB".into()),
            ("log_min_messages", "warning".into()),
            // What a killed server leaves is what it write()s before it answers a commit, with or
            // without fsync; fsync guards against a lost machine, which no test here simulates, and
            // costs a second per crash recovery. The bench's cluster is durable: it measures commits.
            ("fsync", if self.durable { "on" } else { "off" }.into()),
        ] {
            c.arg("-c").arg(format!("{k}={v}"));
        }
        // Later -c settings win: the cluster's own over the defaults above.
        for (k, v) in &self.settings {
            c.arg("-c").arg(format!("{k}={v}"));
        }
        c.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        // SIGQUIT: PostgreSQL's immediate shutdown.
        dies_with_this_process(&mut c, libc::SIGQUIT);
        let t = Instant::now();
        let mut child = spawn_kept(c);
        LIVE.lock().unwrap().push(child.id());
        let pidfile = self.data.join("postmaster.pid");
        loop {
            // postmaster.pid: line 1 the pid, line 8 the status, "ready" once it accepts connections.
            let text = std::fs::read_to_string(&pidfile).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() > 7 && lines[0] == child.id().to_string() && lines[7].trim() == "ready" {
                break;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("postgres exited ({st}): {}", self.log());
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "postgres not ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.start_ms.store(t.elapsed().as_millis() as u32, Ordering::SeqCst);
        *server = Some(child);
    }

    /// `pg_ctl stop -m MODE` (`immediate`: the server killed, crash recovery at the next start).
    pub fn stop(&self, mode: &str) {
        let mut server = self.server.lock().unwrap();
        let Some(mut child) = server.take() else { return };
        let mut c = as_postgres("pg_ctl");
        c.args(["stop", "-s", "-m", mode, "-D"]).arg(&self.data);
        if !c.status().is_ok_and(|s| s.success()) {
            let _ = child.kill();
        }
        let _ = child.wait();
        LIVE.lock().unwrap().retain(|&p| p != child.id());
    }

    pub fn stop_immediate(&self) {
        self.stop("immediate");
    }

    pub fn is_running(&self) -> bool {
        self.server.lock().unwrap().is_some()
    }

    /// Appends `line` to the cluster's pg_hba.conf and has a running server reload it.
    pub fn add_hba(&self, line: &str) {
        let path = self.root.join("pg_hba.conf");
        let mut hba = std::fs::read_to_string(&path).unwrap();
        hba.push_str(line);
        hba.push('\n');
        std::fs::write(&path, hba).unwrap();
        if self.is_running() {
            self.query("postgres", "SELECT pg_reload_conf()");
        }
    }

    /// The cluster's data directory (a standby is made from it with pg_basebackup).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
    }

    fn psql_super(&self, db: &str) -> Command {
        let mut c = as_postgres("psql");
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.socket_dir());
        c.args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db]);
        c
    }

    /// Runs `sql` (statements, on stdin) as the superuser in `db`; panics on an error.
    pub fn superuser_sql(&self, db: &str, sql: &str) {
        let mut c = self.psql_super(db);
        c.args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("psql");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), sql.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql: {}\n{sql}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// One query's rows as the superuser: unaligned, `|` between columns, one row a line.
    pub fn query(&self, db: &str, sql: &str) -> String {
        let mut c = self.psql_super(db);
        c.args(["-A", "-t", "-c", sql]);
        String::from_utf8_lossy(&run(c).stdout).trim_end().to_string()
    }

    /// A fresh database for one test's store: tapctl_admin may create the schema in it.
    pub fn new_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("tap_{}", N.fetch_add(1, Ordering::SeqCst));
        self.superuser_sql("postgres", &format!("CREATE DATABASE {name};"));
        self.superuser_sql(&name, &roles_sql());
        name
    }

    fn forget_dir(&self) {
        DIRS.lock().unwrap().retain(|d| d != &self.root);
    }
}

/// psql as root through `uri` (the password is in it): its output, success or not. The caller's
/// PG* variables and ~/.psqlrc play no part.
pub fn psql_uri(uri: &str, sql: &str) -> Output {
    Command::new(Path::new(BIN).join("psql"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql])
        .output()
        .expect("psql")
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop("immediate");
        self.forget_dir();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
