//! The built pam_tap.so under the real libpam: its stack with pam_unix, every pam.d line the project
//! prints, and the symbols it exports.

/// The module with real users, real pam_unix, a private config and database.
mod libpam;
/// Every pam.d snippet in the docs and in doctor's advice, loaded by libpam.
mod snippets;
/// RTLD_NOW loading and exactly the six `pam_sm_*` exports.
mod symbols;
