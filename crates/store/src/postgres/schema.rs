//! The PostgreSQL schema, as versioned migrations shipped in `sql/postgresql/` (append a file,
//! never edit one), applied by `tapctl init` in one transaction as `pam_tap_admin`, then the
//! privileges (`grants.sql`) applied again. `meta.schema_version` records how far it went.

use super::conn::PgConn;
use pam_tap_base::error::{Error, Result};

/// Run once by a superuser: the group roles `pam_tap_admin` and `pam_tap_host`.
pub const ROLES_SQL: &str = include_str!("../../../../sql/postgresql/roles.sql");

const MIGRATIONS: &[&str] = &[
    include_str!("../../../../sql/postgresql/001_tables.sql"),
    include_str!("../../../../sql/postgresql/002_host_functions.sql"),
    include_str!("../../../../sql/postgresql/003_fleet_handoff.sql"),
    include_str!("../../../../sql/postgresql/004_host_boundary.sql"),
    include_str!("../../../../sql/postgresql/005_keys.sql"),
    include_str!("../../../../sql/postgresql/006_approval.sql"),
    include_str!("../../../../sql/postgresql/007_key_uids.sql"),
];

const GRANTS: &str = include_str!("../../../../sql/postgresql/grants.sql");

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Serialises concurrent `tapctl init` runs (any constant, the same in every build).
const INIT_LOCK: i64 = 0x0070_616d_5f74_6170;

/// The store's schema version; 0 when there is no schema yet.
pub fn version(conn: &mut PgConn) -> Result<i64> {
    let present = conn.query("SELECT to_regclass('pam_tap.meta') IS NOT NULL AS present", &[])?;
    if !present.first().map_or(Ok(false), |r| r.get_bool("present"))? {
        return Ok(0);
    }
    let rows = conn.query("SELECT value AS v FROM pam_tap.meta WHERE key = 'schema_version'", &[])?;
    rows.first().map_or(Ok(0), |r| r.get_i64("v"))
}

fn check_roles(conn: &mut PgConn) -> Result<()> {
    let rows = conn.query(
        "SELECT count(*) AS n, current_user AS me,
                coalesce(bool_or(rolname = 'pam_tap_admin' AND pg_has_role(current_user, oid, 'MEMBER')), false) AS admin
           FROM pg_roles WHERE rolname IN ('pam_tap_admin', 'pam_tap_host')",
        &[],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Store("pg_roles returned nothing".into()))?;
    if row.get_i64("n")? != 2 {
        return Err(Error::Refused(
            "the roles pam_tap_admin and pam_tap_host do not exist: run sql/postgresql/roles.sql as a \
             PostgreSQL superuser in this database first (psql -d DATABASE -f roles.sql)"
                .into(),
        ));
    }
    if !row.get_bool("admin")? {
        return Err(Error::Refused(format!(
            "the database role {} is not a member of pam_tap_admin: GRANT pam_tap_admin TO {0}",
            row.get_str("me")?
        )));
    }
    Ok(())
}

