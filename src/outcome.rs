//! Every decision the module makes, and the one table that turns it into a PAM return code.

use pam::constants::PamResultCode;

use crate::error::Error;
use crate::store::Status;

/// What an authentication attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The pass matched and was redeemed.
    Accepted,
    /// The pass matched while its handoff was still pending within the grace window.
    AcceptedInGrace,
    /// The user holds no pass.
    NoPass,
    /// The answer cannot be a pass (left to the rest of the stack, not counted).
    NotAPass,
    /// `enabled = false`.
    Disabled,
    /// The user does not exist (or the name cannot be one).
    UnknownUser,
    /// A pass-shaped answer that does not match; counted.
    Wrong,
    /// That wrong answer reached the lockout.
    NowLocked,
    /// The answer matched a pass that cannot be used now.
    Unusable(Status),
    /// The answer matched but the user is outside the policy's users.
    NotEligible,
    /// The answer matched but the helpdesk boundary refuses it: the word says why (service, role,
    /// locked, expired, resting; see [`crate::gate`]).
    Refused(&'static str),
    /// Empty, NULL or over-long answer.
    BadInput,
    /// The conversation failed.
    Conversation,
    /// An error: config, unsafe file, database, hash, lookup.
    Failed(ErrorKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Config,
    Unsafe,
    Store,
    Hash,
    Lookup,
}

impl From<&Error> for ErrorKind {
    fn from(e: &Error) -> Self {
        match e {
            Error::Config(_) => ErrorKind::Config,
            Error::Unsafe(_) => ErrorKind::Unsafe,
            Error::Store(_) | Error::UnsafeConnection(_) | Error::Io(_) | Error::Refused(_) => ErrorKind::Store,
            Error::Hash(_) => ErrorKind::Hash,
            Error::Lookup(_) => ErrorKind::Lookup,
        }
    }
}

impl Outcome {
    /// The one outcome-to-PAM-code table. Only `Accepted*` is PAM_SUCCESS; PAM_IGNORE only says
    /// "this user holds no usable pass here".
    pub fn pam_code(&self) -> PamResultCode {
        use PamResultCode::*;
        match self {
            Outcome::Accepted | Outcome::AcceptedInGrace => PAM_SUCCESS,
            Outcome::NoPass | Outcome::NotAPass | Outcome::Disabled => PAM_IGNORE,
            Outcome::UnknownUser => PAM_USER_UNKNOWN,
            Outcome::Wrong | Outcome::Unusable(_) | Outcome::NotEligible | Outcome::Refused(_) | Outcome::BadInput => {
                PAM_AUTH_ERR
            }
            Outcome::NowLocked => PAM_MAXTRIES,
            Outcome::Conversation => PAM_CONV_ERR,
            Outcome::Failed(ErrorKind::Config | ErrorKind::Unsafe) => PAM_SERVICE_ERR,
            Outcome::Failed(ErrorKind::Store | ErrorKind::Hash | ErrorKind::Lookup) => PAM_AUTHINFO_UNAVAIL,
        }
    }

    /// A short word for the log line.
    pub fn word(&self) -> String {
        match self {
            Outcome::Accepted => "accepted".into(),
            Outcome::AcceptedInGrace => "accepted_in_grace".into(),
            Outcome::NoPass => "no_pass".into(),
            Outcome::NotAPass => "not_a_pass".into(),
            Outcome::Disabled => "disabled".into(),
            Outcome::UnknownUser => "unknown_user".into(),
            Outcome::Wrong => "wrong".into(),
            Outcome::NowLocked => "now_locked".into(),
            Outcome::Unusable(s) => s.as_str().into(),
            Outcome::NotEligible => "not_eligible".into(),
            Outcome::Refused(why) => format!("refused reason={why}"),
            Outcome::BadInput => "bad_input".into(),
            Outcome::Conversation => "conversation_error".into(),
            Outcome::Failed(k) => format!("error_{k:?}").to_lowercase(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PamResultCode::*;

    #[test]
    fn an_unsafe_store_connection_is_authinfo_unavail_not_a_service_error() {
        let kind = ErrorKind::from(&Error::UnsafeConnection("no TLS".into()));
        assert_eq!(Outcome::Failed(kind).pam_code(), PAM_AUTHINFO_UNAVAIL);
    }

    #[test]
    fn table_is_pinned() {
        let all = [
            (Outcome::Accepted, PAM_SUCCESS),
            (Outcome::AcceptedInGrace, PAM_SUCCESS),
            (Outcome::NoPass, PAM_IGNORE),
            (Outcome::NotAPass, PAM_IGNORE),
            (Outcome::Disabled, PAM_IGNORE),
            (Outcome::UnknownUser, PAM_USER_UNKNOWN),
            (Outcome::Wrong, PAM_AUTH_ERR),
            (Outcome::NowLocked, PAM_MAXTRIES),
            (Outcome::NotEligible, PAM_AUTH_ERR),
            (Outcome::Refused("service"), PAM_AUTH_ERR),
            (Outcome::BadInput, PAM_AUTH_ERR),
            (Outcome::Conversation, PAM_CONV_ERR),
            (Outcome::Failed(ErrorKind::Config), PAM_SERVICE_ERR),
            (Outcome::Failed(ErrorKind::Unsafe), PAM_SERVICE_ERR),
            (Outcome::Failed(ErrorKind::Store), PAM_AUTHINFO_UNAVAIL),
            (Outcome::Failed(ErrorKind::Hash), PAM_AUTHINFO_UNAVAIL),
            (Outcome::Failed(ErrorKind::Lookup), PAM_AUTHINFO_UNAVAIL),
        ];
        for (o, code) in all {
            assert_eq!(o.pam_code(), code, "{o:?}");
        }
        for s in [
            Status::NotYetValid,
            Status::Expired,
            Status::Used,
            Status::Revoked,
            Status::Locked,
            Status::Resting,
            Status::DisabledByPolicy,
        ] {
            assert_eq!(Outcome::Unusable(s).pam_code(), PAM_AUTH_ERR);
        }
    }
}
