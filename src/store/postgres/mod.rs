//! The fleet store: PostgreSQL through libpq (loaded on demand, [`libpq`]), one connection per
//! PAM call ([`conn`]), reached only over a local socket or verified TLS ([`transport`]), with
//! nothing taken from the caller's environment ([`environ`]). The schema lives in
//! `sql/postgresql/` ([`schema`]).

pub mod conn;
pub mod environ;
pub mod libpq;
pub mod schema;
pub mod transport;

pub use conn::{ConnRole, PgConn, PgRow};

#[cfg(test)]
mod tests;
