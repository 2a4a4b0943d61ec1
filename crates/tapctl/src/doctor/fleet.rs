//! The fleet store (a `postgresql://` database): does the connection work under the module's
//! rules, is the transport a local socket or verified TLS, and what may the config's role do. A
//! role that can write the tables is an admin role: right for tapctl, a FAIL where this host's
//! PAM stacks run pam_tap, since a stolen host credential could then mint passes.
//!
//! The facts are read with one query each; the judging is pure ([`judge_transport`],
//! [`judge_role`]) so the tests feed it facts as text.

use super::*;
use pam_tap_base::error::Error;
use pam_tap_core::config::Conninfo;
use pam_tap_store::postgres::{schema, transport, ConnRole, PgConn};

const C: &str = "database";

/// How the connection reached the server, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    /// `inet_server_addr()`: `None` for a Unix socket.
    pub server_addr: Option<String>,
    /// TLS version in use, `None` without TLS.
    pub tls: Option<String>,
    /// The URI's `sslmode`, if it names one.
    pub sslmode: Option<String>,
}

/// What the config's role may do in the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleFacts {
    pub name: String,
    pub superuser: bool,
    pub admin_member: bool,
    /// Table privileges held, as `PRIVILEGE on TABLE`.
    pub table_privileges: Vec<String>,
    /// The `host_*` functions the role cannot execute.
    pub missing_functions: Vec<String>,
    /// `None` when the role may not read it (a host role reads no table).
    pub schema_version: Option<i64>,
    /// The host name the role is bound to in the store (`tapctl hosts bind`), if any.
    pub bound_to: Option<String>,
}

/// The host functions a module calls (their signatures as `to_regprocedure` reads them).
const HOST_FUNCTIONS: [&str; 9] = [
    "pam_tap.host_now()",
    "pam_tap.host_binding()",
    "pam_tap.host_latest(text)",
    "pam_tap.host_pass(bigint)",
    "pam_tap.host_accept(bigint,text,text)",
    "pam_tap.host_count_failure(bigint,text,text,integer,bigint)",
    "pam_tap.host_grace(bigint,bigint,text,text)",
    "pam_tap.host_note_time()",
    "pam_tap.host_audit(text,text,bigint,text,text,text)",
];

pub fn judge_transport(t: &Transport) -> Check {
    match (&t.server_addr, &t.tls) {
        (None, _) => Check::ok(C, "Unix socket: no network path to the store"),
        (Some(a), tls) if transport::is_local(a) => Check::ok(
            C,
            format!(
                "loopback ({a}): no network path to the store; TLS {}",
                tls.as_deref().unwrap_or("off")
            ),
        ),
        // The connection passed the module's rule, so its TLS was verified as the URI says.
        (Some(a), Some(v)) if t.sslmode.as_deref() == Some("verify-full") => Check::ok(
            C,
            format!("{v} to {a}, the server's certificate and name verified (sslmode=verify-full)"),
        ),
        (Some(a), Some(v)) => Check::warn(
            C,
            format!(
                "{v} to {a}, the certificate verified against the CA but not the server's name (sslmode={})",
                t.sslmode.as_deref().unwrap_or("?")
            ),
            "use sslmode=verify-full in the URI",
        ),
        (Some(a), None) => Check::fail(
            C,
            format!("{a} reached without TLS"),
            "add sslmode=verify-full&sslrootcert=FILE to the URI",
        ),
    }
}

/// The privileges held, the one that matters most first: `INSERT on passes (and 14 more)`.
fn held(privileges: &[String]) -> String {
    let first = privileges
        .iter()
        .find(|p| *p == "INSERT on passes")
        .unwrap_or(&privileges[0]);
    match privileges.len() {
        1 => first.clone(),
        n => format!("{first} (and {} more table privileges)", n - 1),
    }
}

