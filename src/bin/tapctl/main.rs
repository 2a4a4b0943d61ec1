//! tapctl: the issuing CLI of pam_tap. Its command line, rendering, bulk issue, doctor and the
//! operator's front door live here, beside it, so that none of them is linked into pam_tap.so.

mod as_user;
mod boundary;
mod bulk;
/// The command line, also `include!`d by examples/gen_docs.rs for the man page and completions.
mod cli;
mod doctor;
mod fleet_host;
mod migrate;
mod progress;
mod render;
mod unlock;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, IssueArgs};
use pam_tap::admin::{self, IssueRequest, Operator, Start};
use pam_tap::config::{self, Policy};
use pam_tap::error::{Error, Result};
use pam_tap::passcode;
use pam_tap::reset;
use pam_tap::store::{AdminStore, AnyStore, PassStore};
use pam_tap::users::System;
use pam_tap::{invoker, text};
use render::{json, local, print_log, print_views, show_view};

/// Largest CSV `issue --csv` reads.
const MAX_CSV_BYTES: u64 = 32 * 1024 * 1024;

#[allow(clippy::disallowed_methods)] // tapctl's one clock
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn load(cli: &Cli) -> Result<Policy> {
    Policy::load(cli.config_path())
}

fn operator(policy: &Policy) -> Result<Operator> {
    admin::operator(policy, &System, &invoker::current()?)
}

fn init(cli: &Cli) -> Result<()> {
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
    let policy = load(cli)?;
    let mut store = AnyStore::create_admin(&policy)?;
    println!("database {} ready (schema {})", policy.database, store.version()?);
    Ok(())
}

fn issue(cli: &Cli, a: &IssueArgs) -> Result<()> {
    let policy = load(cli)?;
    let op = operator(&policy)?;
    let lifetime = a
        .lifetime
        .as_deref()
        .map(config::parse_duration)
        .transpose()
        .map_err(Error::Refused)?;
    let start = a
        .start
        .as_deref()
        .map(Start::parse)
        .transpose()
        .map_err(Error::Refused)?;
    let req = IssueRequest {
        user: a.user.clone().unwrap_or_default(),
        lifetime,
        start,
        one_time: if a.one_time {
            Some(true)
        } else if a.reusable {
            Some(false)
        } else {
            None
        },
        length: a.length,
        replace: a.replace,
        keep_password: a.keep_password,
        reason: a.reason.clone(),
        services: a.services.clone(),
        hosts: a.hosts.clone(),
    };
    if let Some(file) = &a.csv {
        // Read before the store is opened: the reader forks, and no connection may cross a fork.
        let csv = read_csv(&op, file)?;
        return issue_bulk(
            cli,
            &policy,
            &op,
            &mut AnyStore::open_admin(&policy)?,
            &csv,
            &req,
            a.json,
        );
    }
    let mut store = AnyStore::open_admin(&policy)?;
    let issued = admin::issue(&mut store, &policy, &System, &op, &req, now())?;
    if !policy.enabled {
        eprintln!(
            "tapctl: warning: enabled = false in {}: the pass works only once that is turned on",
            cli.config_path().display()
        );
    }
    if let Some(note) = &issued.note {
        eprintln!("tapctl: note: {note}");
    }
    if a.json {
        return json(&issued);
    }
    println!("Temporary Access Pass for {} (pass {}):", issued.user, issued.pass_id);
    println!();
    println!("    {}", passcode::grouped(&issued.pass).as_str());
    println!();
    println!("  valid from   {}", local(issued.starts_at));
    println!("  valid until  {}", local(issued.expires_at));
    if let Some(hosts) = &issued.hosts {
        println!("  hosts        {}", hosts.replace(',', ", "));
    }
    println!(
        "  one-time     {}",
        if issued.one_time {
            "yes"
        } else {
            "no (reusable until it expires)"
        }
    );
    println!();
    println!(
        "This is the only time the pass is shown: give it to {} through a trusted channel.",
        issued.user
    );
    println!("It is not case-sensitive; dashes and spaces are ignored.");
    if issued.reset_on_use {
        println!(
            "Next: {} logs in with it and is asked at once to choose a new password. On the host where the pass is used, their old password stops working then.",
            issued.user
        );
    } else if issued.reset_password {
        println!(
            "Next: {} logs in with it and is asked at once to choose a new password. Their old password no longer works.",
            issued.user
        );
    } else {
        println!(
            "Next: {} logs in with it; their password is unchanged and no change is forced.",
            issued.user
        );
    }
    Ok(())
}

fn issue_bulk(
    cli: &Cli,
    policy: &Policy,
    op: &Operator,
    store: &mut AnyStore,
    csv: &str,
    defaults: &IssueRequest,
    as_json: bool,
) -> Result<()> {
    let rows = bulk::parse(csv)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let issued = bulk::issue(store, policy, &System, op, defaults, &rows, now(), threads)?;
    if !policy.enabled {
        eprintln!(
            "tapctl: warning: enabled = false in {}: the passes work only once that is turned on",
            cli.config_path().display()
        );
    }
    for i in &issued {
        if let Some(note) = &i.note {
            eprintln!("tapctl: note: {note}");
        }
    }
    eprintln!(
        "tapctl: issued {} passes; this output is the only time they are shown",
        issued.len()
    );
    if as_json {
        return json(&issued);
    }
    print!("{}", bulk::to_csv(&issued));
    Ok(())
}

