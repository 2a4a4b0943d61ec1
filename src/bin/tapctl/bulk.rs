//! Bulk issue (`tapctl issue --csv FILE`): one pass per CSV row, with the same checks as a single
//! issue, hashed on every core, committed in one transaction: all rows or none.
//!
//! The CSV has one row per user. An optional header names the columns (`user`, `lifetime`,
//! `one_time`, `reason`, `host`, in any order); without one they are positional, `user[,lifetime,
//! one_time,reason]`, and further unquoted commas belong to the reason. `host` (header only) holds
//! the hosts the pass is scoped to, separated by spaces or `;`. Fields may be quoted the RFC 4180
//! way. Empty fields take the command line's value (`--lifetime`, `--one-time`/`--reusable`,
//! `--reason`), then the policy's. Blank lines and lines starting with `#` are skipped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use pam_tap::admin::{self, CheckedIssue, IssueRequest, Issued, Minted, Operator};
use pam_tap::config::{parse_duration, Policy};
use pam_tap::error::{Error, Result};
use pam_tap::reset;
use pam_tap::store::AdminStore;
use pam_tap::text;
use pam_tap::users::{self, Directory};

use crate::progress::Progress;

/// Most rows one file may hold.
pub const MAX_ROWS: usize = 100_000;

/// One data row of the CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line in the file, for error messages.
    pub line: usize,
    pub user: String,
    pub lifetime: Option<String>,
    pub one_time: Option<bool>,
    pub reason: Option<String>,
    /// The `host` column: host names (empty: the command line's `--host`).
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    User,
    Lifetime,
    OneTime,
    Reason,
    Host,
}

const POSITIONAL: [Column; 4] = [Column::User, Column::Lifetime, Column::OneTime, Column::Reason];

/// The reader of an uploaded CSV: no fixed header (one is recognised by its first cell), rows of
/// any width (checked against the header below), `#` comments and a UTF-8 BOM dropped. Fields are
/// trimmed in [`fields`], after the line-break check.
fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes())
}

/// The fields of one record. A field may not run across lines: the file is read a line per row,
/// and a quote left open would otherwise swallow the rest of the file into one field.
fn fields(record: &csv::StringRecord, lineno: usize) -> Result<Vec<String>> {
    if record.iter().any(|f| f.contains(['\n', '\r'])) {
        return Err(Error::Refused(format!(
            "line {lineno}: unterminated quote (a field may not run across lines)"
        )));
    }
    Ok(record.iter().map(|f| f.trim().to_string()).collect())
}

fn one_time_value(v: &str, lineno: usize) -> Result<Option<bool>> {
    match v.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "yes" | "true" | "1" | "one-time" | "one_time" => Ok(Some(true)),
        "no" | "false" | "0" | "reusable" => Ok(Some(false)),
        _ => Err(Error::Refused(format!(
            "line {lineno}: one_time is not yes/no, true/false or empty"
        ))),
    }
}

