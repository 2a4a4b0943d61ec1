//! `tapctl issue USER` and `tapctl issue --csv FILE`: what the operator is shown.

use crate::admin::{self, IssueRequest, Operator, Start};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::passcode;
use pam_tap_base::users::System;
use pam_tap_core::config::{self, Policy};
use pam_tap_store::admin::AdminStore;

use crate::admitted::{now, Admitted};
use crate::cli::IssueArgs;
use crate::render::{json, local};
use crate::{as_user, bulk};

/// Largest CSV `issue --csv` reads.
const MAX_CSV_BYTES: u64 = 32 * 1024 * 1024;

pub fn run(run: &Admitted<'_>, a: &IssueArgs) -> Result<()> {
    let policy = run.policy()?;
    let op = run.operator();
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
        enroll_key: a.enroll_key,
    };
    if let Some(file) = &a.csv {
        // Read before the store is opened: the reader forks, and no connection may cross a fork.
        let csv = read_csv(op, file)?;
        let mut store = run.open_store()?;
        return issue_bulk(run, policy, &mut *store, &csv, &req, a.json);
    }
    let mut store = run.open_store()?;
    let issued = admin::issue(&mut *store, policy, &System, op, &req, now())?;
    if issued.enroll_key {
        admin::keys::open_window(&*store, policy, &issued)?;
    }
    if !policy.enabled {
        eprintln!(
            "tapctl: warning: enabled = false in {}: the pass works only once that is turned on",
            run.cli().config_path().display()
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
    if let Some(services) = &issued.services {
        println!("  services     {}", services.replace(',', ", "));
    }
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
    if issued.enroll_key {
        println!(
            "Next: on their own machine {0} makes a key (ssh-keygen -t ed25519, or -t ed25519-sk with a security key) and runs ssh {0}@HOST; the server asks for the pass once and enrolls that key. From then on the key logs in alone. Their password is unchanged.",
            issued.user
        );
    } else if issued.reset_on_use {
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
    run: &Admitted<'_>,
    policy: &Policy,
    store: &mut dyn AdminStore,
    csv: &str,
    defaults: &IssueRequest,
    as_json: bool,
) -> Result<()> {
    let rows = bulk::parse(csv)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let issued = bulk::issue(store, policy, &System, run.operator(), defaults, &rows, now(), threads)?;
    for i in issued.iter().filter(|i| i.enroll_key) {
        admin::keys::open_window(&*store, policy, i)?;
    }
    if !policy.enabled {
        eprintln!(
            "tapctl: warning: enabled = false in {}: the passes work only once that is turned on",
            run.cli().config_path().display()
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
