//! A fleet on one PostgreSQL database: tapctl's config (role tapctl_admin) and three hosts' configs
//! (roles host_a, host_b, host_c; host_name host-a, host-b, host-c; host-c through the Unix socket,
//! the others over TCP with TLS verified), each host with two private
//! pam.d services read through pam_start_confdir: `full-X`, Debian's stack with pam_unix, and
//! `only-X`, where pam_tap's own code is the result. Each host keeps its own host store (the SQLite
//! file a reset pass accepted there is recorded in) in the fleet's private directory, and so does
//! tapctl's config, so that nothing here reads or writes /var/lib/pam_tap.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::support::drive::{feed, Run};
use crate::support::paths::{module, pam_drive, tapctl};
use crate::support::pg_cluster::PgCluster;
use crate::support::site::{debian_stack, module_line};
use crate::support::syslog::Sink;
use crate::support_sec::leaked;

/// (letter, role, host_name) of the three hosts.
pub const HOSTS: [(&str, &str, &str); 3] = [
    ("a", "host_a", "host-a"),
    ("b", "host_b", "host-b"),
    ("c", "host_c", "host-c"),
];

/// The shared cluster, or a test's own (one it stops and starts).
#[allow(clippy::large_enum_variant)] // one a test: its size costs nothing
pub enum Cluster {
    Shared(&'static PgCluster),
    Own(PgCluster),
}

impl std::ops::Deref for Cluster {
    type Target = PgCluster;
    fn deref(&self) -> &PgCluster {
        match self {
            Cluster::Shared(c) => c,
            Cluster::Own(c) => c,
        }
    }
}

pub struct Fleet {
    pub cluster: Cluster,
    pub db: String,
    pub dir: PathBuf,
    /// tapctl's config.
    pub admin: PathBuf,
    pub pamd: PathBuf,
    pub log: Sink,
    /// Every pass issued here (normalised), for the secrets scan.
    pub passes: Vec<String>,
    _turn: Turn,
}

/// Fleets share the machine; a load test (the race: 60 logins at once) has it alone, so that no
/// other test's connection waits out its connect_timeout behind it.
static MACHINE: RwLock<()> = RwLock::new(());

enum Turn {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

fn write_0600(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn services() -> String {
    // su and su-l: the real su, with host-a's stack in a private /etc/pam.d (handoff/su.rs).
    let all: Vec<String> = HOSTS
        .iter()
        .flat_map(|(x, _, _)| [format!("\"full-{x}\""), format!("\"only-{x}\"")])
        .chain(["\"su\"".into(), "\"su-l\"".into()])
        .collect();
    format!("services = [{}]\n", all.join(", "))
}

impl Fleet {
    /// A fleet on a fresh database of the shared cluster; `extra` is TOML after the top-level keys.
    pub fn new(extra: &str) -> Fleet {
        Fleet::on(Cluster::Shared(PgCluster::shared()), extra)
    }

    pub fn on(cluster: Cluster, extra: &str) -> Fleet {
        let turn = Turn::Shared(MACHINE.read().unwrap_or_else(|e| e.into_inner()));
        Fleet::taking(turn, cluster, extra)
    }

    /// A fleet on the shared cluster that has the machine to itself while it lives.
    pub fn alone(extra: &str) -> Fleet {
        let turn = Turn::Alone(MACHINE.write().unwrap_or_else(|e| e.into_inner()));
        Fleet::taking(turn, Cluster::Shared(PgCluster::shared()), extra)
    }

    fn taking(turn: Turn, cluster: Cluster, extra: &str) -> Fleet {
        let db = cluster.new_database();
        let dir = PathBuf::from(format!("/tmp/{}", crate::support::accounts::unique("fleet-")));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let pamd = dir.join("pam.d");
        std::fs::create_dir(&pamd).unwrap();
        let log = Sink::bind(dir.join("log.sock"));
        let f = Fleet {
            admin: dir.join("tapctl.toml"),
            cluster,
            db,
            dir,
            pamd,
            log,
            passes: vec![],
            _turn: turn,
        };
        f.write_configs(extra);
        let out = f.tapctl(&["init"]);
        assert!(
            out.status.success(),
            "tapctl init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Each host's database role is bound to its host name, as a site's admin does once.
        for (_, role, name) in HOSTS {
            let out = f.tapctl(&["hosts", "bind", role, name]);
            assert!(
                out.status.success(),
                "bind {role}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        f
    }

    pub fn host_config(&self, x: &str) -> PathBuf {
        self.dir.join(format!("host-{x}.toml"))
    }

    /// tapctl's config and each host's, with `extra` after the top-level keys.
    pub fn write_configs(&self, extra: &str) {
        let admin = self.cluster.uri("tapctl_admin", &self.db);
        let store = self.dir.join("admin-host.db");
        write_0600(
            &self.admin,
            &format!(
                "enabled = true\ndatabase = \"{admin}\"\n{}host_store = \"{}\"\n{extra}\n",
                services(),
                store.display()
            ),
        );
        self.write_host_configs("", extra);
    }

    /// Each host's config, its URI with `query` (`&key=value...`) appended, then `extra`.
    pub fn write_host_configs(&self, query: &str, extra: &str) {
        for (x, role, name) in HOSTS {
            // host-c reaches the server through its Unix socket, the others over TCP with TLS.
            let uri = match x {
                "c" => self.cluster.socket_uri(role, &self.db),
                _ => self.cluster.uri(role, &self.db),
            };
            self.write_host_config(x, &format!("{uri}{query}"), &format!("host_name = \"{name}\"\n{extra}"));
        }
    }

    /// Host `x`'s own SQLite store, where the reset passes accepted on it are recorded.
    pub fn host_store(&self, x: &str) -> PathBuf {
        self.dir.join(format!("host-{x}.db"))
    }

    /// Host `x`'s config naming `database` (a URI) and its host store, then `extra`; and its two
    /// services.
    pub fn write_host_config(&self, x: &str, database: &str, extra: &str) {
        let config = self.host_config(x);
        let store = self.host_store(x);
        write_0600(
            &config,
            &format!(
                "enabled = true\ndatabase = \"{database}\"\n{}host_store = \"{}\"\n{extra}\n",
                services(),
                store.display()
            ),
        );
        let args = format!("{} log_socket={}", config.display(), self.log.path.display());
        let full = debian_stack(&module_line(&format!("config={args}")));
        std::fs::write(self.pamd.join(format!("full-{x}")), full).unwrap();
        let only = format!(
            "auth required {} config={args}\naccount required pam_permit.so\nsession required pam_permit.so\n",
            module().display()
        );
        std::fs::write(self.pamd.join(format!("only-{x}")), only).unwrap();
    }

    /// tapctl on tapctl's config.
    pub fn tapctl(&self, args: &[&str]) -> Output {
        self.tapctl_on(&self.admin, args)
    }

    /// tapctl on `config` (a host's config: what tapctl does on that host).
    pub fn tapctl_on(&self, config: &Path, args: &[&str]) -> Output {
        Command::new(tapctl())
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("SUDO_USER")
            .env("TZ", "UTC")
            .output()
            .expect("tapctl")
    }

    /// Issues a keep-password pass and returns it.
    pub fn issue(&mut self, user: &str, extra: &[&str]) -> String {
        let v = self.issue_json(user, &[&["--keep-password"][..], extra].concat());
        assert_eq!(v["reset_password"], false, "{v}");
        v["pass"].as_str().expect("pass").to_string()
    }

    /// Issues a reset pass (the policy's default) and returns it. The account is reset on the
    /// host that accepts the pass, not here.
    pub fn issue_reset(&mut self, user: &str, extra: &[&str]) -> String {
        let v = self.issue_json(user, extra);
        assert_eq!(v["reset_password"], true, "{v}");
        v["pass"].as_str().expect("pass").to_string()
    }

    /// `tapctl issue USER --json EXTRA...`, which must succeed; the pass is kept for the scan.
    fn issue_json(&mut self, user: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["issue", user, "--json"];
        args.extend_from_slice(extra);
        let out = self.tapctl(&args);
        assert!(
            out.status.success(),
            "issue {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("issue --json");
        let pass = v["pass"].as_str().expect("pass");
        self.passes.push(pass.replace(['-', ' '], "").to_uppercase());
        v
    }

    pub fn show(&self, user: &str) -> serde_json::Value {
        let out = self.tapctl(&["show", user, "--json"]);
        assert!(out.status.success(), "show: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("show --json")
    }

    pub fn events(&self, user: &str) -> Vec<String> {
        let out = self.tapctl(&["log", user, "--json"]);
        assert!(out.status.success(), "log: {}", String::from_utf8_lossy(&out.stderr));
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        v.iter().map(|e| e["event"].as_str().unwrap().to_string()).collect()
    }

    /// One query as the superuser in this fleet's database (`|` between columns, a row a line).
    pub fn sql(&self, q: &str) -> String {
        self.cluster.query(&self.db, q)
    }

    /// The id of `user`'s newest pass, read from the database itself.
    pub fn newest_id(&self, user: &str) -> i64 {
        self.sql(&format!(
            "SELECT max(id) FROM pam_tap.passes WHERE user_name = '{user}'"
        ))
        .parse()
        .expect("a pass id")
    }

    /// PAM operations on one handle of `service`, prompts answered in order, prompts recorded.
    pub fn pam(&self, service: &str, user: &str, ops: &[&str], answers: &[&str]) -> Run {
        let input: String = answers.iter().map(|a| format!("{a}\n")).collect();
        Run::from_output(feed(self.drive_cmd(service, user, ops), input.as_bytes()))
    }

    /// pam_drive on `service` without its stdin fed yet (the race and the crash feed it).
    pub fn drive_cmd(&self, service: &str, user: &str, ops: &[&str]) -> Command {
        let mut cmd = Command::new(pam_drive());
        cmd.env_clear().env("PATH", "/usr/bin:/bin");
        cmd.arg("--confdir").arg(&self.pamd).arg(service).arg(user).args(ops);
        cmd
    }

    /// `authenticate` on `service` with one answer.
    pub fn auth(&self, service: &str, user: &str, answer: &str) -> Run {
        Run::from_output(feed(
            self.drive_cmd(service, user, &["authenticate"]),
            format!("{answer}\n").as_bytes(),
        ))
    }

    /// `authenticate` with `pass` on `only-X` is refused for the pass's host scope: the syslog line
    /// says `reason=host`, and the pass's audit after its issue is one `refused` row naming host X.
    pub fn assert_refused_for_host(&self, x: &str, user: &str, pass: &str, id: i64) {
        self.log.clear();
        let run = self.auth(&format!("only-{x}"), user, pass);
        assert_eq!(run.auth(), "PAM_AUTH_ERR", "{run:?}");
        let lines = self.log.settled_lines();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("reason=host") && l.contains(&format!("pass={id}"))),
            "{lines:#?}"
        );
        let refused = self.sql(&format!(
            "SELECT event, host FROM pam_tap.audit WHERE pass_id = {id} AND event <> 'issued' ORDER BY id"
        ));
        assert_eq!(refused, format!("refused|host-{x}"));
    }

    /// Fails when a syslog line or an audit row (the fleet's, or a host store's) holds a piece of a
    /// pass issued here.
    pub fn check_no_secrets(&self) {
        let lines = self.log.settled_lines();
        let mut rows: Vec<String> = self
            .sql("SELECT concat_ws(' ', event, user_name, operator, service, rhost, reason, host) FROM pam_tap.audit")
            .lines()
            .map(String::from)
            .collect();
        rows.extend(self.host_audit_rows());
        let leaks = leaked(&self.passes, lines.iter().chain(rows.iter()));
        assert!(leaks.is_empty(), "a pass leaked into syslog or audit: {leaks:?}");
    }

    /// The audit rows of the host stores there are, one line each.
    fn host_audit_rows(&self) -> Vec<String> {
        let stores = HOSTS.iter().map(|(x, _, _)| self.host_store(x)).filter(|p| p.exists());
        stores
            .flat_map(|p| {
                let c = rusqlite::Connection::open_with_flags(&p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let q = "SELECT concat_ws(' ', event, user, operator, service, rhost, reason) FROM audit";
                let mut st = c.prepare(q).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
                rows.map(Result::unwrap).collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
