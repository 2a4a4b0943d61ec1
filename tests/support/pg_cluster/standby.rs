//! A primary and a hot standby streaming from it, for the failover tests. The standby is made with
//! `pg_basebackup -R` from the primary, over its Unix socket as a replication role, and runs as a
//! server of its own at its own port, spawned and stopped as every [`PgCluster`] is. Both come from
//! the same template, so they present the same certificate (127.0.0.1 in it) and know the same
//! login roles: one URI lists both, verified. At a failover the two swap places: the dead primary's
//! directory is made again as a standby of the promoted one, at its old port, so a URI listing both
//! stays right for the pair's whole life.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::setup::{as_postgres, cluster_dir, mkdir, password, run};
use super::PgCluster;

/// The standby's application_name (and replication slot): what `synchronous_standby_names` names.
pub const STANDBY_NAME: &str = "tap_standby";
/// The role the standby streams as.
const REPLICATOR: &str = "tap_replicator";

/// A primary and its standby (see the module's comment). Dropping it stops both and removes them.
pub struct Pair {
    servers: [PgCluster; 2],
    /// Which of `servers` is the primary.
    primary: AtomicUsize,
    /// The primary's commits wait for the standby (`synchronous_standby_names`).
    synchronous: AtomicBool,
    replicator_password: String,
    /// Walsenders stopped by [`Pair::freeze_replication`].
    frozen: Mutex<Vec<i32>>,
}

fn replication_hba() -> String {
    format!("local replication {REPLICATOR} scram-sha-256")
}

impl Pair {
    /// A primary (a private cluster) and a standby streaming from it; `synchronous`: the primary's
    /// commits wait until the standby has flushed them.
    pub fn new(synchronous: bool) -> Pair {
        let first = PgCluster::private(&[]);
        first.add_hba(&replication_hba());
        let pw = password();
        first.superuser_sql(
            "postgres",
            &format!("CREATE ROLE {REPLICATOR} REPLICATION LOGIN PASSWORD '{pw}';"),
        );
        let root = cluster_dir("pgtap-");
        let data = root.join("data");
        mkdir(&data, 0o700, true);
        base_backup(&first, &data, &pw);
        let second = PgCluster::on_data(root, data, first.tpl.clone(), vec![], false, vec![]);
        second.add_hba(&replication_hba());
        let pair = Pair {
            servers: [first, second],
            primary: AtomicUsize::new(0),
            synchronous: AtomicBool::new(synchronous),
            replicator_password: pw,
            frozen: Mutex::new(vec![]),
        };
        pair.attach();
        pair
    }

    pub fn primary(&self) -> &PgCluster {
        &self.servers[self.primary.load(Ordering::SeqCst)]
    }

    pub fn standby(&self) -> &PgCluster {
        &self.servers[1 - self.primary.load(Ordering::SeqCst)]
    }

    /// `role` over TCP to both servers, in a fixed order, with TLS verified and
    /// `target_session_attrs=read-write`: libpq takes whichever is the primary.
    pub fn uri(&self, role: &str, db: &str) -> String {
        let [a, b] = &self.servers;
        format!(
            "postgresql://{role}:{}@127.0.0.1:{},127.0.0.1:{}/{db}?sslmode=verify-full&sslrootcert={}\
             &target_session_attrs=read-write",
            a.password(role),
            a.port,
            b.port,
            a.ca().display()
        )
    }

    /// `role` over both servers' Unix sockets, with `target_session_attrs=read-write`.
    pub fn socket_uri(&self, role: &str, db: &str) -> String {
        let [a, b] = &self.servers;
        format!(
            "postgresql://{role}:{}@/{db}?host={},{}&port={},{}&target_session_attrs=read-write",
            a.password(role),
            a.socket_dir().display(),
            b.socket_dir().display(),
            a.port,
            b.port
        )
    }