/// The role's privileges, judged. `wired`: this host's PAM stacks run pam_tap, so the module
/// connects with this role.
pub fn judge_role(r: &RoleFacts, wired: bool) -> Check {
    const R: &str = "database role";
    let name = &r.name;
    if r.superuser {
        return Check::fail(
            R,
            format!("{name} is a PostgreSQL superuser: whoever reads this config owns the store"),
            "connect as a member of pam_tap_host (hosts) or pam_tap_admin (tapctl)",
        );
    }
    if let Some(v) = r.schema_version.filter(|&v| v != schema::SCHEMA_VERSION) {
        return Check::fail(
            R,
            format!(
                "the store has schema version {v}, this pam_tap needs {}: every pass is refused",
                schema::SCHEMA_VERSION
            ),
            "tapctl init (as a pam_tap_admin member; roles.sql first)",
        );
    }
    if !r.table_privileges.is_empty() {
        let what = held(&r.table_privileges);
        if wired {
            return Check::fail(
                R,
                format!(
                    "{name} holds {what}, and pam_tap runs in this host's PAM stacks with it: a stolen host credential could mint passes"
                ),
                "give this host a login role IN ROLE pam_tap_host only (sql/postgresql/roles.sql); keep admin roles to tapctl",
            );
        }
        let kind = if r.admin_member {
            "an admin role (pam_tap_admin)"
        } else {
            "a role with table privileges"
        };
        return Check::ok(
            R,
            format!("{name} is {kind}: for tapctl; no PAM stack here uses pam_tap with it"),
        );
    }
    if !r.missing_functions.is_empty() {
        return Check::fail(
            R,
            format!(
                "{name} may not execute {}: every pass is refused",
                r.missing_functions.join(", ")
            ),
            format!("GRANT pam_tap_host TO {name}"),
        );
    }
    Check::ok(
        R,
        format!("{name} is a host role: it may call the host_* functions and read or write no table"),
    )
}

fn transport_facts(conn: &mut PgConn, conninfo: &Conninfo) -> pam_tap_base::error::Result<Transport> {
    let rows = conn.query(
        "SELECT host(inet_server_addr()) AS addr,
                (SELECT CASE WHEN s.ssl THEN s.version END FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()) AS tls",
        &[],
    )?;
    let row = rows.first().ok_or_else(|| Error::Store("no row".into()))?;
    Ok(Transport {
        server_addr: row.get_opt_str("addr")?,
        tls: row.get_opt_str("tls")?,
        // libpq's reading of the URI (the connection was made, so it parsed).
        sslmode: conninfo
            .options()
            .ok()
            .and_then(|o| o.get("sslmode"))
            .map(|v| String::from_utf8_lossy(v).into_owned()),
    })
}

fn function_name(signature: &str) -> String {
    signature.split('(').next().unwrap_or(signature).to_string()
}

fn role_facts(conn: &mut PgConn) -> pam_tap_base::error::Result<RoleFacts> {
    let rows = conn.query(
        "SELECT current_user AS me,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
                coalesce(CASE WHEN to_regrole('pam_tap_admin') IS NOT NULL
                              THEN pg_has_role(current_user, 'pam_tap_admin', 'USAGE') END, false) AS admin,
                to_regnamespace('pam_tap') IS NOT NULL AS schema,
                coalesce(CASE WHEN to_regnamespace('pam_tap') IS NOT NULL
                              THEN has_schema_privilege('pam_tap', 'USAGE') END, false) AS usage",
        &[],
    )?;
    let row = rows.first().ok_or_else(|| Error::Store("no row".into()))?;
    let mut facts = RoleFacts {
        name: row.get_str("me")?,
        superuser: row.get_bool("superuser")?,
        admin_member: row.get_bool("admin")?,
        ..RoleFacts::default()
    };
    if !row.get_bool("usage")? {
        // Nothing in the schema is reachable (or there is no schema yet).
        facts.missing_functions = HOST_FUNCTIONS.iter().map(|f| function_name(f)).collect();
        facts.schema_version = (!row.get_bool("schema")?).then_some(0);
        return Ok(facts);
    }
    for r in conn.query(
        "SELECT p.priv || ' on ' || t.tbl AS held
           FROM unnest(ARRAY['passes', 'audit', 'meta']) AS t(tbl),
                unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(priv)
          WHERE has_table_privilege(to_regclass('pam_tap.' || t.tbl), p.priv)
          ORDER BY t.tbl, p.priv",
        &[],
    )? {
        facts.table_privileges.push(r.get_str("held")?);
    }
    for f in HOST_FUNCTIONS {
        let r = conn.query(
            "SELECT coalesce(has_function_privilege(to_regprocedure($1), 'EXECUTE'), false) AS may",
            &[Some(f)],
        )?;
        if !r.first().map_or(Ok(false), |r| r.get_bool("may"))? {
            facts
                .missing_functions
                .push(f.split('(').next().unwrap_or(f).to_string());
        }
    }
    // The schema version through the store's own reader (0 without a schema); a host role may
    // not read it, and its missing functions tell the same story.
    facts.schema_version = schema::version(conn).ok();
    if facts.missing_functions.is_empty() {
        let r = conn.query("SELECT pam_tap.host_binding() AS host", &[])?;
        facts.bound_to = r.first().map_or(Ok(None), |r| r.get_opt_str("host"))?;
    }
    Ok(facts)
}

