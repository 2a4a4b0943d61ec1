//! pam_tap's rules: the policy and its validators ([`config`]), who may hold and use a pass
//! ([`gate`]), the login decision ([`login`]) and what it comes to ([`outcome`], no PAM types: the
//! module maps it to PAM codes), and the shadow side of a reset pass ([`reset`]). The handle, the
//! clock, the name service and the store are parameters, so every rule runs as any user in tests.

pub mod config;
pub mod gate;
pub mod handle;
pub mod login;
pub mod outcome;
pub mod reset;
pub mod usability;
