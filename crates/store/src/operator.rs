//! Who acts through tapctl and with which role. The helpdesk boundary (`gate`) judges operators and
//! `admin` finds them: both stand on this, so neither reaches into the other for it.

use serde::Serialize;

use crate::Context;

/// Roles, after Entra's: root is the global administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Issuer,
    PrivilegedIssuer,
    Root,
}

impl Role {
    /// The role as the store records it (`issuer_role`) and the policy's `roles.*` name it.
    pub fn word(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::PrivilegedIssuer => "privileged_issuer",
            Role::Issuer => "issuer",
            Role::Viewer => "viewer",
        }
    }

    /// Every role, least first.
    pub fn all() -> impl DoubleEndedIterator<Item = Role> {
        <Role as strum::IntoEnumIterator>::iter()
    }
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
