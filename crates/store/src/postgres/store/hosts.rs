//! Which database role is which host (`pam_tap.hosts`): the binding every host function derives
//! the caller's host from (sql/postgresql/004_host_boundary.sql). Kept by tapctl as a
//! `pam_tap_admin` member; a role is bound only if it is a host's (a `pam_tap_host` member that is
//! no admin and may log in).

use serde::Serialize;

use super::PgStore;
use crate::{Context, Event};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::host_name::check_host_name;

/// PostgreSQL's longest name (NAMEDATALEN - 1).
const MAX_ROLE: usize = 63;

/// One binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostBinding {
    pub role: String,
    pub host: String,
}

fn check_role(role: &str) -> Result<()> {
    if role.is_empty() || role.len() > MAX_ROLE || role.chars().any(char::is_control) {
        return Err(Error::Refused(format!(
            "{role:?} is not a database role name (1 to {MAX_ROLE} bytes, no control characters)"
        )));
    }
    Ok(())
}

impl PgStore {
    /// Every binding, by role.
    pub fn host_bindings(&self) -> Result<Vec<HostBinding>> {
        self.conn
            .borrow_mut()
            .query("SELECT role_name, host_name FROM pam_tap.hosts ORDER BY role_name", &[])?
            .iter()
            .map(|r| {
                Ok(HostBinding {
                    role: r.get_str("role_name")?,
                    host: r.get_str("host_name")?,
                })
            })
            .collect()
    }

    /// Binds `role` to `host` (replacing its binding), audited.
    pub fn bind_host(&mut self, role: &str, host: &str, ctx: &Context) -> Result<()> {
        check_role(role)?;
        let host = check_host_name(host).map_err(Error::Refused)?;
        self.in_tx(|s| {
            let facts = s
                .one(
                    "SELECT pg_has_role(r.oid, 'pam_tap_host', 'MEMBER') AS host,
                            pg_has_role(r.oid, 'pam_tap_admin', 'MEMBER') AS admin, r.rolsuper AS sup,
                            r.rolcanlogin AS login
                       FROM pg_roles r WHERE r.rolname = $1",
                    &[Some(role)],
                )?
                .ok_or_else(|| Error::Refused(format!("there is no database role {role}")))?;
            if !facts.get_bool("host")? || facts.get_bool("admin")? || facts.get_bool("sup")? {
                return Err(Error::Refused(format!(
                    "{role} is not a host's role: it must be a pam_tap_host member, no pam_tap_admin member and no superuser"
                )));
            }
            if !facts.get_bool("login")? {
                return Err(Error::Refused(format!("{role} cannot log in: bind a host's login role")));
            }
            s.conn.get_mut().execute(
                "INSERT INTO pam_tap.hosts (role_name, host_name) VALUES ($1, $2)
                 ON CONFLICT (role_name) DO UPDATE SET host_name = excluded.host_name",
                &[Some(role), Some(&host)],
            )?;
            let now = s.db_now()?;
            let why = format!("database role {role} is host {host}");
            s.admin_audit(now, Event::HostBound, None, None, ctx, Some(&why))?;
            s.raise_clock(now)
        })
    }

    /// Removes `role`'s binding, audited: its host's logins with a pass stop.
    pub fn unbind_host(&mut self, role: &str, ctx: &Context) -> Result<String> {
        check_role(role)?;
        self.in_tx(|s| {
            let host = s
                .one(
                    "DELETE FROM pam_tap.hosts WHERE role_name = $1 RETURNING host_name",
                    &[Some(role)],
                )?
                .ok_or_else(|| Error::Refused(format!("{role} is bound to no host")))?
                .get_str("host_name")?;
            let now = s.db_now()?;
            let why = format!("database role {role} is no longer host {host}");
            s.admin_audit(now, Event::HostUnbound, None, None, ctx, Some(&why))?;
            s.raise_clock(now)?;
            Ok(host)
        })
    }
}