/// The CSV of `issue --csv FILE`: standard input for `-`, else FILE read with the operator's own
/// rights (see `as_user`). Errors never quote the file's content.
fn read_csv(op: &Operator, file: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let bytes = if file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .take(MAX_CSV_BYTES + 1)
            .read_to_end(&mut b)
            .map_err(|e| Error::Io(format!("standard input: {e}")))?;
        b
    } else {
        as_user::read_as(&op.name, file, MAX_CSV_BYTES + 1)?
    };
    if bytes.len() as u64 > MAX_CSV_BYTES {
        return Err(Error::Refused(format!(
            "{} is larger than {MAX_CSV_BYTES} bytes",
            file.display()
        )));
    }
    String::from_utf8(bytes).map_err(|_| Error::Refused(format!("{} is not UTF-8 text", file.display())))
}

fn run(cli: &Cli) -> Result<()> {
    boundary::admit(
        cli,
        &invoker::current()?,
        std::env::var_os(boundary::CONFIG_ENV).is_some(),
    )?;
    match &cli.command {
        Command::Init => {
            // SAFETY: getuid cannot fail.
            if unsafe { libc::getuid() } != 0 {
                return Err(Error::Refused("tapctl init must run as root".into()));
            }
            init(cli)
        }
        Command::Issue(a) => issue(cli, a),
        Command::List { all, json: j } => {
            let policy = load(cli)?;
            operator(&policy)?;
            let views = admin::list(&AnyStore::open_admin(&policy)?, &policy, *all, now())?;
            if *j {
                json(&views)
            } else {
                print_views(&views);
                Ok(())
            }
        }
        Command::Show { user, json: j } => {
            let policy = load(cli)?;
            let op = operator(&policy)?;
            let mut store = AnyStore::open_admin(&policy)?;
            reset::settle_cli(&mut store, &System, &policy, user, now(), &op.context())?;
            let v = admin::show(&store, &policy, user, now())?;
            if *j {
                json(&v)
            } else {
                show_view(&v);
                Ok(())
            }
        }
        Command::Revoke { user, reason, json: j } => {
            let policy = load(cli)?;
            let op = operator(&policy)?;
            let mut store = AnyStore::open_admin(&policy)?;
            let r = admin::revoke(&mut store, &policy, &System, &op, user, reason.as_deref(), now())?;
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
            let policy = load(cli)?;
            let op = operator(&policy)?;
            let mut store = AnyStore::open_admin(&policy)?;
            let id = unlock::unlock(&mut store, &policy, &System, &op, user, now())?;
            println!("unlocked pass {id} of {user}");
            Ok(())
        }
        Command::Purge { older_than } => {
            let policy = load(cli)?;
            let op = operator(&policy)?;
            admin::require_privileged(&op, "purge")?;
            let d = config::parse_duration(older_than).map_err(Error::Refused)?;
            if let Some(n) = fleet_host::settle_here(&policy, &op)? {
                println!("settled {n} reset pass(es) accepted on this host");
            }
            let mut store = match AnyStore::open_admin(&policy) {
                Err(e) if fleet_host::is_host_role(&e) => {
                    println!(
                        "the fleet's passes are purged by tapctl on the admin host (this config's role is a host's)"
                    );
                    return Ok(());
                }
                opened => opened?,
            };
            let t = now();
            let settled = reset::settle_cli_all(&mut store, &System, &policy, t, &op.context());
            let gone = store.purge(t, t - d.as_secs() as i64, &op.context())?;
            println!("purged {} pass(es); the audit log is kept", gone.len());
            settled.map(|_| ())
        }
        Command::Log { user, json: j } => {
            let policy = load(cli)?;
            operator(&policy)?;
            let entries = AnyStore::open_admin(&policy)?.log(user.as_deref())?;
            if *j {
                json(&entries)
            } else {
                print_log(&entries);
                Ok(())
            }
        }
        Command::Migrate { to } => {
            // SAFETY: getuid cannot fail.
            if unsafe { libc::getuid() } != 0 {
                return Err(Error::Refused("tapctl migrate must run as root".into()));
            }
            let policy = load(cli)?;
            migrate::migrate(&policy, &System, &operator(&policy)?, to, now())
        }
        Command::Doctor { json: j, root } => {
            if doctor::run(cli.config_path(), root.as_deref(), *j, now()) != 0 {
                return Err(Error::Refused(
                    "doctor found problems that need fixing (FAIL above)".into(),
                ));
            }
            Ok(())
        }
        Command::Policy { json: j } => {
            let policy = load(cli)?;
            if *j {
                json(&policy)
            } else {
                print!("{}", toml::to_string(&policy).map_err(|e| Error::Io(e.to_string()))?);
                Ok(())
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapctl: {}", text::shown(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
