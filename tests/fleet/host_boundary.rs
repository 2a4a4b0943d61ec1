//! The fleet database is the fleet's boundary: each host function called directly, as a host's
//! own login role (psql, no pam_tap in between), with hostile arguments — another host's pass, a
//! pass of another service, an id it never accepted, another user's name, an event it may not
//! write, a row lock another host holds — gets PostgreSQL's refusal or a bounded wait, and what it
//! may do names the host its role is bound to, never one it claims.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::site::fleet;
use crate::support::accounts::User;
use crate::support::pg_cluster::psql_uri;
use crate::support::site::Site;

/// `sql` as host `role` over its own login; (success, stdout, stderr).
fn as_host(f: &Site, role: &str, sql: &str) -> (bool, String, String) {
    as_host_in(f, f.database(), role, sql)
}

/// `sql` as `role` must be refused with PostgreSQL's own error naming `needle`.
fn refused(f: &Site, role: &str, sql: &str, needle: &str) {
    let (ok, out, err) = as_host(f, role, sql);
    assert!(!ok, "{role} may run {sql}: {out}");
    assert!(err.contains(needle), "{sql}: {err}");
}

fn audit_rows(f: &Site, id: i64) -> String {
    f.psql(&format!(
        "SELECT string_agg(event || '@' || coalesce(host, '-') || '/' || coalesce(db_role, '-'), ' ' ORDER BY id)
           FROM pam_tap.audit WHERE pass_id = {id} AND event <> 'issued'"
    ))
}

#[test]
fn a_host_role_reads_only_its_own_passes_hashes_and_never_a_derive_key() {
    require_root!();
    let f = fleet("");
    let (mine, theirs) = (User::new(), User::new());
    f.issue_keeping(&mine.name, &["--reusable"]);
    f.issue_keeping(&theirs.name, &["--reusable", "--host", "host-b"]);
    let cols = "SELECT string_agg(attname, ',') FROM pg_attribute
                 WHERE attrelid = 'pam_tap.host_view'::regclass AND attnum > 0";
    let view = f.psql(cols);
    assert!(
        !view.contains("derive_key") && !view.contains("shadow") && !view.contains("reason"),
        "{view}"
    );
    let row = |user: &str| {
        as_host(
            &f,
            "host_a",
            &format!("SELECT hash IS NOT NULL, in_scope FROM pam_tap.host_latest('{user}')"),
        )
    };
    assert_eq!(row(&mine.name).1, "t|t");
    assert_eq!(row(&theirs.name).1, "f|f", "host-a read host-b's pass's hash");
    let theirs_id = f.newest_id(&theirs.name);
    // A pass it never accepted, by id: refused, whatever the id.
    refused(
        &f,
        "host_a",
        &format!("SELECT * FROM pam_tap.host_pass({theirs_id})"),
        "was not accepted by host_a",
    );
    refused(
        &f,
        "host_a",
        "SELECT * FROM pam_tap.host_pass(999999)",
        "was not accepted",
    );
    // The old functions that took any id are gone.
    for old in ["host_lock(1)", "host_mark_used(1)", "host_last_use(1)"] {
        refused(&f, "host_a", &format!("SELECT pam_tap.{old}"), "does not exist");
    }
}

#[test]
fn a_host_role_cannot_use_count_or_audit_another_hosts_or_services_pass() {
    require_root!();
    let f = fleet("");
    let (b_user, svc_user) = (User::new(), User::new());
    f.issue_keeping(&b_user.name, &["--reusable", "--host", "host-b"]);
    f.issue_keeping(&svc_user.name, &["--reusable", "--service", "only-b"]);
    let (b, svc) = (f.newest_id(&b_user.name), f.newest_id(&svc_user.name));
    let not_for_a = "is not for host host-a";
    refused(
        &f,
        "host_a",
        &format!("SELECT * FROM pam_tap.host_accept({b}, 'full-a', NULL)"),
        not_for_a,
    );
    refused(
        &f,
        "host_a",
        &format!("SELECT * FROM pam_tap.host_accept({svc}, 'full-a', NULL)"),
        "at service full-a",
    );
    let hundred = format!(
        "SELECT count(*) FROM generate_series(1, 100), pam_tap.host_count_failure({b}, 'full-a', NULL, 5, 900)"
    );
    refused(&f, "host_a", &hundred, not_for_a);
    refused(
        &f,
        "host_a",
        &format!("SELECT * FROM pam_tap.host_grace({b}, 0, 'full-a', NULL)"),
        not_for_a,
    );
    assert_eq!(
        f.psql(&format!(
            "SELECT used_at IS NULL, failures, total_failures FROM pam_tap.passes WHERE id = {b}"
        )),
        "t|0|0"
    );
    assert_eq!(audit_rows(&f, b), "", "a refused call wrote no audit row");
    // The host the pass is for counts a failure there; the database writes the row, naming it.
    let (ok, out, err) = as_host(
        &f,
        "host_b",
        &format!("SELECT state FROM pam_tap.host_count_failure({b}, 'full-b', NULL, 5, 900)"),
    );
    assert!(ok, "{err}");
    assert_eq!(out, "failed");
    assert_eq!(audit_rows(&f, b), "failed@host-b/host_b");
}

