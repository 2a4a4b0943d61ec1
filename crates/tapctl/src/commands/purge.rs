//! `tapctl purge` on a fleet host: the reset passes this host accepted are settled here, through
//! the host's own connection (a host role is enough), before the fleet-wide purge, which needs
//! tapctl's admin role and is left to the admin host when this config's role is a host's.

use crate::admin::Operator;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::users::System;
use pam_tap_core::config::{Database, Policy};
use pam_tap_store::postgres::PgStore;
use pam_tap_store::PassStore;

/// Settles this host's store (crates/store/src/postgres/store/host_side.rs): a pass revoked, locked or
/// ended in the fleet has its reset undone or the account locked here. Returns how many passes
/// it settled; `None` when the config names no fleet store or this host never accepted a reset.
pub fn settle_here(policy: &Policy, op: &Operator) -> Result<Option<usize>> {
    let Database::Postgres(conninfo) = &policy.database else {
        return Ok(None);
    };
    if !policy.host_store.exists() {
        return Ok(None);
    }
    let mut store = PgStore::open(conninfo, &policy.host_store, policy.fleet)?;
    // The database's clock decides, as at a login.
    let now = store.effective_now(0)?;
    crate::shield::settle_all(&mut store, &System, policy, now, &op.context()).map(Some)
}

/// Whether opening the fleet store as tapctl failed because this config's role is a host's.
pub fn is_host_role(e: &Error) -> bool {
    matches!(e, Error::Refused(m) if m.contains(PgStore::HOST_ROLE_ONLY))
}