/// Parses the CSV text into rows. Errors name the line.
pub fn parse(text: &str) -> Result<Vec<Row>> {
    let mut columns: Option<Vec<Column>> = None;
    let mut rows = Vec::new();
    for record in reader(text).records() {
        // Text in, so the reader's only error is a bad record; its message quotes no field.
        let record = record.map_err(|e| {
            let at = e.position().map_or(0, csv::Position::line);
            Error::Refused(format!("line {at}: not a CSV row"))
        })?;
        // Counted here: the reader's own count and position lag behind blank lines and CRLFs it
        // has skipped; a record never starts with a line break, so skip those to its first byte.
        let mut first = record.position().map_or(0, |p| p.byte() as usize).min(text.len());
        first += text.as_bytes()[first..]
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        let lineno = 1 + text.as_bytes()[..first].iter().filter(|&&b| b == b'\n').count();
        let f = fields(&record, lineno)?;
        // A line of spaces, or a comment after leading spaces (the reader sees only column 0).
        if f.iter().all(String::is_empty) || f[0].starts_with('#') {
            continue;
        }
        if columns.is_none() && rows.is_empty() && f[0].eq_ignore_ascii_case("user") {
            let mut cols = Vec::new();
            for name in &f {
                let c = match name.to_ascii_lowercase().as_str() {
                    "user" => Column::User,
                    "lifetime" => Column::Lifetime,
                    "one_time" => Column::OneTime,
                    "reason" => Column::Reason,
                    "host" => Column::Host,
                    _ => {
                        return Err(Error::Refused(format!(
                            "line {lineno}: unknown column (columns: user, lifetime, one_time, reason, host)"
                        )))
                    }
                };
                if cols.contains(&c) {
                    return Err(Error::Refused(format!(
                        "line {lineno}: column `{}` twice",
                        name.to_ascii_lowercase()
                    )));
                }
                cols.push(c);
            }
            columns = Some(cols);
            continue;
        }
        let mut f = f;
        let cols: &[Column] = match &columns {
            Some(c) => {
                if f.len() > c.len() {
                    return Err(Error::Refused(format!(
                        "line {lineno}: {} fields, the header names {}",
                        f.len(),
                        c.len()
                    )));
                }
                c
            }
            None => {
                // Unquoted commas after the third field belong to the reason.
                if f.len() > POSITIONAL.len() {
                    let rest = f.split_off(POSITIONAL.len() - 1).join(",");
                    f.push(rest);
                }
                &POSITIONAL
            }
        };
        let mut row = Row {
            line: lineno,
            user: String::new(),
            lifetime: None,
            one_time: None,
            reason: None,
            hosts: Vec::new(),
        };
        for (c, v) in cols.iter().zip(f) {
            let opt = (!v.is_empty()).then(|| v.clone());
            match c {
                Column::User => row.user = v,
                Column::Lifetime => row.lifetime = opt,
                Column::OneTime => row.one_time = one_time_value(&v, lineno)?,
                Column::Reason => row.reason = opt,
                Column::Host => {
                    row.hosts = v
                        .split([' ', ';'])
                        .filter(|h| !h.is_empty())
                        .map(String::from)
                        .collect()
                }
            }
        }
        if row.user.is_empty() {
            return Err(Error::Refused(format!("line {lineno}: no user")));
        }
        check_row(&row)?;
        rows.push(row);
        if rows.len() > MAX_ROWS {
            return Err(Error::Refused(format!("more than {MAX_ROWS} rows: split the file")));
        }
    }
    if rows.is_empty() {
        return Err(Error::Refused("the CSV holds no rows".into()));
    }
    Ok(rows)
}

/// The checks of a row that need no name service. The file may not be the operator's own (a
/// mistake, or an attempt to make tapctl read a secret), so no message quotes a field other than
/// a user name that passed [`users::plausible_name`].
fn check_row(row: &Row) -> Result<()> {
    let line = row.line;
    if !users::plausible_name(&row.user) || !text::is_clean(&row.user) {
        return Err(Error::Refused(format!(
            "line {line}: the user field is not a valid user name"
        )));
    }
    if row.lifetime.as_deref().is_some_and(|l| parse_duration(l).is_err()) {
        return Err(Error::Refused(format!(
            "line {line}: the lifetime is not a duration like 10m, 1h or 15d"
        )));
    }
    if admin::host_scope(&row.hosts).is_err() {
        return Err(Error::Refused(format!(
            "line {line}: the host field is not a list of host names"
        )));
    }
    text::check_reason(&format!("line {line}: the reason"), row.reason.as_deref())
}

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
pub fn issue<S: AdminStore>(
    store: &mut S,
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
        reset::settle_cli(store, dir, policy, &row.user, now, &op.context())?;
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
    // Rows first, marked pending and audited, then the shadow resets (src/reset.rs).
    let _shield = reset::Shield::hold();
    let done = store.insert_pending(&names, now, &ctx, &reset::owner(), |n, latest, eff_now| {
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
