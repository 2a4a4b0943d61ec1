//! pam_tap: Temporary Access Pass for Linux logins.
//!
//! One library serves both front ends: the PAM module (`src/pam/`, a thin FFI shell over
//! [`core`]) and `tapctl` (over [`admin`]). Nothing about passes, policy or storage is written twice.

pub mod admin;
pub mod as_user;
pub mod boundary;
pub mod bulk;
pub mod cli;
pub mod config;
pub mod core;
pub mod error;
pub mod gate;
pub mod hash;
pub mod invoker;
pub mod log;
pub mod outcome;
pub mod passcode;
pub mod reset;
pub mod store;
pub mod sudo;
pub mod text;
pub mod timefmt;
pub mod unlock;
pub mod users;

pub mod doctor;
mod pam;
mod safefile;
