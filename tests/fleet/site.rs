//! A fleet on one PostgreSQL database: a site (tests/support/site.rs) whose store is a database of
//! a private cluster, reached by tapctl as role tapctl_admin, and three hosts' configs (roles
//! host_a, host_b, host_c; host_name host-a, host-b, host-c; host-c through the Unix socket, the
//! others over TCP with TLS verified), each host with two private pam.d services read through
//! pam_start_confdir: `full-X`, Debian's stack with pam_unix, and `only-X`, where pam_tap's own
//! code is the result. Each host keeps its own host store (the SQLite file a reset pass accepted
//! there is recorded in) in the site's private directory, as tapctl's config does, so that nothing
//! here reads or writes /var/lib/pam_tap. A fleet built [`Route::Pooled`] has every config (the
//! hosts' and tapctl's) go through PgBouncer in transaction pooling mode in front of the cluster,
//! host-c through the pooler's Unix socket, the others over TCP with TLS verified. On a primary and
//! its standby (`Cluster::Pair`), every URI lists both servers with `target_session_attrs=read-write`.

use std::path::PathBuf;

use crate::support::pg_cluster::PgCluster;
use crate::support::site::{debian_stack, module_line, only_stack, write_file, Cluster, Site, Turn};

/// (letter, role, host_name) of the three hosts.
pub const HOSTS: [(&str, &str, &str); 3] = [
    ("a", "host_a", "host-a"),
    ("b", "host_b", "host-b"),
    ("c", "host_c", "host-c"),
];

/// How the configs reach the database: straight to the server, or through a pooler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Direct,
    Pooled,
}

/// A fleet on a fresh database of the shared cluster; `extra` is TOML after the top-level keys.
pub fn fleet(extra: &str) -> Site {
    fleet_on(Cluster::Shared(PgCluster::shared()), extra)
}

/// A fleet on a fresh database of `cluster`.
pub fn fleet_on(cluster: Cluster, extra: &str) -> Site {
    fleet_via(Route::Direct, Turn::Shared, cluster, extra)
}

/// A fleet on the shared cluster that has the machine to itself while it lives.
pub fn fleet_alone(extra: &str) -> Site {
    fleet_alone_via(Route::Direct, extra)
}

/// [`fleet_alone`], its configs going `route`.
pub fn fleet_alone_via(route: Route, extra: &str) -> Site {
    fleet_via(route, Turn::Alone, Cluster::Shared(PgCluster::shared()), extra)
}

/// Each host's two services, and su and su-l: the real su, with host-a's stack in a private
/// /etc/pam.d (handoff/su.rs).
fn services() -> Vec<String> {
    let per_host = HOSTS
        .iter()
        .flat_map(|(x, _, _)| [format!("full-{x}"), format!("only-{x}")]);
    per_host.chain(["su".into(), "su-l".into()]).collect()
}

/// A fleet on a fresh database of `cluster`, taking `turn`, its configs going `route`.
pub fn fleet_via(route: Route, turn: Turn, cluster: Cluster, extra: &str) -> Site {
    let services = services();
    let builder = Site::builder()
        .turn(turn)
        .postgres(cluster)
        .services(&services.iter().map(String::as_str).collect::<Vec<_>>())
        .policy(extra)
        .clean_env();
    let builder = match route {
        Route::Direct => builder,
        Route::Pooled => builder.pooled(),
    };
    let mut f = builder.build();
    f.host_stores = HOSTS.iter().map(|(x, _, _)| f.host_store(x)).collect();
    f.write_host_configs("", extra);
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

impl Site {
    pub fn host_config(&self, x: &str) -> PathBuf {
        self.dir.join(format!("host-{x}.toml"))
    }

    /// Host `x`'s own SQLite store, where the reset passes accepted on it are recorded.
    pub fn host_store(&self, x: &str) -> PathBuf {
        self.dir.join(format!("host-{x}.db"))
    }

    /// Each host's config, its URI with `query` (`&key=value...`) appended, then `extra`.
    pub fn write_host_configs(&self, query: &str, extra: &str) {
        for (x, role, name) in HOSTS {
            // host-c reaches the store through a Unix socket, the others over TCP with TLS.
            let uri = match x {
                "c" => self.store_socket_uri(role),
                _ => self.store_uri(role),
            };
            self.write_host_config(x, &format!("{uri}{query}"), &format!("host_name = \"{name}\"\n{extra}"));
        }
    }

    /// Host `x`'s config naming `database` (a URI) and its host store, then `extra`; and its two
    /// services.
    pub fn write_host_config(&self, x: &str, database: &str, extra: &str) {
        let config = self.host_config(x);
        let text = self.config_text(database, Some(&self.host_store(x)), extra);
        write_file(&config, text.as_bytes(), 0o600);
        let m = module_line(&self.module_args_on(&config, ""));
        self.write_service(&format!("full-{x}"), &debian_stack(&m));
        self.write_service(&format!("only-{x}"), &only_stack(&m));
    }

    /// The id of `user`'s newest pass, read from the database itself.
    pub fn newest_id(&self, user: &str) -> i64 {
        self.psql(&format!(
            "SELECT max(id) FROM pam_tap.passes WHERE user_name = '{user}'"
        ))
        .parse()
        .expect("a pass id")
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
        let refused = self.psql(&format!(
            "SELECT event, host FROM pam_tap.audit WHERE pass_id = {id} AND event <> 'issued' ORDER BY id"
        ));
        assert_eq!(refused, format!("refused|host-{x}"));
    }
}
