//! `tapctl migrate --to postgresql://…`: the site outgrew one machine. Copies the SQLite store the
//! config names into an empty PostgreSQL store (initialised first if it has no schema), all or
//! nothing; then the admin points `database` at it.
//!
//! A reset pass whose shadow change still matters cannot move: the change lives in this host's
//! /etc/shadow, and the fleet store does not hold reset passes. Dead ones are settled first (as
//! `tapctl purge` does); live ones are named, to be revoked or finished. Nor can an open request
//! for a pass (two-person approval): requests are not copied, their audit rows are.

use pam_tap_base::error::{Error, Result};
use pam_tap_base::users::Directory;
use pam_tap_core::config::{Conninfo, Policy};
use pam_tap_store::admin::Admission;
use pam_tap_store::postgres::PgStore;
use pam_tap_store::{PassStore, SqliteStore};

use crate::admitted::{now, Admitted};

/// The users holding reset passes that cannot move yet, named once each, in pass order.
pub fn blocking_users(open: &[pam_tap_store::PassRecord]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in open {
        if !names.contains(&r.user) {
            names.push(r.user.clone());
        }
    }
    names
}

/// A failed copy says that the transaction left the PostgreSQL store as it was.
fn nothing_copied(e: Error) -> Error {
    match e {
        Error::Store(m) => Error::Store(format!("{m}; nothing was copied")),
        Error::Refused(m) => Error::Refused(format!("{m}; nothing was copied")),
        Error::Io(m) => Error::Io(format!("{m}; nothing was copied")),
        other => other,
    }
}

pub fn run(run: &Admitted<'_>, to: &str) -> Result<()> {
    migrate(run.policy()?, &pam_tap_base::users::System, run.admission(), to, now())
}

/// Copies the policy's SQLite store into the store at `to`; prints what it copied.
fn migrate(policy: &Policy, dir: &dyn Directory, admitted: &Admission, to: &str, now: i64) -> Result<()> {
    let op = admitted.operator();
    let target = Conninfo::new(to)?;
    let path = policy.database.sqlite_path().map_err(|_| {
        Error::Refused(format!(
            "the config already names a PostgreSQL store ({}): migrate copies a SQLite store",
            policy.database
        ))
    })?;
    let mut local = SqliteStore::open(path)?;
    crate::shield::settle_all(&mut local, dir, policy, now, &op.context())?;
    let open = PassStore::open_resets(&local, None)?;
    if !open.is_empty() {
        return Err(Error::Refused(format!(
            "reset passes still in force for {}: their password change lives in this host's shadow file; \
             revoke or let them finish first (tapctl revoke USER), then migrate",
            blocking_users(&open).join(", ")
        )));
    }
    // Requests for a pass are not copied (their audit rows are): an open one would vanish.
    local.lapse_requests(now, &op.context())?;
    let requests = local.open_requests()?;
    if !requests.is_empty() {
        let ids: Vec<String> = requests.iter().map(|r| r.id.to_string()).collect();
        return Err(Error::Refused(format!(
            "requests for a pass still open ({}): decide and collect them, or let them lapse, then migrate",
            ids.join(", ")
        )));
    }
    // The keys passes enrolled here move with them (the fleet store keeps its keys itself).
    let keys = crate::admin::keys::local_keys(policy)?;
    let mut fleet = PgStore::create_admin(&target, admitted)?;
    let copied = local
        .export(|rows| {
            // Checked again inside the snapshot: an issue may have run since.
            let open: Vec<_> = rows
                .passes
                .iter()
                .filter(|r| r.reset_password && !r.derive_key.is_empty())
                .cloned()
                .collect();
            if !open.is_empty() {
                return Err(Error::Refused(format!(
                    "reset passes still in force for {}: revoke or let them finish first, then migrate",
                    blocking_users(&open).join(", ")
                )));
            }
            fleet.import(&rows.passes, &rows.audit, &keys, rows.clock, &policy.host_name)
        })
        .map_err(nothing_copied)?;
    println!(
        "copied {} pass(es) (ids kept), {} audit row(s) and {} enrolled SSH key(s) from {} into {target}; clock mark {}",
        copied.passes,
        copied.audit_rows,
        copied.keys,
        path.display(),
        crate::admin::rfc3339(copied.clock)
    );
    if copied.shadow_left_out > 0 {
        println!(
            "the previous password hashes of {} settled reset pass(es) stay in {} only",
            copied.shadow_left_out,
            path.display()
        );
    }
    println!(
        "next: set database = \"<that URI>\" in the config of this host (and give every host its own \
         pam_tap_host role); until then logins here still use {}",
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_blocking_user_is_named_once() {
        let rec = |id, user: &str| pam_tap_store::PassRecord {
            id,
            user: user.into(),
            ..Default::default()
        };
        let names = blocking_users(&[rec(1, "ann"), rec(2, "bob"), rec(3, "ann")]);
        assert_eq!(names, ["ann", "bob"]);
    }
}
