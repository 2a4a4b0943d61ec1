//! Equal round trips. Over a network each statement is a round trip an observer can time, and how
//! many a login makes depends on what the user holds (none more after the look-up without a pass,
//! a failure count and its audit rows after a wrong answer to a usable pass, one write otherwise).
//! A connection given a count ([`PgConn::pad_on_drop`]) is topped up to it with a statement that
//! reads and writes nothing before it is closed, so every session that ends below the count makes
//! the same number.

use super::{libpq, PgConn};

/// What a padding round trip sends: no table, no function, nothing a host role may lack.
const PAD: &str = "SELECT 1";

impl PgConn {
    /// Makes this connection send at least `n` statements in all before it is closed.
    pub fn pad_on_drop(&mut self, n: u32) {
        self.pad_to = n;
    }

    /// The statements sent so far, padding included.
    pub fn statements_sent(&self) -> u32 {
        self.sent
    }

    /// Tops the session up to its count now (dropping the connection does it too). A connection
    /// libpq already knows is broken or that was given up waiting, or a padding statement that
    /// fails, ends it: a dead, failing or silent server costs no more waiting than it already did.
    pub fn pad(&mut self) {
        // SAFETY: a live connection object (freed only after this, in drop).
        if self.abandoned || unsafe { (self.api.PQstatus)(self.raw) } != libpq::CONNECTION_OK {
            return;
        }
        while self.sent < self.pad_to {
            if self.query(PAD, &[]).is_err() {
                return;
            }
        }
    }
}
