//! The rows of a bulk issue CSV (`tapctl issue --csv FILE`), parsed and checked as far as text
//! alone allows; `super` does the checks that need the name service and the store.
//!
//! The CSV has one row per user. An optional header names the columns (`user`, `lifetime`,
//! `one_time`, `reason`, `host`, in any order); without one they are positional, `user[,lifetime,
//! one_time,reason]`, and further unquoted commas belong to the reason. `host` (header only) holds
//! the hosts the pass is scoped to, separated by spaces or `;`. Fields may be quoted the RFC 4180
//! way. Empty fields take the command line's value (`--lifetime`, `--one-time`/`--reusable`,
//! `--reason`), then the policy's. Blank lines and lines starting with `#` are skipped.
//!
//! This file uses only std, `csv` and `pam_tap`: the fuzz target `csv_row` compiles this very
//! file (`#[path]`), so the parser it tries is tapctl's own and the library never links it.

use crate::admin;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::text;
use pam_tap_base::users;
use pam_tap_core::config::parse_duration;

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
/// any width (checked against the header below), `#` comments dropped. Fields are trimmed in
/// [`fields`], after the line-break check.
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

/// The byte where a record the reader places at `at` starts: a record never starts with a line
/// break or a `#` (the reader skips those lines as blank or comments), so those are passed over.
fn record_start(text: &[u8], mut at: usize) -> usize {
    while let Some(&b) = text.get(at) {
        match b {
            b'\n' => at += 1,
            b'#' => {
                at += text[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(text.len() - at, |n| n + 1)
            }
            _ => break,
        }
    }
    at
}

/// Parses the CSV text into rows. Errors name the line.
pub fn parse(text: &str) -> Result<Vec<Row>> {
    // The reader ends a record at `\n`, `\r\n` or a lone `\r` (old Mac files), but a `#` comment
    // only at `\n`: there a comment would swallow the rows after it. The BOM a spreadsheet writes
    // goes too, so that a comment on the first line is seen as one (here and by the reader).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = &text.replace("\r\n", "\n").replace('\r', "\n");
    let mut columns: Option<Vec<Column>> = None;
    let mut rows = Vec::new();
    // The byte where the last record started, and its line: rows come in order, so each byte of
    // the file is counted once, not once per row after it.
    let mut counted = (0, 1);
    for record in reader(text).records() {
        // Text in, so the reader's only error is a bad record; its message quotes no field.
        let record = record.map_err(|e| {
            let at = e.position().map_or(0, csv::Position::line);
            Error::Refused(format!("line {at}: not a CSV row"))
        })?;
        // Counted here: the reader's own count lags behind the blank lines and comments it has
        // skipped, and so does its position, which [`record_start`] moves to the record itself.
        let from = record.position().map_or(0, |p| p.byte() as usize);
        let first = record_start(text.as_bytes(), from.clamp(counted.0, text.len()));
        let lineno = counted.1
            + text.as_bytes()[counted.0..first]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        counted = (first, lineno);
        let f = fields(&record, lineno)?;
        // A line of spaces, or a comment after leading spaces (the reader sees only column 0).
        if f.iter().all(String::is_empty) || f[0].starts_with('#') {
            continue;
        }
        if columns.is_none() && rows.is_empty() && f[0].eq_ignore_ascii_case("user") {
            columns = Some(header(&f, lineno)?);
            continue;
        }
        let row = row_of(columns.as_deref(), f, lineno)?;
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

/// The columns a header line names, each once.
fn header(f: &[String], lineno: usize) -> Result<Vec<Column>> {
    let mut cols = Vec::new();
    for name in f {
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
    Ok(cols)
}

/// A record's fields as a row: by the header's columns, or by position (where unquoted commas
/// after the third field belong to the reason).
fn row_of(columns: Option<&[Column]>, mut f: Vec<String>, lineno: usize) -> Result<Row> {
    let cols: &[Column] = match columns {
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
    Ok(row)
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
