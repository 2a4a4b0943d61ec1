//! F4: a login storm against a server with a small `max_connections`. A private PostgreSQL cluster
//! (tests/support/pg_cluster.rs, fsync on) started with max_connections = 20, one database,
//! [`HOSTS`] simulated hosts, each a config with its own login role (host_f01 ... bound to
//! host-f01 ... with `tapctl hosts bind`, as a site's admin does) and 10 × max_connections users,
//! each with a one-time pass of their own, logging in at once, login i on host i mod HOSTS: once
//! straight to the server, once through PgBouncer in transaction pooling mode
//! (tests/support/pgbouncer.rs) with one server connection per host role. The rounds alternate.
//! Everything is stopped when this returns, with an error or a panic too.

use std::collections::BTreeMap;

use super::*;
use crate::support::pg_cluster::PgCluster;
use crate::support::pgbouncer::{PgBouncer, WAITS};

/// The server's limit; superuser_reserved_connections (3) of it are not for the hosts.
const MAX_CONNECTIONS: usize = 20;
const HOSTS: usize = 10;
const LOGINS: usize = 10 * MAX_CONNECTIONS;
/// The pooler's server connections: one per host role, at most this many in all (below
/// max_connections less the reserved ones, leaving room for tapctl and psql).
const POOL_PER_HOST: usize = 1;
const POOL_TOTAL: usize = 12;
/// libpq's connect_timeout in the hosts' URIs: F2's, for a burst on 2 cores.
const CONNECT_TIMEOUT_S: u64 = 10;
/// The user of the one-at-a-time logins (the first bulk account).
const SEQ_USER: &str = "tapb-b0001";

/// What one storm saw: the codes of the logins that failed, the connections the server refused
/// at its limit, and when the last success came (ms after the start).
struct Storm {
    failed: BTreeMap<String, usize>,
    too_many: usize,
    last_success_ms: f64,
    wall_ms: f64,
}

fn host_role(i: usize) -> String {
    format!("host_f{:02}", i + 1)
}

/// The F4 services: `tapbench-f4d-NN` (direct) and `tapbench-f4p-NN` (pooled), one per host.
fn service(route: char, i: usize) -> String {
    format!("tapbench-f4{route}-{:02}", i + 1)
}

fn policy() -> String {
    let services: Vec<String> = ['d', 'p']
        .iter()
        .flat_map(|r| (0..HOSTS).map(move |i| format!("\"{}\"", service(*r, i))))
        .collect();
    format!("services = [{}]\n[users]\nmax_uid = 64000\n", services.join(", "))
}

/// A random password for a host role (hex).
fn password() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("random");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The database, tapctl's config, the host roles (made and bound) and their passwords.
fn setup(c: &Ctx, pg: &PgCluster) -> R<(String, Vec<(String, String)>)> {
    let db = pg.new_database();
    write_private(
        &c.conf("f4-admin"),
        &format!(
            "enabled = true\ndatabase = \"{}\"\n{}",
            pg.uri("tapctl_admin", &db),
            policy()
        ),
    )?;
    tapctl(c, "f4-admin", &["init"])?;
    let mut logins = vec![("tapctl_admin".to_string(), pg.password("tapctl_admin").to_string())];
    let mut sql = String::new();
    for i in 0..HOSTS {
        let (role, pw) = (host_role(i), password());
        sql.push_str(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{pw}' IN ROLE pam_tap_host;\n"
        ));
        logins.push((role, pw));
    }
    pg.superuser_sql("postgres", &sql);
    for i in 0..HOSTS {
        tapctl(
            c,
            "f4-admin",
            &["hosts", "bind", &host_role(i), &format!("host-f{:02}", i + 1)],
        )?;
    }
    Ok((db, logins))
}

/// Host `i`'s config and service for `route` ('d' or 'p'), its store at `uri`.
fn host(c: &Ctx, route: char, i: usize, uri: &str) -> R<()> {
    let name = format!("f4{route}-{:02}", i + 1);
    write_private(
        &c.conf(&name),
        &format!(
            "enabled = true\ndatabase = \"{uri}&connect_timeout={CONNECT_TIMEOUT_S}\"\nhost_name = \"host-f{:02}\"\n{}",
            i + 1,
            policy()
        ),
    )?;
    // pam_tap alone decides: its own code is the stack's (a refused connection shows as
    // PAM_AUTHINFO_UNAVAIL, not as a later module's denial).
    let text = format!(
        "auth     required   {} config={} log_socket={}\n",
        c.lib().display(),
        c.conf(&name).display(),
        c.log_socket().display()
    );
    let p = PathBuf::from("/etc/pam.d").join(service(route, i));
    std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
}

