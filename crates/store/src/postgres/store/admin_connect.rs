//! tapctl's connection to the fleet store, as a `pam_tap_admin` member: opened only on a schema of
//! this build's version, or creating and migrating it (`tapctl init`). A host's role is told why it
//! cannot be tapctl's.

use super::PgStore;
use crate::admin::Admission;
use crate::database::Conninfo;
use crate::postgres::conn::{ConnRole, PgConn};
use crate::postgres::schema;
use pam_tap_base::error::{Error, Result};

impl PgStore {
    /// Part of the refusal of a host's role by [`PgStore::open_admin`] (tapctl purge on a host
    /// tells it apart).
    pub const HOST_ROLE_ONLY: &'static str = "a host's role may only call the host_* functions";

    /// Connects as tapctl (a `pam_tap_admin` member) to a store whose schema is this build's.
    pub fn open_admin(conninfo: &Conninfo, _admitted: &Admission) -> Result<Self> {
        let mut conn = PgConn::connect(conninfo, ConnRole::Admin)?;
        let v = schema::version(&mut conn).map_err(|e| match e {
            Error::Store(m) if m.contains("SQLSTATE 42501") => Error::Refused(format!(
                "{conninfo}: the database role may not read the store's tables: tapctl connects as a \
                 pam_tap_admin member ({})",
                Self::HOST_ROLE_ONLY
            )),
            e => e,
        })?;
        if v != schema::SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "{conninfo} has schema version {v}, this pam_tap needs {}: run `tapctl init`",
                schema::SCHEMA_VERSION
            )));
        }
        Ok(Self::with_conn(conn))
    }

    /// Connects as tapctl and creates or migrates the schema (`tapctl init`).
    pub fn create_admin(conninfo: &Conninfo, _admitted: &Admission) -> Result<Self> {
        let mut conn = PgConn::connect(conninfo, ConnRole::Admin)?;
        schema::init(&mut conn)?;
        Ok(Self::with_conn(conn))
    }
}