    /// Waits until the standby streams from the primary; in a synchronous pair, names it in the
    /// primary's `synchronous_standby_names` and waits until the primary's commits wait for it.
    fn attach(&self) {
        let p = self.primary();
        let streaming = format!(
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}' \
             AND state = 'streaming'"
        );
        self.wait_for(&streaming, "1");
        if self.synchronous.load(Ordering::SeqCst) {
            // In the primary's own postgresql.auto.conf, after the standby's base backup was taken:
            // the standby, once promoted, waits for no standby of its own.
            p.superuser_sql(
                "postgres",
                &format!("ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}';\nSELECT pg_reload_conf();"),
            );
            let sync = format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'");
            self.wait_for(&sync, "sync");
        }
    }

    /// Makes an asynchronous pair synchronous: the primary's commits wait for the standby from now on.
    pub fn make_synchronous(&self) {
        self.synchronous.store(true, Ordering::SeqCst);
        self.attach();
    }

    /// Polls `sql` on the primary until it prints `want` (30 s at most).
    fn wait_for(&self, sql: &str, want: &str) {
        let t = Instant::now();
        loop {
            let got = self.primary().query("postgres", sql);
            if got == want {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{sql} gave {got:?}, not {want:?}\nprimary: {}\nstandby: {}",
                self.primary().log(),
                self.standby().log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the primary's walsenders (SIGSTOP): what the primary writes from now on stays there,
    /// and a synchronous commit waits. (Stopping the standby's walreceiver instead would not do:
    /// what was already sent to its socket would still arrive when it runs again.)
    pub fn freeze_replication(&self) {
        let pids = self.primary().query("postgres", "SELECT pid FROM pg_stat_replication");
        let mut frozen = self.frozen.lock().unwrap();
        for pid in pids.lines().map(|p| p.parse::<i32>().expect("a pid")) {
            // SAFETY: signalling a walsender of our own server.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            wait_stopped(pid);
            frozen.push(pid);
        }
        assert!(!frozen.is_empty(), "no walsender to freeze");
    }

    /// Kills the primary (`pg_ctl stop -m immediate`). A walsender frozen by
    /// [`Pair::freeze_replication`] cannot take the server's SIGQUIT: it is killed outright, after
    /// the shutdown began, so the server is not restarted and it sends nothing more.
    pub fn kill_primary(&self) {
        let p = self.primary();
        let frozen = std::mem::take(&mut *self.frozen.lock().unwrap());
        if !frozen.is_empty() {
            let mut c = as_postgres("pg_ctl");
            c.args(["stop", "-s", "-W", "-m", "immediate", "-D"]).arg(p.data_dir());
            run(c);
            for pid in frozen {
                // SAFETY: killing a stopped walsender of our own server.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        p.stop("immediate");
    }

    /// Promotes the standby (`pg_promote`, which returns once it takes writes): the primary from now
    /// on.
    pub fn promote(&self) {
        let s = self.standby();
        let out = s.query("postgres", "SELECT pg_promote(true, 60)");
        assert_eq!(out, "t", "pg_promote: {}", s.log());
        self.primary.fetch_xor(1, Ordering::SeqCst);
    }

    /// Makes the stopped former primary a standby of the primary again: its data replaced by a base
    /// backup of the primary, started at its old port, streaming (and synchronous, in a
    /// synchronous pair) when this returns.
    pub fn rebuild_standby(&self) {
        let s = self.standby();
        assert!(!s.is_running(), "the standby's place is taken by a running server");
        std::fs::remove_dir_all(s.data_dir()).unwrap();
        mkdir(s.data_dir(), 0o700, true);
        base_backup(self.primary(), s.data_dir(), &self.replicator_password);
        s.start();
        self.attach();
    }
}

/// `pg_basebackup -R` of `primary` into the empty directory `data`, over the primary's socket as
/// the replication role, with a slot that keeps the primary's WAL for the standby. `--no-sync`:
/// the servers run without fsync too (see `PgCluster::start`).
fn base_backup(primary: &PgCluster, data: &Path, password: &str) {
    let mut c = as_postgres("pg_basebackup");
    c.arg("-D").arg(data);
    c.args(["-R", "-c", "fast", "--no-sync", "-C", "-S", STANDBY_NAME, "-d"]);
    c.arg(format!(
        "host={} port={} user={REPLICATOR} password={password} application_name={STANDBY_NAME}",
        primary.socket_dir().display(),
        primary.port
    ));
    run(c);
}

/// Waits until `pid` is stopped (`T` in /proc/PID/stat): SIGSTOP lands asynchronously.
fn wait_stopped(pid: i32) {
    let t = Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the command name's closing parenthesis.
        if stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('T')) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "walsender {pid} never stopped: {stat}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // A stopped walsender would hold up the servers' immediate stop (then both are dropped).
        for pid in self.frozen.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            // SAFETY: waking a walsender of our own server.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}
