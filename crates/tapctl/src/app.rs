//! tapctl's run: the command line parsed, the command table's answer, then the command.

use std::process::ExitCode;

use std::cell::OnceCell;

use clap::{CommandFactory, FromArgMatches};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::text;
use pam_tap_base::users::System;
use pam_tap_core::config::{self, Policy};
use pam_tap_store::admin::{self as store_admin, AdminStore, Admission};
use pam_tap_store::operator::Operator;

use crate::cli::{Cli, Command};
use crate::render::{json, print_log, print_views, show_view};
use crate::{admin, boundary, doctor, fleet_host, hosts_cmd, invoker, issue_cmd, migrate, unlock};

#[allow(clippy::disallowed_methods)] // tapctl's one clock
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A command the command table admitted: the command line, who runs it, and the policy in force
/// (read once: for an operator, already read to find their role).
pub struct Admitted<'a> {
    cli: &'a Cli,
    admission: Admission,
    policy: OnceCell<Policy>,
}

impl Admitted<'_> {
    pub fn cli(&self) -> &Cli {
        self.cli
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    pub fn operator(&self) -> &Operator {
        self.admission.operator()
    }

    /// The store the policy names, opened for this admitted command.
    pub fn open_store(&self) -> Result<Box<dyn AdminStore>> {
        let policy = self.policy()?;
        store_admin::open_admin(&policy.database, &policy.host_name, &self.admission)
    }

    /// The store the policy names, created or migrated (`tapctl init`).
    pub fn create_store(&self) -> Result<Box<dyn AdminStore>> {
        let policy = self.policy()?;
        store_admin::create_admin(&policy.database, &policy.host_name, &self.admission)
    }

    /// The policy in force: the one `--config` names (root only), else the system's.
    pub fn policy(&self) -> Result<&Policy> {
        if self.policy.get().is_none() {
            let _ = self.policy.set(Policy::load(self.cli.config_path())?);
        }
        self.policy
            .get()
            .ok_or_else(|| Error::Config("the policy could not be kept".into()))
    }
}

fn init(run: &Admitted<'_>) -> Result<()> {
    let cli = run.cli();
    use std::os::unix::fs::OpenOptionsExt;
    if !cli.config_path().exists() {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(cli.config_path())
            .map_err(|e| Error::Io(format!("creating {}: {e}", cli.config_path().display())))?;
        std::io::Write::write_all(&mut f, config::EXAMPLE.as_bytes()).map_err(|e| Error::Io(e.to_string()))?;
        println!(
            "wrote {} (enabled = false: turn it on once pam.d is wired)",
            cli.config_path().display()
        );
    }
    let policy = run.policy()?;
    let mut store = run.create_store()?;
    println!("database {} ready (schema {})", policy.database, store.version()?);
    Ok(())
}

/// Passes the command table, then runs the command. Nothing before the table's answer opens a
/// file an operator names, connects anywhere or writes a store: an operator's role is read from
/// the system policy and the name service only.
fn run(matches: &clap::ArgMatches, cli: &Cli) -> Result<()> {
    let req = boundary::request(
        &Cli::command(),
        matches,
        std::env::var_os(boundary::CONFIG_ENV).is_some(),
    );
    let policy = OnceCell::new();
    let who = invoker::current()?;
    let admission = boundary::admit(&req, &who, |_| {
        let p = Policy::load(cli.config_path())?;
        let op = admin::operator(&p, &System, &who);
        let _ = policy.set(p);
        op
    })?;
    let run = Admitted { cli, admission, policy };
    match &cli.command {
        Command::Init => init(&run),
        Command::Issue(a) => issue_cmd::issue(&run, a),
        Command::List { all, json: j } => {
            let policy = run.policy()?;
            let views = admin::list(&*run.open_store()?, policy, *all, now())?;
            if *j {
                json(&views)
            } else {
                print_views(&views);
                Ok(())
            }
        }
        Command::Show { user, json: j } => {
            let (policy, op) = (run.policy()?, run.operator());
            let mut store = run.open_store()?;
            crate::shield::settle_user(&mut *store, &System, policy, user, now(), &op.context())?;
            let v = admin::show(&*store, policy, user, now())?;
            if *j {
                json(&v)
            } else {
                show_view(&v);
                Ok(())
            }
        }
        Command::Revoke { user, reason, json: j } => {
            let (policy, op) = (run.policy()?, run.operator());
            let mut store = run.open_store()?;
            let r = admin::revoke(&mut *store, policy, &System, op, user, reason.as_deref(), now())?;
            if *j {
                return json(&serde_json::json!({"user": user, "pass_id": r.pass_id, "restored": r.restored}));
            }
            println!(
                "revoked pass {} of {user}{}",
                r.pass_id,
                if r.restored {
                    "; the account's previous password is back"
                } else {
                    ""
                }
            );
            if store.resets_at_accept() {
                println!(
                    "A host where the pass reset {user}'s password puts the previous one back at its next touch (a login attempt with a pass there, or tapctl purge run there)."
                );
            }
            Ok(())
        }
        Command::Unlock { user } => {
            let (policy, op) = (run.policy()?, run.operator());
            let mut store = run.open_store()?;
            let id = unlock::unlock(&mut *store, policy, &System, op, user, now())?;
            println!("unlocked pass {id} of {user}");
            Ok(())
        }
        Command::Purge { older_than } => purge(&run, older_than),
        Command::Log { user, json: j } => {
            let entries = run.open_store()?.log(user.as_deref())?;
            if *j {
                json(&entries)
            } else {
                print_log(&entries);
                Ok(())
            }
        }
        Command::Migrate { to } => {
            let policy = run.policy()?;
            migrate::migrate(policy, &System, run.admission(), to, now())
        }
        Command::Doctor { json: j, root } => {
            if doctor::run(cli.config_path(), root.as_deref(), *j, now()) != 0 {
                return Err(Error::Refused(
                    "doctor found problems that need fixing (FAIL above)".into(),
                ));
            }
            Ok(())
        }
        Command::Hosts { action } => hosts_cmd::hosts(&run, action),
        Command::Policy { json: j } => {
            let policy = run.policy()?;
            if *j {
                json(policy)
            } else {
                print!("{}", toml::to_string(policy).map_err(|e| Error::Io(e.to_string()))?);
                Ok(())
            }
        }
    }
}

/// `tapctl purge`: this host's fleet resets settled, then the store's ended passes deleted.
fn purge(run: &Admitted<'_>, older_than: &str) -> Result<()> {
    let (policy, op) = (run.policy()?, run.operator());
    let d = config::parse_duration(older_than).map_err(Error::Refused)?;
    if let Some(n) = fleet_host::settle_here(policy, op)? {
        println!("settled {n} reset pass(es) accepted on this host");
    }
    let mut store = match run.open_store() {
        Err(e) if fleet_host::is_host_role(&e) => {
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

/// tapctl's whole run; its exit status.
pub fn main() -> ExitCode {
    // A reader that goes away (`tapctl list | head -1`) ends tapctl as it ends any Unix filter,
    // quietly, instead of a panic on the write. A shadow change in flight holds SIGPIPE off with
    // the other signals until its commit (`crate::shield::Shield`).
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(&matches, &cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapctl: {}", text::shown(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
