//! `tapctl issue USER` and `tapctl issue --csv FILE`: what the operator is shown.

use crate::admin::{self, IssueRequest, Operator, Start};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::text;
use pam_tap_base::users::System;
use pam_tap_core::config::{self, Policy};
use pam_tap_store::admin::AdminStore;

use crate::admitted::{now, Admitted};
use crate::cli::IssueArgs;
use crate::render::json;
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
        collects: None,
    };
    if let Some(file) = &a.csv {
        // Read before the store is opened: the reader forks, and no connection may cross a fork.
        let csv = read_csv(op, file)?;
        let mut store = run.open_store()?;
        return issue_bulk(run, policy, &mut *store, &csv, &req, a.json);
    }
    let mut store = run.open_store()?;
    if policy.approval.enabled {
        text::check_request(&req.user, req.reason.as_deref())?;
        let acct = admin::target(&System, &req.user)?;
        if let Some(why) = admin::needs_approval(policy, op, &acct) {
            return super::approval::requested(run, &mut *store, &req, &why, a.json);
        }
    }
    let issued = admin::issue(&mut *store, policy, &System, op, &req, now())?;
    if issued.enroll_key {
        admin::keys::open_window(&*store, policy, &issued)?;
    }
    crate::render::print_issued(run, &issued, a.json)
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
