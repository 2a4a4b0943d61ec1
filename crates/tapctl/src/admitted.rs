//! A command the command table admitted, as every command receives it: the command line, who runs
//! it, and the policy in force. The only way to the store from a command goes through here, and
//! only [`pam_tap_store::admin::admit`] makes the [`Admission`] it holds.

use std::cell::OnceCell;

use pam_tap_base::error::{Error, Result};
use pam_tap_core::config::Policy;
use pam_tap_store::admin::{self as store_admin, AdminStore, Admission};
use pam_tap_store::operator::Operator;

use crate::cli::Cli;

#[allow(clippy::disallowed_methods)] // tapctl's one clock
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A command the command table admitted: the command line, who runs it, and the policy in force
/// (read once: for an operator, already read to find their role).
pub struct Admitted<'a> {
    cli: &'a Cli,
    admission: Admission,
    policy: OnceCell<Policy>,
}

impl<'a> Admitted<'a> {
    /// `policy` holds the policy when reading the operator's role already loaded it.
    pub(crate) fn new(cli: &'a Cli, admission: Admission, policy: OnceCell<Policy>) -> Admitted<'a> {
        Admitted { cli, admission, policy }
    }

    pub fn cli(&self) -> &Cli {
        self.cli
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    pub fn operator(&self) -> &Operator {
        self.admission.operator()
    }

    /// The store the policy names, opened for this admitted command.
    pub fn open_store(&self) -> Result<Box<dyn AdminStore>> {
        let policy = self.policy()?;
        store_admin::open_admin(&policy.database, &policy.host_name, &self.admission)
    }

    /// The store the policy names, created or migrated (`tapctl init`).
    pub fn create_store(&self) -> Result<Box<dyn AdminStore>> {
        let policy = self.policy()?;
        store_admin::create_admin(&policy.database, &policy.host_name, &self.admission)
    }

    /// The policy in force: the one `--config` names (root only), else the system's.
    pub fn policy(&self) -> Result<&Policy> {
        if self.policy.get().is_none() {
            let _ = self.policy.set(Policy::load(self.cli.config_path())?);
        }
        self.policy
            .get()
            .ok_or_else(|| Error::Config("the policy could not be kept".into()))
    }
}