/// CPU ms a process and its reaped children used so far (/proc/PID/stat utime..cstime), plus its
/// live children's own: a server's backends, or the pooler.
fn tree_cpu_ms(pid: u32) -> f64 {
    let fields = |p: &str| -> Vec<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let after = stat.rsplit(") ").next().unwrap_or("").to_string();
        after.split(' ').filter_map(|f| f.parse().ok()).collect()
    };
    // SAFETY: sysconf has no preconditions.
    let tick_ms = 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let own = fields(&pid.to_string());
    // After ") ": state, ppid, ..., utime is the 12th, then stime, cutime, cstime.
    let mut ticks: u64 = own.iter().skip(10).take(4).sum();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let rest: Vec<&str> = stat.rsplit(") ").next().unwrap_or("").split(' ').collect();
        if rest.get(1) == Some(&pid.to_string().as_str()) {
            ticks += fields(&name).iter().skip(10).take(2).sum::<u64>();
        }
    }
    ticks as f64 * tick_ms
}

fn postmaster_pid(pg: &PgCluster) -> u32 {
    std::fs::read_to_string(pg.data_dir().join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0)
}

/// LOGINS pam_drive processes started together, login i on host i mod HOSTS of `route`.
fn storm(c: &Ctx, pg: &PgCluster, route: char, passes: &[(String, String)]) -> R<Storm> {
    let log_from = pg.log().len();
    let t = Instant::now();
    let mut kids = vec![];
    for (i, (u, _)) in passes.iter().enumerate() {
        let child = Command::new(c.pam_drive())
            .args([&service(route, i % HOSTS), u.as_str(), "authenticate"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        kids.push(child);
    }
    for (k, (_, p)) in kids.iter_mut().zip(passes) {
        k.stdin.take().unwrap().write_all(format!("{p}\n").as_bytes()).ok();
    }
    // When each one ends: polled, so the last success has its own time.
    let mut ended: Vec<Option<f64>> = vec![None; kids.len()];
    while ended.iter().any(Option::is_none) {
        for (k, e) in kids.iter_mut().zip(ended.iter_mut()) {
            if e.is_none() && k.try_wait().map_err(|e| e.to_string())?.is_some() {
                *e = Some(ms(t));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let wall_ms = ms(t);
    let (mut failed, mut last_success_ms) = (BTreeMap::new(), 0.0f64);
    for (k, e) in kids.into_iter().zip(ended) {
        let mut text = String::new();
        k.stdout.unwrap().read_to_string(&mut text).map_err(|e| e.to_string())?;
        let code = text
            .split("result authenticate=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("(none)")
            .to_string();
        if code == "PAM_SUCCESS" {
            last_success_ms = last_success_ms.max(e.unwrap_or(0.0));
        } else {
            *failed.entry(code).or_insert(0) += 1;
        }
    }
    // The server's two refusals at its limit: no slot at all, or only the superusers' left.
    let log = pg.log();
    let too_many = ["too many clients already", "connection slots are reserved"]
        .iter()
        .map(|m| log[log_from..].matches(m).count())
        .sum();
    Ok(Storm {
        failed,
        too_many,
        last_success_ms,
        wall_ms,
    })
}

fn errors(s: &[Storm]) -> usize {
    s.iter().map(|s| s.failed.values().sum::<usize>()).sum()
}

/// Each round's errors (of LOGINS) and the server's refusals, the failed codes in all, and the
/// median time to the last success.
fn describe(s: &[Storm]) -> String {
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for st in s {
        for (k, v) in &st.failed {
            *codes.entry(k.as_str()).or_insert(0) += v;
        }
    }
    let list = |f: &dyn Fn(&Storm) -> usize| s.iter().map(|st| f(st).to_string()).collect::<Vec<_>>().join("+");
    let codes: Vec<String> = codes.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let last: Vec<f64> = s.iter().map(|s| s.last_success_ms).collect();
    format!(
        "errors {} of {LOGINS}{}; server refusals {}; last success {:.0} ms",
        list(&|st| st.failed.values().sum()),
        if codes.is_empty() {
            String::new()
        } else {
            format!(" ({})", codes.join(", "))
        },
        list(&|st| st.too_many),
        median(&last)
    )
}

/// F4 on a cluster of its own, stopped when this returns.
pub fn section_f4(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    out.progress("F4: starting a private PostgreSQL cluster (max_connections=20) and PgBouncer");
    let pg = PgCluster::durable_with(&[], &[("max_connections", &MAX_CONNECTIONS.to_string())]);
    let (db, logins) = setup(c, &pg)?;
    let (per, total) = (POOL_PER_HOST.to_string(), POOL_TOTAL.to_string());
    let pooler = PgBouncer::with(
        &pg,
        &logins,
        &[("default_pool_size", &per), ("max_db_connections", &total)],
    );
    for (i, (role, pw)) in logins.iter().skip(1).enumerate() {
        // The server's own URI form, with this role's password (the kit knows only its own roles').
        let direct = pg.uri("tapctl_admin", &db).replacen(
            &format!("tapctl_admin:{}@", pg.password("tapctl_admin")),
            &format!("{role}:{pw}@"),
            1,
        );
        host(c, 'd', i, &direct)?;
        host(c, 'p', i, &pooler.uri(role, &db))?;
    }
    let csv = c.work.join("f4.csv");
    let users = &s.bulk[..LOGINS];
    std::fs::write(&csv, users.iter().map(|u| format!("{u}\n")).collect::<String>()).map_err(|e| e.to_string())?;
    let flags = ["--keep-password", "--one-time", "--replace"];
    let (mut direct, mut pooled) = (vec![], vec![]);
    let (server, bouncer) = (postmaster_pid(&pg), pooler.pid().unwrap_or(0));
    let mut cpu = [0.0f64; 3];
    for _ in 0..if c.quick { 1 } else { 2 } {
        direct.push(storm(c, &pg, 'd', &bulk_issue(c, "f4-admin", &csv, &flags)?)?);
        let passes = bulk_issue(c, "f4-admin", &csv, &flags)?;
        let (s0, b0) = (tree_cpu_ms(server), tree_cpu_ms(bouncer));
        pooled.push(storm(c, &pg, 'p', &passes)?);
        cpu[0] += tree_cpu_ms(server) - s0;
        cpu[1] += tree_cpu_ms(bouncer) - b0;
        cpu[2] += (LOGINS - pooled.last().map_or(0, |p| errors(std::slice::from_ref(p)))) as f64;
    }
    let per_login = sequential_cpu(c, server, bouncer)?;
    report(out, &direct, &pooled, cpu, per_login);
    out.progress("F4 done");
    Ok(())
}

/// Server (and pooler) CPU ms per login, logins one at a time on host 1 (no refusals, no
/// queueing), with a reusable pass (its acceptance writes as a one-time one does): direct, then
/// pooled.
fn sequential_cpu(c: &Ctx, server: u32, bouncer: u32) -> R<[f64; 3]> {
    const N: usize = 40;
    let mut out = [0.0; 3];
    for (k, route) in ['d', 'p'].iter().enumerate() {
        let pass = issue(c, "f4-admin", SEQ_USER, &["--keep-password", "--reusable", "--replace"])?;
        let (s0, b0) = (tree_cpu_ms(server), tree_cpu_ms(bouncer));
        for _ in 0..N {
            let r = run(
                Command::new(c.pam_drive()).args([&service(*route, 0), SEQ_USER, "authenticate"]),
                &format!("{pass}\n"),
            )?;
            if !r.stdout.contains("result authenticate=PAM_SUCCESS") {
                return Err(format!("F4: a single login ({route}) failed: {}", r.stdout));
            }
        }
        out[k] = (tree_cpu_ms(server) - s0) / N as f64;
        if *route == 'p' {
            out[2] = (tree_cpu_ms(bouncer) - b0) / N as f64;
        }
    }
    Ok(out)
}

fn report(out: &mut Out, direct: &[Storm], pooled: &[Storm], cpu: [f64; 3], seq: [f64; 3]) {
    let what =
        format!("{LOGINS} pass logins at once from {HOSTS} hosts (own roles), max_connections={MAX_CONNECTIONS}");
    out.rows.push(Row {
        id: "F4d",
        what: format!("{what}: direct"),
        measured: describe(direct),
        goal: "(info: shown and explained)".into(),
        pass: None,
    });
    out.rows.push(Row {
        id: "F4p",
        what: format!(
            "the same through PgBouncer (transaction pooling, {POOL_PER_HOST} server conn per host role, ≤ {POOL_TOTAL})"
        ),
        measured: describe(pooled),
        goal: "0 errors".into(),
        pass: Some(errors(pooled) == 0),
    });
    let waits: Vec<String> = WAITS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.notes.push(format!(
        "F4: a login holds its own server connection from its connect to its end (look-up, argon2id verify, \
         acceptance), so {LOGINS} logins at once on 2 cores ask for about {LOGINS} connections; the server \
         admits max_connections less superuser_reserved_connections (3) and refuses the rest at once \
         (FATAL 'sorry, too many clients already', or 'remaining connection slots are reserved' for the last 3): \
         the module logs it and answers PAM_AUTHINFO_UNAVAIL, never a success. Through PgBouncer a login holds a client connection to the pooler, and a server connection \
         only for each statement or transaction; the others queue in the pooler (its waits: {}); \
         median of {} rounds each, alternating; connect_timeout={CONNECT_TIMEOUT_S}",
        waits.join(" "),
        direct.len()
    ));
    let wall: Vec<f64> = direct.iter().chain(pooled).map(|s| s.wall_ms).collect();
    out.notes.push(format!(
        "F4 server CPU per login: in the pooled storm {:.2} ms (server) + {:.2} ms (PgBouncer); one login \
         at a time: direct {:.2} ms (a backend forked, TLS, SCRAM, 5 statements), pooled {:.2} ms (the \
         statements on a kept server connection) + {:.2} ms in PgBouncer (TLS, SCRAM); storms took {:.0}–{:.0} ms",
        cpu[0] / cpu[2].max(1.0),
        cpu[1] / cpu[2].max(1.0),
        seq[0],
        seq[1],
        seq[2],
        wall.iter().copied().fold(f64::INFINITY, f64::min),
        wall.iter().copied().fold(0.0, f64::max)
    ));
}