/// One line: libpq's messages run over several.
fn one_line(e: &Error) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A host role's binding against the config's `host_name`: the database acts for the host the
/// role is bound to, whatever the config says. `None` for a role that is no host's.
pub fn judge_binding(r: &RoleFacts, host_name: &str) -> Option<Check> {
    const B: &str = "host binding";
    if r.superuser || r.admin_member || !r.table_privileges.is_empty() || !r.missing_functions.is_empty() {
        return None;
    }
    let name = &r.name;
    Some(match r.bound_to.as_deref() {
        None => Check::fail(
            B,
            format!("{name} is bound to no host in the store: every pass is refused here"),
            format!("tapctl hosts bind {name} {host_name} (on the admin host)"),
        ),
        Some(h) if h.eq_ignore_ascii_case(host_name) => {
            Check::ok(B, format!("{name} is host {h} in the store, as host_name says"))
        }
        Some(h) => Check::fail(
            B,
            format!(
                "{name} is host {h} in the store but host_name is {host_name}: the store acts for {h}, passes scoped to {host_name} are refused here"
            ),
            format!("tapctl hosts bind {name} {host_name} (on the admin host), or set host_name = \"{h}\""),
        ),
    })
}

/// Connects as the config says (the module's transport and environment rules) and checks the
/// transport and the role.
pub(super) fn check_fleet_store(conninfo: &Conninfo, host_name: &str, wired: bool, out: &mut Vec<Check>) {
    let mut conn = match PgConn::connect(conninfo, ConnRole::Admin) {
        Ok(c) => c,
        Err(e @ Error::UnsafeConnection(_)) => {
            out.push(Check::fail(
                C,
                format!("{}: the module refuses this store, every pass is refused", one_line(&e)),
                "add sslmode=verify-full&sslrootcert=/ABSOLUTE/FILE (or use a Unix socket) in the URI; every file it names is an absolute path",
            ));
            return;
        }
        Err(e) => {
            out.push(Check::fail(
                C,
                format!("{}: every pass is refused (password logins still work)", one_line(&e)),
                "check the URI, the server, pg_hba.conf and the role's password (passfile=)",
            ));
            return;
        }
    };
    match transport_facts(&mut conn, conninfo) {
        Ok(t) => out.push(judge_transport(&t)),
        Err(e) => out.push(Check::fail(
            C,
            format!("{conninfo}: {}", one_line(&e)),
            "check the server's logs",
        )),
    }
    match super::replication::facts(&mut conn, conninfo) {
        Ok(r) => out.push(super::replication::judge(&r)),
        Err(e) => out.push(Check::fail(
            "failover",
            format!("reading the server's replication: {}", one_line(&e)),
            "check the server's logs",
        )),
    }
    match role_facts(&mut conn) {
        Ok(r) => {
            out.push(judge_role(&r, wired));
            out.extend(judge_binding(&r, host_name));
        }
        Err(e) => out.push(Check::fail(
            "database role",
            format!("reading the role's privileges: {}", one_line(&e)),
            "check the server's logs",
        )),
    }
}

/// Whether any of the stacks doctor reads runs pam_tap.
pub(super) fn pam_tap_wired(opts: &Options) -> bool {
    let pam_dir = opts.path("/etc/pam.d");
    SERVICES.iter().any(|service| {
        ["auth", "password"]
            .iter()
            .any(|kind| stack(&pam_dir, service, kind).is_ok_and(|l| l.iter().any(|x| x.module_name() == "pam_tap.so")))
    })
}

#[cfg(test)]
mod tests;
