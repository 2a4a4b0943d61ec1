//! Debian's PgBouncer in front of a [`PgCluster`], in transaction pooling mode, as a fleet that
//! pools its hosts' connections runs it: clients on 127.0.0.1 with TLS (the cluster's server
//! certificate, so hosts keep `sslmode=verify-full`) and on a Unix socket of its own; an auth_file
//! with the login roles' passwords (scram-sha-256 towards clients, the same passwords towards the
//! server); server connections to the cluster's Unix socket, one pool per database and login role,
//! so a host's session on the server is still its own role (`session_user`, which the host functions
//! bind to a host name).
//!
//! It runs as `postgres` (PgBouncer refuses root), spawned by the cluster's keeper thread with
//! PR_SET_PDEATHSIG (SIGTERM, PgBouncer's immediate shutdown), so a killed test process takes it
//! along; Drop stops it and removes its directory. No startup parameter needs ignoring: libpq sends
//! only user, database, application_name and client_encoding for pam_tap, all of which PgBouncer
//! tracks itself.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::pg_cluster::{dies_with_this_process, spawn_kept, PgCluster, ROLES};

/// The waits PgBouncer bounds, seconds: a client waits at most `query_wait_timeout` for a server
/// connection (the server down: refused then, or at once while a failed login to it is retried
/// after `server_login_retry`), and a query that hangs on the server is cut after `query_timeout`.
/// The hosts' own `statement_timeout` (10 s by default) is for the server to enforce; PgBouncer's
/// bound is for a server that no longer answers at all.
pub const WAITS: [(&str, &str); 4] = [
    ("query_wait_timeout", "3"),
    ("query_timeout", "12"),
    ("server_connect_timeout", "3"),
    ("server_login_retry", "1"),
];

pub struct PgBouncer {
    pub root: PathBuf,
    pub port: u16,
    ca: PathBuf,
    passwords: Vec<(String, String)>,
    child: Mutex<Option<Child>>,
}

fn postgres_ids() -> (u32, u32) {
    let u = nix::unistd::User::from_name("postgres")
        .unwrap()
        .expect("no `postgres` user: `make deps` installs the postgresql package");
    (u.uid.as_raw(), u.gid.as_raw())
}

fn write_owned(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    let (uid, gid) = postgres_ids();
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

impl PgBouncer {
    /// In front of `cluster`, for the cluster's own login roles ([`ROLES`]).
    pub fn in_front_of(cluster: &PgCluster) -> PgBouncer {
        let logins: Vec<(String, String)> = ROLES
            .iter()
            .map(|r| (r.to_string(), cluster.password(r).to_string()))
            .collect();
        PgBouncer::with(cluster, &logins, &[])
    }

    /// In front of `cluster` for `logins` (role, password), with `settings` over the defaults
    /// (pool sizes, waits).
    pub fn with(cluster: &PgCluster, logins: &[(String, String)], settings: &[(&str, &str)]) -> PgBouncer {
        let root = PathBuf::from(format!("/tmp/{}", super::ids::unique("pgtap-bouncer-")));
        std::fs::create_dir(&root).unwrap();
        // As a cluster's directory: removed by a later run if this process dies first.
        std::fs::write(root.join("owner"), std::process::id().to_string()).unwrap();
        let (uid, gid) = postgres_ids();
        std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
        let sock = root.join("sock");
        std::fs::create_dir(&sock).unwrap();
        std::os::unix::fs::chown(&sock, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o755)).unwrap();
        let users: String = logins.iter().map(|(r, p)| format!("\"{r}\" \"{p}\"\n")).collect();
        write_owned(&root.join("users.txt"), &users, 0o600);
        let port = super::ids::free_port();
        let (cert, key) = cluster.server_tls();
        let mut ini = format!(
            "[databases]\n* = host={} port={}\n[pgbouncer]\n",
            cluster.socket_dir().display(),
            cluster.port
        );
        let defaults = [
            ("listen_addr", "127.0.0.1".to_string()),
            ("listen_port", port.to_string()),
            ("unix_socket_dir", sock.display().to_string()),
            ("auth_type", "scram-sha-256".into()),
            ("auth_file", root.join("users.txt").display().to_string()),
            ("pool_mode", "transaction".into()),
            ("max_client_conn", "1000".into()),
            ("default_pool_size", "10".into()),
            ("client_tls_sslmode", "allow".into()),
            ("client_tls_cert_file", cert.display().to_string()),
            ("client_tls_key_file", key.display().to_string()),
            ("logfile", root.join("pgbouncer.log").display().to_string()),
            ("log_connections", "0".into()),
            ("log_disconnections", "0".into()),
        ];
        let waits = WAITS.iter().map(|(k, v)| (*k, v.to_string()));
        // Later lines win in PgBouncer's ini: the caller's settings over the defaults.
        for (k, v) in defaults
            .into_iter()
            .chain(waits)
            .chain(settings.iter().map(|(k, v)| (*k, v.to_string())))
        {
            ini.push_str(&format!("{k} = {v}\n"));
        }
        write_owned(&root.join("pgbouncer.ini"), &ini, 0o600);
        let b = PgBouncer {
            root,
            port,
            ca: cluster.ca(),
            passwords: logins.to_vec(),
            child: Mutex::new(None),
        };
        b.start();
        b
    }

    fn start(&self) {
        let (uid, gid) = postgres_ids();
        let mut c = Command::new("/usr/sbin/pgbouncer");
        c.arg(self.root.join("pgbouncer.ini"))
            .uid(uid)
            .gid(gid)
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        dies_with_this_process(&mut c, libc::SIGTERM);
        let mut child = spawn_kept(c);
        let listening = self.socket_dir().join(format!(".s.PGSQL.{}", self.port));
        let t = Instant::now();
        while !listening.exists() {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("pgbouncer exited ({st}): {}", self.log());
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "pgbouncer not ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        *self.child.lock().unwrap() = Some(child);
    }

    /// Stops it (SIGTERM: clients and server connections closed at once).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().unwrap().as_ref().map(Child::id)
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("pgbouncer.log")).unwrap_or_default()
    }

    fn password(&self, role: &str) -> &str {
        &self
            .passwords
            .iter()
            .find(|(r, _)| r == role)
            .unwrap_or_else(|| panic!("{role} is not in the pooler's auth_file"))
            .1
    }

    /// Waits until every login role's pool reaches the server again (after a restart of it: a
    /// pool whose last login to the server failed answers with an error for `server_login_retry`).
    pub fn wait_for_server(&self, db: &str) {
        let t = Instant::now();
        for (role, _) in &self.passwords {
            while !super::pg_cluster::psql_uri(&self.socket_uri(role, db), "SELECT 1")
                .status
                .success()
            {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "the pooler does not reach the server: {}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// `role` over TCP to 127.0.0.1 with TLS verified (`sslmode=verify-full`).
    pub fn uri(&self, role: &str, db: &str) -> String {
        format!(
            "postgresql://{role}:{}@127.0.0.1:{}/{db}?sslmode=verify-full&sslrootcert={}",
            self.password(role),
            self.port,
            self.ca.display()
        )
    }

    /// `role` over the pooler's Unix socket.
    pub fn socket_uri(&self, role: &str, db: &str) -> String {
        format!(
            "postgresql://{role}:{}@/{db}?host={}&port={}",
            self.password(role),
            self.socket_dir().display(),
            self.port
        )
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
