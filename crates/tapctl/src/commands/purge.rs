//! `tapctl purge`: the reset passes this host accepted are settled first (on a fleet host through
//! the host's own connection: a host role is enough), then the store's ended passes are deleted;
//! the fleet-wide part needs tapctl's admin role and is left to the admin host when this config's
//! role is a host's.

use crate::admin::Operator;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::users::System;
use pam_tap_core::config::{self, Database, Policy};
use pam_tap_store::postgres::PgStore;
use pam_tap_store::PassStore;

use crate::admitted::{now, Admitted};

pub fn run(run: &Admitted<'_>, older_than: &str) -> Result<()> {
    let (policy, op) = (run.policy()?, run.operator());
    let d = config::parse_duration(older_than).map_err(Error::Refused)?;
    if let Some(n) = settle_here(policy, op)? {
        println!("settled {n} reset pass(es) accepted on this host");
    }
    let mut store = match run.open_store() {
        Err(e) if is_host_role(&e) => {
            println!("the fleet's passes are purged by tapctl on the admin host (this config's role is a host's)");
            return Ok(());
        }
        opened => opened?,
    };
    let t = now();
    let settled = crate::shield::settle_all(&mut *store, &System, policy, t, &op.context());
    let gone = store.purge(t, t - d.as_secs() as i64, &op.context())?;
    println!("purged {} pass(es); the audit log is kept", gone.len());
    settled.map(|_| ())
}

/// Settles this host's store (crates/store/src/postgres/store/host_side.rs): a pass revoked, locked or
/// ended in the fleet has its reset undone or the account locked here. Returns how many passes
/// it settled; `None` when the config names no fleet store or this host never accepted a reset.
fn settle_here(policy: &Policy, op: &Operator) -> Result<Option<usize>> {
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
fn is_host_role(e: &Error) -> bool {
    matches!(e, Error::Refused(m) if m.contains(PgStore::HOST_ROLE_ONLY))
}
