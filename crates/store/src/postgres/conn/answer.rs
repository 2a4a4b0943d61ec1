//! Waiting for the server's answer. A host's connection awaits each answer for a bounded time: the
//! server's own `statement_timeout` does not bound a commit that waits for a synchronous standby
//! (PostgreSQL disarms it before the commit waits), so a standby that stops confirming would hold
//! the login for ever. Past the bound the connection is given up: what became of the statement is
//! unknown, the caller reports an error and nothing more is sent on it. A host's connection also
//! refuses an answer that comes with a WARNING: when such a wait is cancelled on the server, the
//! commit is answered with a WARNING, committed on the primary alone (PostgreSQL's syncrep.c), a
//! use the standby may not hold.

use std::ffi::c_int;
use std::time::{Duration, Instant};

use super::libpq::{
    text, Api, PgConnPtr, PgResultPtr, CONNECTION_OK, PGRES_COMMAND_OK, PGRES_TUPLES_OK, PG_DIAG_SQLSTATE,
};
use super::{one_line, Outcome, PgConn, RETRYABLE};
use pam_tap_base::error::{Error, Result};

const ABANDONED: &str = "the connection was given up waiting for an earlier answer";

impl PgConn {
    /// Awaits each answer at most `limit` from now on; past it the connection is given up.
    pub fn answer_within(&mut self, limit: Duration) {
        self.answer_within = Some(limit);
    }

    /// Refuses, from now on, an answer that comes with a WARNING.
    pub fn refuse_warnings(&mut self) {
        self.refuse_warnings = true;
    }

    /// Sends one request with `send` (`PQsendQuery` or `PQsendQueryParams`) and reads its answer
    /// as `PQexec` does (the last result), within [`PgConn::answer_within`].
    pub(super) fn round_trip(&mut self, send: impl FnOnce(&Api, PgConnPtr) -> c_int) -> Result<Outcome> {
        if self.abandoned {
            return Err(Error::Store(ABANDONED.into()));
        }
        self.sent = self.sent.saturating_add(1);
        self.warning.replace(None);
        if send(self.api, self.raw) != 1 {
            // The request was not sent: PQgetResult has nothing, result() reports libpq's error.
            return self.result(std::ptr::null_mut());
        }
        let deadline = self.answer_within.map(|d| (Instant::now() + d, d));
        let mut last: PgResultPtr = std::ptr::null_mut();
        loop {
            if let Err(e) = self.await_result(deadline) {
                // SAFETY: a result of ours, cleared once (or NULL, which PQclear ignores).
                unsafe { (self.api.PQclear)(last) };
                return Err(e);
            }
            // SAFETY: a live connection with a whole result (or none) ready: this does not block.
            let res = unsafe { (self.api.PQgetResult)(self.raw) };
            if res.is_null() {
                break;
            }
            // SAFETY: as above; the earlier result is replaced, as PQexec does.
            unsafe { (self.api.PQclear)(last) };
            last = res;
            if unsafe { (self.api.PQstatus)(self.raw) } != CONNECTION_OK {
                break;
            }
        }
        let out = self.result(last)?;
        if let Some(warning) = self.warning.take().filter(|_| self.refuse_warnings) {
            return Err(Error::Store(format!(
                "the server answered with a WARNING ({}): the answer is not trusted",
                one_line(&warning)
            )));
        }
        Ok(out)
    }

    /// The answer `res` (NULL: none, the connection failed) as rows, or its error as one line with
    /// its SQLSTATE; notes whether it is a conflict worth running again.
    pub(super) fn result(&mut self, res: PgResultPtr) -> Result<Outcome> {
        self.conflicted = false;
        if res.is_null() {
            return Err(Error::Store(format!(
                "the server connection failed: {}",
                self.last_error()
            )));
        }
        let res = Outcome { api: self.api, res };
        let status = unsafe { (self.api.PQresultStatus)(res.res) };
        if status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK {
            let msg = unsafe { text((self.api.PQresultErrorMessage)(res.res)) };
            let state = unsafe { text((self.api.PQresultErrorField)(res.res, PG_DIAG_SQLSTATE)) };
            self.conflicted = RETRYABLE.contains(&state.as_str());
            let msg = if msg.trim().is_empty() {
                self.last_error()
            } else {
                one_line(&msg)
            };
            return Err(Error::Store(if state.is_empty() {
                msg
            } else {
                format!("{msg} (SQLSTATE {state})")
            }));
        }
        Ok(res)
    }

    /// Reads until libpq holds a whole result (`PQisBusy` is 0) or the connection failed; past
    /// `deadline` the connection is given up.
    fn await_result(&mut self, deadline: Option<(Instant, Duration)>) -> Result<()> {
        loop {
            // SAFETY: a live connection.
            if unsafe { (self.api.PQisBusy)(self.raw) } == 0 {
                return Ok(());
            }
            let wait_ms = match deadline {
                None => -1,
                Some((at, limit)) => {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        self.abandoned = true;
                        return Err(Error::Store(format!(
                            "no answer from the server within {} s (a commit waiting for a synchronous \
                             standby that does not confirm it, or a hung server): the connection is given up",
                            limit.as_secs_f64().ceil()
                        )));
                    }
                    c_int::try_from(left.as_millis().max(1)).unwrap_or(c_int::MAX)
                }
            };
            let mut pfd = libc::pollfd {
                // SAFETY: a live connection; -1 if it has no socket, which poll ignores.
                fd: unsafe { (self.api.PQsocket)(self.raw) },
                events: libc::POLLIN,
                revents: 0,
            };
            if pfd.fd < 0 {
                return Ok(());
            }
            // SAFETY: one pollfd of ours.
            let n = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
            let err = std::io::Error::last_os_error();
            if n < 0 && err.kind() != std::io::ErrorKind::Interrupted {
                self.abandoned = true;
                return Err(Error::Store(format!("waiting for the server: {err}")));
            }
            // SAFETY: a live connection. A failed read leaves the error for PQgetResult to report.
            if n > 0 && unsafe { (self.api.PQconsumeInput)(self.raw) } == 0 {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests;
