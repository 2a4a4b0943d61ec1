//! Who acts through tapctl and with which role. The helpdesk boundary (`gate`) judges operators and
//! `admin` finds them: both stand on this, so neither reaches into the other for it.

use serde::Serialize;

use crate::store::Context;

/// Roles, after Entra's: root is the global administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Issuer,
    PrivilegedIssuer,
    Root,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub role: Role,
}

impl Operator {
    pub fn context(&self) -> Context {
        Context {
            operator: Some(self.name.clone()),
            service: Some("tapctl".into()),
            rhost: None,
            host: None,
        }
    }
}
