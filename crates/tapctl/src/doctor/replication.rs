//! The fleet store's server and its standbys: one-time use survives a failover only when the
//! primary's commits wait for a standby. The module asks for that commit level in each of its
//! transactions (crates/store/src/postgres/store/tx.rs); whether a standby is there to wait for is
//! the server's configuration, read here.

use pam_tap_base::error::{Error, Result};
use pam_tap_store::postgres::PgConn;
use pam_tap_store::Conninfo;

use super::Check;

const C: &str = "failover";

/// What the connection shows of the server's place in replication.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replication {
    /// The server is a standby (read-only): a login's writes fail there.
    pub in_recovery: bool,
    /// Standbys streaming from it now (`pg_stat_replication` shows any role its rows).
    pub standbys: u32,
    /// `synchronous_standby_names`; empty when commits wait for no standby.
    pub synchronous_names: String,
    /// The URI lists more than one host.
    pub several_hosts: bool,
    /// The URI says `target_session_attrs=read-write` (or `primary`).
    pub asks_for_primary: bool,
}

pub fn facts(conn: &mut PgConn, conninfo: &Conninfo) -> Result<Replication> {
    let rows = conn.query(
        "SELECT pg_is_in_recovery() AS recovery,
                (SELECT count(*) FROM pg_stat_replication) AS standbys,
                current_setting('synchronous_standby_names') AS names",
        &[],
    )?;
    let row = rows.first().ok_or_else(|| Error::Store("no row".into()))?;
    let option = |k: &str| {
        conninfo
            .options()
            .ok()
            .and_then(|o| o.get(k))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    Ok(Replication {
        in_recovery: row.get_bool("recovery")?,
        standbys: u32::try_from(row.get_i64("standbys")?).unwrap_or(u32::MAX),
        synchronous_names: row.get_str("names")?,
        several_hosts: option("host").or(option("hostaddr")).is_some_and(|h| h.contains(',')),
        asks_for_primary: option("target_session_attrs").is_some_and(|v| v == "read-write" || v == "primary"),
    })
}

pub fn judge(r: &Replication) -> Check {
    if r.in_recovery {
        return Check::fail(
            C,
            "the store's server is a standby (read-only): every login with a pass fails",
            "name the primary in the URI, or list every server with target_session_attrs=read-write",
        );
    }
    if r.several_hosts && !r.asks_for_primary {
        return Check::warn(
            C,
            "the URI lists several servers without target_session_attrs=read-write: after a failover a host may connect to a standby and refuse every pass",
            "add target_session_attrs=read-write to the URI",
        );
    }
    let names = r.synchronous_names.trim();
    match (r.standbys, names.is_empty()) {
        (0, true) => Check::ok(C, "no standby streams from the store's server"),
        (0, false) => Check::warn(
            C,
            format!("synchronous_standby_names is '{names}' but no standby is connected: every commit waits, and logins with a pass fail after statement_timeout"),
            "bring a standby back, or clear synchronous_standby_names until one is",
        ),
        (n, true) => Check::warn(
            C,
            format!("{n} standby(s) stream from the store's server asynchronously: a pass used just before a failover can be used again on the promoted standby"),
            "set synchronous_standby_names on the primary (pam_tap's commits then wait for the standby to hold the use)",
        ),
        (n, false) => Check::ok(
            C,
            format!("commits wait for a synchronous standby ({n} streaming; synchronous_standby_names = '{names}')"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Level;

    fn primary(standbys: u32, names: &str) -> Replication {
        Replication {
            standbys,
            synchronous_names: names.into(),
            ..Replication::default()
        }
    }

    #[test]
    fn asynchronous_standbys_warn_and_synchronous_ones_pass() {
        assert_eq!(judge(&primary(0, "")).status, Level::Ok);
        let async_one = judge(&primary(1, ""));
        assert_eq!(async_one.status, Level::Warn);
        assert!(async_one.message.contains("used again"), "{}", async_one.message);
        assert_eq!(judge(&primary(1, "FIRST 1 (b)")).status, Level::Ok);
        assert_eq!(judge(&primary(0, "b")).status, Level::Warn);
    }

    #[test]
    fn a_standby_fails_and_several_servers_need_read_write() {
        let standby = Replication {
            in_recovery: true,
            ..primary(0, "")
        };
        assert_eq!(judge(&standby).status, Level::Fail);
        let listed = Replication {
            several_hosts: true,
            ..primary(1, "b")
        };
        assert_eq!(judge(&listed).status, Level::Warn);
        let read_write = Replication {
            asks_for_primary: true,
            ..listed
        };
        assert_eq!(judge(&read_write).status, Level::Ok);
    }
}