#[test]
fn a_host_role_writes_audit_rows_only_as_its_own_host_and_only_of_its_kinds() {
    require_root!();
    let f = fleet("");
    let (u, v) = (User::new(), User::new());
    f.issue_keeping(&u.name, &["--reusable"]);
    f.issue_keeping(&v.name, &["--reusable"]);
    let id = f.newest_id(&u.name);
    host_audit_refuses_what_host_a_may_not_write(&f, id, &u.name, &v.name);
    let (ok, _, err) = as_host(
        &f,
        "host_a",
        &format!(
            "SELECT pam_tap.host_audit('refused', '{}', {id}, 'x', NULL, 'why')",
            u.name
        ),
    );
    assert!(ok, "{err}");
    assert_eq!(audit_rows(&f, id), "refused@host-a/host_a");
    // tapctl log shows which role wrote each row.
    let log = f.tapctl(&["log", &u.name]);
    let text = String::from_utf8_lossy(&log.stdout);
    assert!(text.contains("host=host-a db_role=host_a"), "{text}");
}

/// host_audit, called as host_a about `user`'s pass `id`, refuses: a host to write as, the events
/// a login does not write, another user's (`other`'s) name, and reset or grace rows for a pass
/// host_a never accepted.
fn host_audit_refuses_what_host_a_may_not_write(f: &Site, id: i64, user: &str, other: &str) {
    // No host parameter exists to lie with.
    refused(
        f,
        "host_a",
        &format!("SELECT pam_tap.host_audit('refused', '{user}', {id}, NULL, NULL, NULL, 'host-b')",),
        "does not exist",
    );
    for ev in ["issued", "used", "failed", "revoked", "host_bound"] {
        refused(
            f,
            "host_a",
            &format!("SELECT pam_tap.host_audit('{ev}', '{user}', {id}, NULL, NULL, NULL)",),
            &format!("does not write {ev}"),
        );
    }
    // A pass is audited under its own user only; a reset or grace row only by the host that
    // accepted it.
    refused(
        f,
        "host_a",
        &format!("SELECT pam_tap.host_audit('refused', '{other}', {id}, NULL, NULL, NULL)",),
        "is not a pass of",
    );
    for ev in ["reset", "grace_used"] {
        refused(
            f,
            "host_a",
            &format!("SELECT pam_tap.host_audit('{ev}', '{user}', {id}, NULL, NULL, NULL)",),
            "was not accepted by host_a",
        );
    }
}

