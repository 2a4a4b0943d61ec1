//! The secrets scan: no pass issued on a site, nor any piece of one, in what the module logged or
//! any store audited.

use std::path::Path;

use super::Site;
use crate::support::figures::record_logscan;

/// The texts that hold a 4-or-more-character piece of one of `passes` (case-sensitive: passes are
/// upper case, the module's lines are not; dashes and spaces are dropped before comparing). A piece
/// made only of digits counts from 6 characters: pids, times and user names in every line are
/// digits too, and 4 digits of a pass would match them by chance.
pub fn leaked<'a>(passes: &[String], texts: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out = vec![];
    for t in texts {
        let squeezed = t.replace(['-', ' '], "");
        for p in passes {
            let pieces = (4..=p.len()).flat_map(|n| (0..=p.len() - n).map(move |i| &p[i..i + n]));
            for piece in pieces {
                if piece.bytes().all(|b| b.is_ascii_digit()) && piece.len() < 6 {
                    continue;
                }
                if t.contains(piece) || squeezed.contains(piece) {
                    out.push(format!("{piece:?} in {t:?}"));
                    break;
                }
            }
        }
    }
    out
}

impl Site {
    /// Fails the test when a captured syslog line or an audit row (the store's, and each host
    /// store's) holds a pass issued here or a part of it (see [`leaked`]). Records the tally when
    /// the site was built `scanned_as`. Returns how many syslog lines and audit rows it read.
    pub fn check_no_secrets(&self) -> (usize, usize) {
        let lines = self.log.settled_lines();
        let mut rows = self.store_audit_rows();
        let stores = self.host_stores.iter().filter(|p| p.exists());
        rows.extend(stores.flat_map(|p| host_audit_rows(p)));
        let passes = self.passes();
        let leaks = leaked(&passes, lines.iter().chain(rows.iter()));
        if let Some(name) = &self.scan_name {
            record_logscan(name, lines.len(), rows.len(), passes.len(), leaks.len());
        }
        assert!(leaks.is_empty(), "a pass leaked into syslog or audit: {leaks:?}");
        (lines.len(), rows.len())
    }

    /// The store's audit rows, one line each. A SQLite site that broke its own database on purpose
    /// may leave nothing readable: no rows then.
    fn store_audit_rows(&self) -> Vec<String> {
        if self.pg.is_some() {
            let q =
                "SELECT concat_ws(' ', event, user_name, operator, service, rhost, reason, host) FROM pam_tap.audit";
            return self.psql(q).lines().map(String::from).collect();
        }
        rusqlite::Connection::open(&self.db)
            .and_then(|c| {
                let mut st = c.prepare(
                    "SELECT coalesce(event,'')||' '||coalesce(user,'')||' '||coalesce(operator,'')||' '||
                            coalesce(service,'')||' '||coalesce(rhost,'')||' '||coalesce(reason,'') FROM audit",
                )?;
                let r = st.query_map([], |r| r.get::<_, String>(0))?;
                r.collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_default()
    }
}

/// The audit rows of the host store at `path`, one line each; it must be readable.
fn host_audit_rows(path: &Path) -> Vec<String> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let c = rusqlite::Connection::open_with_flags(path, flags).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let q = "SELECT concat_ws(' ', event, user, operator, service, rhost, reason) FROM audit";
    let mut st = c.prepare(q).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}
