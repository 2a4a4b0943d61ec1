//! The test kit's private PostgreSQL cluster (tests/support/pg_cluster.rs), for F1–F4 (and PgBouncer, for F4): the same
//! files as the tests use, named as the kit names them (the rest of the kit needs cargo's test
//! environment, which an example does not have).
#![allow(dead_code)]

#[path = "../../tests/support/ids.rs"]
pub mod ids;
#[path = "../../tests/support/pg_cluster.rs"]
pub mod pg_cluster;
#[path = "../../tests/support/pgbouncer.rs"]
pub mod pgbouncer;
