//! F1–F3: the fleet store. A private PostgreSQL cluster (tests/support/pg_cluster.rs, fsync on, on
//! the same disk as the SQLite stores), one database, tapctl's config (role tapctl_admin) and three
//! hosts' (roles host_a, host_b, host_c; host_name host-a, host-b, host-c), each host reaching the
//! server over TCP on 127.0.0.1 with TLS verified, as a fleet host does over its network.
//! The cluster is stopped when this returns, with an error or a panic too (its Drop, and the
//! kit's exit handler and PDEATHSIG if the bench is killed).

use std::net::TcpListener;

use super::*;
use crate::support::pg_cluster::{PgCluster, ROLES};

/// libpq's connect_timeout in the hosts' URIs, seconds: what a stalled store may add to a pass login.
const CONNECT_TIMEOUT_S: u64 = 2;
/// F2's: its 64 logins, the three hosts and the server share this machine's cores, and a connect
/// (TLS, SCRAM) waits behind the other logins' argon2id; 2 s is too short for that (F2c).
const BURST_CONNECT_TIMEOUT_S: u64 = 10;

/// The hosts' letters, from the kit's login roles (host_a ...).
fn hosts() -> Vec<&'static str> {
    ROLES.iter().filter_map(|r| r.strip_prefix("host_")).collect()
}

/// `auth` through pam_tap with `conf`, then `rest`.
fn service(c: &Ctx, name: &str, conf: &str, control: &str, rest: &str) -> R<()> {
    let text = format!(
        "auth     {control} {} config={} log_socket={}\n{rest}",
        c.lib().display(),
        c.conf(conf).display(),
        c.log_socket().display()
    );
    let p = PathBuf::from("/etc/pam.d").join(name);
    std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
}

fn host_config(c: &Ctx, name: &str, uri: &str, host: &str) -> R<()> {
    write_private(
        &c.conf(name),
        &format!("enabled = true\ndatabase = \"{uri}\"\nhost_name = \"host-{host}\"\n{BENCH_POLICY}"),
    )
}

/// The database, the configs and the services; the PostgreSQL pass of tapb-one.
fn setup(c: &Ctx, pg: &PgCluster, stall_port: u16) -> R<String> {
    let db = pg.new_database();
    write_private(
        &c.conf("fleet-admin"),
        &format!(
            "enabled = true\ndatabase = \"{}\"\n{BENCH_POLICY}",
            pg.uri("tapctl_admin", &db)
        ),
    )?;
    tapctl(c, "fleet-admin", &["init"])?;
    for x in hosts() {
        tapctl(
            c,
            "fleet-admin",
            &["hosts", "bind", &format!("host_{x}"), &format!("host-{x}")],
        )?;
    }
    let timeout = format!("&connect_timeout={CONNECT_TIMEOUT_S}");
    let burst = format!("&connect_timeout={BURST_CONNECT_TIMEOUT_S}");
    let only = "auth     requisite  pam_deny.so\nauth     required   pam_permit.so\n";
    let skip = "[success=1 default=ignore]";
    for x in hosts() {
        let uri = pg.uri(&format!("host_{x}"), &db);
        host_config(c, &format!("fleet-{x}"), &(uri.clone() + &timeout), x)?;
        service(c, &format!("tapbench-fleetonly-{x}"), &format!("fleet-{x}"), skip, only)?;
        host_config(c, &format!("fleet-burst-{x}"), &(uri + &burst), x)?;
        service(
            c,
            &format!("tapbench-fleetburst-{x}"),
            &format!("fleet-burst-{x}"),
            skip,
            only,
        )?;
    }
    host_config(c, "fleet-sock", &(pg.socket_uri("host_a", &db) + &timeout), "a")?;
    // A listener nobody accepts from: the handshake completes, then nothing answers (a hung
    // server, a black-holed route).
    let stalled = format!(
        "postgresql://host_a:x@127.0.0.1:{stall_port}/{db}?sslmode=verify-full&sslrootcert={}{timeout}",
        pg.ca().display()
    );
    host_config(c, "fleet-stall", &stalled, "a")?;
    service(c, "tapbench-fleet", "fleet-a", skip, UNIX_STACK)?;
    service(c, "tapbench-fleet-sock", "fleet-sock", skip, UNIX_STACK)?;
    service(c, "tapbench-fleet-stall", "fleet-stall", skip, UNIX_STACK)?;
    // pam_tap alone decides: its own result code is the stack's.
    service(c, "tapbench-fleetbare-a", "fleet-a", "required  ", "")?;
    service(c, "tapbench-fleetbare-stall", "fleet-stall", "required  ", "")?;
    issue(c, "fleet-admin", "tapb-one", &["--keep-password", "--reusable"])
}

