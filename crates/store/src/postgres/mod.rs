//! The fleet store: PostgreSQL through libpq (loaded on demand, [`libpq`]), one connection per
//! PAM call ([`conn`]), reached only over a local socket or verified TLS ([`transport`]), with
//! nothing taken from the caller's environment ([`environ`]). The schema lives in
//! `sql/postgresql/` ([`schema`]).

pub mod conn;
/// Tests and the fuzz target only: pam_tap's connection-string parser against libpq's.
#[cfg(any(test, fuzzing))]
pub mod differential;
pub mod environ;
pub mod libpq;
pub mod schema;
mod store;
pub mod transport;

pub use conn::{ConnRole, PgConn, PgRow};
#[cfg(feature = "admin")]
pub use store::HostBinding;
pub use store::PgStore;

#[cfg(test)]
mod tests;
