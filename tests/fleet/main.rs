//! The fleet store under test (`cargo test --test fleet`, root): the built module through the real
//! libpam against a private PostgreSQL cluster (tests/support/pg_cluster.rs), three hosts as three
//! configs with host names host-a, host-b and host-c.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

/// The private cluster itself: TLS, roles, start-up cost.
mod cluster;