fn migrate(conn: &mut PgConn) -> Result<i64> {
    conn.batch("SET LOCAL ROLE pam_tap_admin")?;
    conn.query("SELECT pg_advisory_xact_lock($1)", &[Some(&INIT_LOCK.to_string())])?;
    conn.batch("CREATE SCHEMA IF NOT EXISTS pam_tap AUTHORIZATION pam_tap_admin")?;
    let from = version(conn)?;
    if from > SCHEMA_VERSION {
        return Err(Error::Store(format!(
            "the store has schema version {from}, newer than this pam_tap ({SCHEMA_VERSION})"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        conn.batch(sql)?;
        conn.execute(
            "INSERT INTO pam_tap.meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[Some(&(i as i64 + 1).to_string())],
        )?;
    }
    conn.batch(GRANTS)?;
    Ok(SCHEMA_VERSION)
}

/// Creates or migrates the schema (for `tapctl init`, connected as a `pam_tap_admin` member), all
/// or nothing; returns the schema version now in place.
pub fn init(conn: &mut PgConn) -> Result<i64> {
    check_roles(conn)?;
    conn.begin()?;
    match migrate(conn) {
        Ok(v) => {
            conn.commit()?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.rollback();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Status, DEAD_AFTER};

    #[test]
    fn the_host_functions_use_the_same_ceiling_as_the_sqlite_store() {
        assert!(MIGRATIONS[3].contains(&format!("r.total_failures >= {DEAD_AFTER}")));
        assert!(MIGRATIONS[3].contains(&format!("%s of {DEAD_AFTER} in all")));
    }

    #[test]
    fn every_host_function_is_security_definer_with_a_fixed_search_path_and_granted() {
        // The host functions in place after every migration: definitions in order, drops removing.
        let mut live: Vec<String> = Vec::new();
        for sql in MIGRATIONS {
            for stmt in sql.split(';') {
                let stmt = stmt.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION");
                if let Some(rest) = stmt.split("DROP FUNCTION pam_tap.").nth(1) {
                    let name = &rest[..rest.find('(').unwrap()];
                    live.retain(|n| n != name);
                }
            }
            for f in sql
                .replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION")
                .split("CREATE FUNCTION pam_tap.")
                .skip(1)
            {
                let name = &f[..f.find('(').unwrap()];
                let header = &f[..f.find("AS $$").unwrap()];
                assert!(header.contains("SET search_path = pam_tap, pg_temp"), "{name}");
                if name.starts_with("host_") {
                    assert!(header.contains("SECURITY DEFINER"), "{name}");
                    if !live.iter().any(|n| n == name) {
                        live.push(name.to_string());
                    }
                }
            }
        }
        assert_eq!(live.len(), 11, "{live:?}");
        let granted: Vec<&str> = GRANTS
            .split("pam_tap.")
            .skip(1)
            .filter(|g| g.starts_with("host_"))
            .filter_map(|g| g.split_once('(').map(|(name, _)| name))
            .filter(|name| !name.contains(char::is_whitespace))
            .collect();
        let mut want = live.clone();
        want.sort();
        let mut got: Vec<String> = granted.iter().map(|s| s.to_string()).collect();
        got.sort();
        assert_eq!(got, want, "the host functions granted are exactly the live ones");
        // sshd's keys command may call keys_for and nothing else.
        let keys_grants: Vec<&str> = GRANTS
            .lines()
            .filter(|l| l.contains("TO pam_tap_keys") && l.contains("EXECUTE"))
            .collect();
        assert_eq!(
            keys_grants,
            ["        GRANT EXECUTE ON FUNCTION pam_tap.keys_for(text, bigint, text) TO pam_tap_keys;"]
        );
        for sql in [MIGRATIONS[4], MIGRATIONS[6]] {
            let keys_for = &sql[sql.find("CREATE FUNCTION pam_tap.keys_for").unwrap()..];
            assert!(keys_for[..keys_for.find("AS $$").unwrap()].contains("SECURITY DEFINER"));
        }
    }

    #[test]
    fn the_store_judges_a_pass_as_the_module_does() {
        // pass_status's branches in PassRecord::status's order.
        let sql = MIGRATIONS[3];
        let body = &sql[sql.find("FUNCTION pam_tap.pass_status").unwrap()..];
        let order = [
            "revoked",
            "'used'",
            "'locked'",
            "'expired'",
            "'not_yet_valid'",
            "'resting'",
            "'usable'",
        ];
        let at: Vec<usize> = order.iter().map(|w| body.find(w).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        for s in [
            Status::Revoked,
            Status::Used,
            Status::Locked,
            Status::Expired,
            Status::NotYetValid,
            Status::Resting,
            Status::Usable,
        ] {
            assert!(body.contains(&format!("'{}'", s.as_str())), "{s:?}");
            assert_eq!(Status::from_word(s.as_str()), Some(s));
        }
    }
}