#[test]
fn a_role_bound_to_no_host_acts_as_none_and_binding_is_roots() {
    require_root!();
    let f = fleet("");
    let u = User::new();
    let pass = f.issue_keeping(&u.name, &["--reusable"]).pass;
    let out = f.tapctl(&["hosts", "unbind", "host_c"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    refused(
        &f,
        "host_c",
        &format!("SELECT * FROM pam_tap.host_latest('{}')", u.name),
        "bound to no host",
    );
    // Through the module: refused, the pass untouched.
    let run = f.auth("only-c", &u.name, &pass);
    assert_eq!(run.auth(), "PAM_AUTHINFO_UNAVAIL", "{run:?}");
    // Only a host's role can be bound: not the admin role, not a role that does not exist.
    for (role, why) in [
        ("tapctl_admin", "is not a host's role"),
        ("nobody_here", "no database role"),
    ] {
        let out = f.tapctl(&["hosts", "bind", role, "host-x"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{out:?}");
    }
    let out = f.tapctl(&["hosts", "bind", "host_c", "host-c"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(f.auth("only-c", &u.name, &pass).auth(), "PAM_SUCCESS");
    let list = f.tapctl(&["hosts", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    assert_eq!(
        f.psql("SELECT string_agg(event, ' ' ORDER BY id) FROM pam_tap.audit WHERE event LIKE 'host_%'"),
        "host_bound host_bound host_bound host_unbound host_bound"
    );
}

#[test]
fn a_held_row_lock_costs_other_hosts_a_bounded_wait() {
    require_root!();
    let f = fleet("");
    let u = User::new();
    let pass = f.issue_keeping(&u.name, &["--reusable"]).pass;
    let id = f.newest_id(&u.name);
    let (mut holder, stdin) = host_b_holds_the_row_lock(&f, id);
    let waiting = |who: &str| {
        f.psql(&format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.usename = '{who}'"
        ))
    };
    // A hostile or careless session of host-a asking no lock_timeout: the database bounds it.
    let t = Instant::now();
    refused(
        &f,
        "host_a",
        &format!("SELECT * FROM pam_tap.host_accept({id}, 'full-a', NULL)"),
        "lock timeout",
    );
    let direct = t.elapsed();
    assert!(
        direct >= Duration::from_secs(9) && direct < Duration::from_secs(14),
        "{direct:?}"
    );
    assert_eq!(waiting("host_a"), "0");
    // The module on host-a, with its configured lock_timeout (3 s): refused, fast.
    let t = Instant::now();
    let run = f.auth("only-a", &u.name, &pass);
    let module = t.elapsed();
    assert_eq!(run.auth(), "PAM_AUTHINFO_UNAVAIL", "{run:?}");
    assert!(module < Duration::from_secs(6), "{module:?}");
    // The holder's session ends (its server process would sleep on past its client's death).
    f.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'host_b'");
    let _ = holder.kill();
    let _ = holder.wait();
    drop(stdin);
    println!(
        "FIGURE fleet_held_lock: direct_call_wait_ms={} module_login_ms={}",
        direct.as_millis(),
        module.as_millis()
    );
    // Once the holder is gone the pass works on host-a again.
    assert_eq!(f.auth("only-a", &u.name, &pass).auth(), "PAM_SUCCESS");
}

/// host-b accepts pass `id` and keeps its transaction open (psql waits on its standard input,
/// which stays open until the holder is killed): the row stays locked. Returns once the holder
/// sleeps in it.
fn host_b_holds_the_row_lock(f: &Site, id: i64) -> (std::process::Child, std::process::ChildStdin) {
    let mut holder = Command::new("/usr/lib/postgresql/15/bin/psql")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(f.cluster().uri("host_b", f.database()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    {
        use std::io::Write;
        writeln!(
            stdin,
            "BEGIN; SELECT status FROM pam_tap.host_accept({id}, 'full-b', NULL);"
        )
        .unwrap();
        writeln!(stdin, "SELECT pg_sleep(40);").unwrap();
    }
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'host_b' AND query LIKE '%pg_sleep%'";
    let started = Instant::now();
    while f.psql(sleeping) != "1" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "host-b never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (holder, stdin)
}

#[test]
fn a_store_upgraded_to_the_boundary_keeps_who_accepted_what() {
    require_root!();
    let f = fleet("");
    // A store as schema 3 left it: one pass, used on host-a (the audit's db_role says who).
    let db = f.cluster().new_database();
    let sql = |file: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("sql/postgresql")
                .join(file),
        )
        .unwrap()
    };
    f.cluster().superuser_sql(
        &db,
        &format!(
            "BEGIN; SET LOCAL ROLE pam_tap_admin; CREATE SCHEMA pam_tap AUTHORIZATION pam_tap_admin;\n{}\n{}\n{}\n\
             INSERT INTO pam_tap.meta (key, value) VALUES ('schema_version', 3);\n\
             INSERT INTO pam_tap.passes (id, user_name, uid, hash, derive_key, created_at, starts_at, expires_at,
                 one_time, reset_password, issued_by, used_at, use_count)
             VALUES (7, 'ann', 1000, 'h', '\\x00', 1, 1, 4102444800, true, true, 'root', 2, 1);\n\
             INSERT INTO pam_tap.audit (at, event, user_name, pass_id, host, db_role)
             VALUES (2, 'used', 'ann', 7, 'host-a', 'host_a'), (3, 'used', 'ann', 7, 'host-b', NULL);\n\
             COMMIT;",
            sql("001_tables.sql"),
            sql("002_host_functions.sql"),
            sql("003_fleet_handoff.sql")
        ),
    );
    let config = f.dir.join("upgrade.toml");
    std::fs::write(
        &config,
        format!(
            "enabled = true\ndatabase = \"{}\"\n",
            f.cluster().uri("tapctl_admin", &db)
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = f.tapctl_on(&config, &["init"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        f.cluster()
            .query(&db, "SELECT pass_id, role_name FROM pam_tap.acceptances"),
        "7|host_a",
        "a row whose writer is unknown gives no one the pass"
    );
    let out = f.tapctl_on(&config, &["hosts", "bind", "host_a", "host-a"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (ok, row, err) = as_host_in(&f, &db, "host_a", "SELECT user_name FROM pam_tap.host_pass(7)");
    assert!(ok, "{err}");
    assert_eq!(row, "ann");
}

fn as_host_in(f: &Site, db: &str, role: &str, sql: &str) -> (bool, String, String) {
    let out: Output = psql_uri(&f.cluster().uri(role, db), sql);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}
