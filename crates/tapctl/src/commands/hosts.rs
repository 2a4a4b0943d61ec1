//! `tapctl hosts list|bind|unbind`: which database role is which fleet host.

use pam_tap_base::error::{Error, Result};
use pam_tap_base::text;
use pam_tap_store::postgres::PgStore;

use crate::admitted::Admitted;
use crate::cli::HostsAction;
use crate::render::json;

/// Runs `f` on the fleet store the policy names; a SQLite store has no host bindings.
fn on_fleet<T>(run: &Admitted<'_>, f: impl FnOnce(&mut PgStore) -> Result<T>) -> Result<T> {
    let mut store = run.open_store()?;
    match store.fleet() {
        Some(pg) => f(pg),
        None => Err(Error::Refused(
            "the config names a SQLite store: host bindings belong to a PostgreSQL store".into(),
        )),
    }
}

pub fn run(run: &Admitted<'_>, action: &HostsAction) -> Result<()> {
    let ctx = run.operator().context();
    match action {
        HostsAction::List { json: j } => {
            let bindings = on_fleet(run, |pg| pg.host_bindings())?;
            if *j {
                return json(&bindings);
            }
            println!("{:<32} HOST", "DATABASE ROLE");
            for b in bindings {
                println!("{:<32} {}", text::shown(&b.role), text::shown(&b.host));
            }
            Ok(())
        }
        HostsAction::Bind { role, host } => {
            on_fleet(run, |pg| pg.bind_host(role, host, &ctx))?;
            println!(
                "database role {} is host {} in the fleet store",
                text::shown(role),
                text::shown(host)
            );
            Ok(())
        }
        HostsAction::Unbind { role } => {
            let host = on_fleet(run, |pg| pg.unbind_host(role, &ctx))?;
            println!(
                "database role {} is no longer host {}: its logins with a pass stop",
                text::shown(role),
                text::shown(&host)
            );
            Ok(())
        }
    }
}