/// F1–F3 on a cluster of their own, stopped when this returns.
pub fn sections(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    out.progress("F: starting a private PostgreSQL cluster");
    let pg = PgCluster::durable(&[]);
    let stall = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let stall_port = stall.local_addr().map_err(|e| e.to_string())?.port();
    let pg_pass = setup(c, &pg, stall_port)?;
    out.progress(&format!(
        "F: cluster up (PostgreSQL started in {} ms)",
        pg.start_ms.load(std::sync::atomic::Ordering::SeqCst)
    ));
    if c.runs("F1") {
        section_f1(c, s, &pg_pass, out)?;
    }
    if c.runs("F2") {
        section_f2(c, s, out)?;
    }
    if c.runs("F3") {
        section_f3(c, &pg, &pg_pass, out)?;
    }
    drop(stall);
    Ok(())
}

/// F1: one TAP login (pamtester, the full stack) against PostgreSQL ÷ the same against SQLite.
fn section_f1(c: &Ctx, s: &Shared, pg_pass: &str, out: &mut Out) -> R<()> {
    let (mut sq, mut pg, mut sock) = (vec![], vec![], vec![]);
    for _ in 0..c.n(25) {
        sq.push(pamtester("tapbench-tap", "tapb-one", &s.tap_one)?.wall_ms);
        pg.push(pamtester("tapbench-fleet", "tapb-one", pg_pass)?.wall_ms);
        sock.push(pamtester("tapbench-fleet-sock", "tapb-one", pg_pass)?.wall_ms);
    }
    let (sq, pg, sock) = (median(&sq), median(&pg), median(&sock));
    out.rows.push(Row {
        id: "F1",
        what: "pamtester TAP login: PostgreSQL (127.0.0.1, TLS verify-full) ÷ SQLite, same user".into(),
        measured: format!("{:.2} ({pg:.1} / {sq:.1} ms)", pg / sq),
        goal: "≤ 1.20".into(),
        pass: Some(pg / sq <= 1.20),
    });
    out.rows.push(Row {
        id: "F1s",
        what: "the same through PostgreSQL's Unix socket (no TCP, no TLS) ÷ SQLite".into(),
        measured: format!("{:.2} ({sock:.1} / {sq:.1} ms)", sock / sq),
        goal: "(info)".into(),
        pass: None,
    });
    out.notes.push(
        "F1: the PostgreSQL login loads libpq (dlopen), connects, does TLS and SCRAM, then looks up and \
         consumes in the database (fsync on); F1 − F1s is the TCP and TLS part"
            .into(),
    );
    out.progress("F1 done");
    Ok(())
}

/// F2: 64 parallel logins spread over the three hosts ÷ B3's 64 parallel logins on SQLite.
fn section_f2(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    let csv_path = c.work.join("f2.csv");
    std::fs::write(&csv_path, s.par.iter().map(|u| format!("{u}\n")).collect::<String>()).map_err(|e| e.to_string())?;
    let flags = ["--keep-password", "--reusable", "--replace"];
    let sq = bulk_issue(c, "on", &csv_path, &flags)?;
    let pg = bulk_issue(c, "fleet-admin", &csv_path, &flags)?;
    // Login i on host i mod 3, through services of one kind (fleetburst, fleetonly).
    let x = hosts();
    let services = |kind: &str| -> Vec<String> {
        (0..pg.len())
            .map(|i| format!("tapbench-{kind}-{}", x[i % x.len()]))
            .collect()
    };
    let (burst, only) = (services("fleetburst"), services("fleetonly"));
    let (mut ratios, mut walls, mut walls_sq, mut failed, mut errors_sq) = (vec![], vec![], vec![], vec![], 0);
    for _ in 0..c.n(5).min(5) {
        let (w_sq, e_sq, _) = parallel_logins(c, "tapbench-taponly", &sq)?;
        let (w, f, _) = parallel_logins_on(c, &logins(&burst, &pg))?;
        errors_sq += e_sq;
        failed.extend(f);
        walls.push(w);
        walls_sq.push(w_sq);
        ratios.push(w / w_sq);
    }
    // One round more with the 2 s connect_timeout of F1 and F3.
    let (w_short, failed_short, _) = parallel_logins_on(c, &logins(&only, &pg))?;
    out.rows.push(Row {
        id: "F2",
        what: format!(
            "64 parallel logins over {} hosts (PostgreSQL, connect_timeout={BURST_CONNECT_TIMEOUT_S}) \
             ÷ 64 on SQLite (B3's logins)",
            x.len()
        ),
        measured: format!(
            "{:.2} ({:.0} / {:.0} ms), {} errors",
            median(&ratios),
            median(&walls),
            median(&walls_sq),
            failed.len()
        ),
        goal: "0 errors".into(),
        pass: Some(failed.is_empty() && errors_sq == 0),
    });
    out.rows.push(Row {
        id: "F2c",
        what: format!("one round of F2 with connect_timeout={CONNECT_TIMEOUT_S}"),
        measured: format!("{w_short:.0} ms, {} errors", failed_short.len()),
        goal: "(info)".into(),
        pass: None,
    });
    out.notes.push(format!(
        "F2: the 64 login processes, the three hosts and the server share {} cores; a host's connect \
         (TLS, SCRAM) waits behind the other logins' argon2id, so a burst needs a connect_timeout \
         longer than the burst keeps the cores busy (F2c: a login that waits it out is refused)",
        c.cores
    ));
    for (what, f) in [("F2", failed.first()), ("F2c", failed_short.first())] {
        if let Some(f) = f {
            out.notes
                .push(format!("{what}: a failed login printed: {}", f.replace('\n', " | ")));
        }
    }
    if errors_sq > 0 {
        out.notes.push(format!("F2: {errors_sq} of the SQLite logins failed"));
    }
    out.progress("F2 done");
    Ok(())
}

