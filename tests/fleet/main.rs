//! The fleet store under test (`cargo test --test fleet`, root): the built module through the real
//! libpam against a private PostgreSQL cluster (tests/support/pg_cluster.rs), three hosts as three
//! configs with host names host-a, host-b and host-c on one database.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

/// Two-person approval through the admin connection; hosts may not touch the requests.
mod approval;
/// The private cluster itself: TLS, roles, start-up cost.
mod cluster;
/// The server killed mid-login.
mod crash;
/// The primary killed and its standby promoted while logins race one pass.
mod failover;
/// The password handoff: reset passes accepted on one host, settled there.
mod handoff;
/// Each host function as a host's own role, with hostile arguments.
mod host_boundary;
/// No descriptor, thread or signal handler left after the hooks.
mod leaks;
/// libpq is opened only for a PostgreSQL store.
mod loading;
/// `tapctl migrate --to` from SQLite.
mod migrate;
/// The server stopped or hung.
mod outage;
/// The race, the crash and the outages through PgBouncer in transaction pooling mode.
mod pooler;
/// One-time across hosts: 3 hosts x 20 logins racing one pass, 20 rounds.
mod race;
/// A login that logs no one in: as many round trips whatever the user holds.
mod round_trips;
/// A store whose database runs every transaction SERIALIZABLE.
mod serializable;
/// A fleet: a site on one PostgreSQL database, with three hosts' configs and services.
mod site;
/// The pam_stack scenarios against PostgreSQL.
mod stack;
/// `tapctl status` against host-a's module, state by state.
mod status;
/// No unverified network path to the store; the caller's PG* variables change nothing.
mod transport;
