//! Bulk issue (`tapctl issue --csv FILE`): one pass per CSV row (the format is in [`rows`]), with
//! the same checks as a single issue, hashed on every core, committed in one transaction: all rows
//! or none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::admin::{self, CheckedIssue, IssueRequest, Issued, Minted, Operator};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::users::Directory;
use pam_tap_core::config::{parse_duration, Policy};
use pam_tap_core::reset;
use pam_tap_store::admin::{AdminStore, Batch};

use crate::progress::Progress;

pub mod rows;
pub use rows::{parse, Row};

/// The error `e` of a row, naming the row, its line and its user.
fn at_row(n: usize, row: &Row, e: Error) -> Error {
    let at = format!("row {} (line {}, user {})", n + 1, row.line, row.user);
    match e {
        Error::Refused(m) => Error::Refused(format!("{at}: {m}; nothing was issued")),
        Error::Io(m) => Error::Io(format!("{at}: {m}; nothing was issued")),
        Error::Lookup(m) => Error::Lookup(format!("{at}: {m}; nothing was issued")),
        Error::Store(m) => Error::Store(format!("{at}: {m}; nothing was issued")),
        Error::Hash(m) => Error::Hash(format!("{at}: {m}; nothing was issued")),
        other => other,
    }
}

/// Mints every pass on `threads` threads. Stops at the first error.
fn mint_all(
    checked: &[CheckedIssue],
    policy: &Policy,
    threads: usize,
    progress: &Progress,
) -> std::result::Result<Vec<Minted>, (usize, Error)> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Minted>>> = checked.iter().map(|_| Mutex::new(None)).collect();
    let first_err: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, checked.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= checked.len() || stop.load(Ordering::Relaxed) {
                    break;
                }
                match admin::mint(&checked[i], policy) {
                    Ok(m) => {
                        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(m);
                        progress.step();
                    }
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        let mut fe = first_err.lock().unwrap_or_else(|p| p.into_inner());
                        if fe.as_ref().is_none_or(|(j, _)| i < *j) {
                            *fe = Some((i, e));
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every slot minted when no error")
        })
        .collect())
}

/// Issues one pass per row, each checked exactly as `tapctl issue` checks one (roles, eligibility,
/// lifetime, live pass), with `defaults` standing for the command line. All or nothing: the first
/// bad row stops everything before any hashing or writing, and names the row.
#[allow(clippy::too_many_arguments)]
pub fn issue(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    defaults: &IssueRequest,
    rows: &[Row],
    now: i64,
    threads: usize,
) -> Result<Vec<Issued>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (n, row) in rows.iter().enumerate() {
        if let Some(first) = seen.insert(row.user.as_str(), n) {
            return Err(at_row(
                n,
                row,
                Error::Refused(format!("{} is also in row {}", row.user, first + 1)),
            ));
        }
    }
    for row in rows {
        crate::shield::settle_user(store, dir, policy, &row.user, now, &op.context())?;
    }
    let mut checked = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let req = IssueRequest {
            user: row.user.clone(),
            lifetime: match &row.lifetime {
                Some(l) => Some(parse_duration(l).map_err(|e| at_row(n, row, Error::Refused(e)))?),
                None => defaults.lifetime,
            },
            one_time: row.one_time.or(defaults.one_time),
            reason: row.reason.clone().or_else(|| defaults.reason.clone()),
            hosts: if row.hosts.is_empty() {
                defaults.hosts.clone()
            } else {
                row.hosts.clone()
            },
            ..defaults.clone()
        };
        let mut c = admin::check_issue(policy, dir, op, &req).map_err(|e| at_row(n, row, e))?;
        c.fit_to_store(store);
        checked.push(c);
    }
    let progress = Progress::on_terminal(checked.len());
    let minted = mint_all(&checked, policy, threads, &progress);
    progress.finish();
    let minted = minted.map_err(|(n, e)| at_row(n, &rows[n], e))?;
    let names: Vec<&str> = checked.iter().map(|c| c.user()).collect();
    let ctx = op.context();
    // Rows first, marked pending and audited, then the shadow resets (crates/core/src/reset.rs).
    let _shield = crate::shield::Shield::hold();
    let owner = pam_tap_base::process::owner();
    let batch = Batch {
        users: &names,
        now,
        ctx: &ctx,
        owner: &owner,
    };
    let done = store.insert_pending(&batch, &mut |n, latest, eff_now| {
        let shadow = dir.shadow(names[n]).map_err(|e| at_row(n, &rows[n], e))?;
        admin::plan_row(
            policy,
            op,
            &checked[n],
            &minted[n],
            now,
            latest,
            eff_now,
            shadow.as_ref(),
        )
        .map_err(|e| at_row(n, &rows[n], e))
    })?;
    reset::put_in_place(store, dir, policy, &done, now, &ctx)?;
    // Replaced passes' resets; a failure is retried at the next touch (the passes must be shown).
    for name in &names {
        let _ = reset::settle_user(store, dir, policy, name, now, &ctx);
    }
    Ok(checked
        .into_iter()
        .zip(minted)
        .zip(done)
        .map(|((c, m), (id, new))| admin::issued(op, c, m, id, &new))
        .collect())
}

/// The issued passes as CSV with a header, one row per pass (times RFC 3339 UTC); fields are
/// quoted where they need it (a comma, a quote, a line break).
pub fn to_csv(issued: &[Issued]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "user",
        "pass",
        "pass_id",
        "starts_at",
        "expires_at",
        "one_time",
        "reset_password",
        "operator",
        "note",
    ];
    let mut rows = vec![header.map(String::from)];
    for i in issued {
        rows.push([
            i.user.clone(),
            i.pass.to_string(),
            i.pass_id.to_string(),
            admin::rfc3339(i.starts_at),
            admin::rfc3339(i.expires_at),
            i.one_time.to_string(),
            i.reset_password.to_string(),
            i.operator.clone(),
            i.note.clone().unwrap_or_default(),
        ]);
    }
    for row in &rows {
        out.write_record(row).expect("writing to memory cannot fail");
    }
    String::from_utf8(out.into_inner().expect("flushing to memory cannot fail")).expect("UTF-8 fields in, UTF-8 out")
}

#[cfg(test)]
mod tests;