/// (service, user, pass) for pam_drive: login i through service i.
fn logins<'a>(services: &'a [String], passes: &'a [(String, String)]) -> Vec<(&'a str, &'a str, &'a str)> {
    services
        .iter()
        .zip(passes)
        .map(|(s, (u, p))| (s.as_str(), u.as_str(), p.as_str()))
        .collect()
}

/// A pass login through pam_tap alone; its wall ms and result code.
fn bare_pass_login(c: &Ctx, service: &str, pass: &str) -> R<(f64, String)> {
    let r = run(
        Command::new(c.pam_drive()).args([service, "tapb-one", "authenticate"]),
        &format!("{pass}\n"),
    )?;
    let code = r
        .stdout
        .split("result authenticate=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("(none)")
        .to_string();
    Ok((r.wall_ms, code))
}

/// F3: a password login of a user without a pass with the database down ÷ up (and stalled ÷ up).
fn section_f3(c: &Ctx, pg: &PgCluster, pg_pass: &str, out: &mut Out) -> R<()> {
    let login = |svc: &str| pamtester(svc, "tapb-nopass", PASSWORD).map(|r| r.wall_ms);
    let (mut up, mut down, mut refused) = (vec![], vec![], vec![]);
    // Stopping and starting the server takes seconds: rounds of logins up, then down.
    let per = c.n(8);
    for _ in 0..if c.quick { 2 } else { 4 } {
        for _ in 0..per {
            up.push(login("tapbench-fleet")?);
        }
        pg.stop("fast");
        let r = (|| {
            for _ in 0..per {
                down.push(login("tapbench-fleet")?);
            }
            refused.push(bare_pass_login(c, "tapbench-fleetbare-a", pg_pass)?);
            Ok::<_, String>(())
        })();
        pg.start();
        r?;
    }
    let (u, d) = (median(&up), median(&down));
    let bound = CONNECT_TIMEOUT_S as f64 * 1e3;
    out.rows.push(Row {
        id: "F3",
        what: "no-pass user's password login, pamtester: database stopped ÷ up".into(),
        measured: format!("{:.3} ({d:.1} / {u:.1} ms)", d / u),
        goal: format!("adds ≤ connect_timeout ({CONNECT_TIMEOUT_S} s)"),
        pass: Some(d - u <= bound),
    });
    let codes: Vec<&str> = refused.iter().map(|(_, code)| code.as_str()).collect();
    if codes.iter().any(|&code| code != "PAM_AUTHINFO_UNAVAIL") {
        return Err(format!("F3: a pass login with the database stopped gave {codes:?}"));
    }
    let refused_ms = median(&refused.iter().map(|(ms, _)| *ms).collect::<Vec<_>>());
    // Stalled: the login alternates with one against the live server (no restart in between).
    let (mut up, mut stalled) = (vec![], vec![]);
    for _ in 0..c.n(12) {
        up.push(login("tapbench-fleet")?);
        stalled.push(login("tapbench-fleet-stall")?);
    }
    let (u, st) = (median(&up), median(&stalled));
    let (stall_ms, stall_code) = bare_pass_login(c, "tapbench-fleetbare-stall", pg_pass)?;
    if stall_code != "PAM_AUTHINFO_UNAVAIL" {
        return Err(format!("F3s: a pass login with the database stalled gave {stall_code}"));
    }
    out.rows.push(Row {
        id: "F3s",
        what: "the same with the database stalled (accepts TCP, never answers) ÷ up".into(),
        measured: format!("{:.3} ({st:.1} / {u:.1} ms)", st / u),
        goal: format!("adds ≤ connect_timeout ({CONNECT_TIMEOUT_S} s)"),
        pass: Some(st - u <= bound),
    });
    out.notes.push(format!(
        "F3: an ordinary password never reaches the store (it is not pass-shaped), so the database's \
         state costs it nothing; the bound is libpq's connect_timeout={CONNECT_TIMEOUT_S} s, which only a \
         pass-shaped answer waits out: a pass login took {refused_ms:.0} ms with the server stopped \
         (connection refused) and {stall_ms:.0} ms with it stalled, both PAM_AUTHINFO_UNAVAIL"
    ));
    out.progress("F3 done");
    Ok(())
}
