//! Every decision the module makes, and the one table that turns it into a PAM return code.

use pam::constants::PamResultCode;

use crate::core::HandleError;
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

/// What a password change (`pam_sm_chauthtok`, either pass) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// PRELIM: PAM_OLDAUTHTOK now holds the derived secret of the pass this handle accepted.
    HandedOff,
    /// PRELIM in a fresh process: the pass answered "Current password" within the grace window.
    GraceAnswered,
    /// PRELIM: the answer to the grace prompt is not the pass; it went on unchanged as
    /// PAM_OLDAUTHTOK for pam_unix to judge.
    PassedOn,
    /// PRELIM: no pass in play (root outside an expiry, no store, no pass in its grace window…);
    /// pam_unix asks for the current password itself.
    NothingToAdd,
    /// UPDATE: PAM_AUTHTOK holds the new password.
    NewPasswordSet,
    /// The flags name neither PRELIM nor UPDATE.
    NoPhase,
    /// The user's name could not be read.
    UnknownUser,
    /// An empty or over-long answer to the grace prompt.
    BadAnswer,
    /// The handle failed (the conversation, libpam).
    Handle(HandleError),
    /// An error: config, unsafe file, database, hash, lookup.
    Failed(ErrorKind),
}

/// What `pam_sm_setcred` came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredOutcome {
    /// This handle accepted a pass: pam_tap answers for the credentials it stands behind.
    PassAccepted,
    /// This handle accepted no pass: nothing for pam_tap to do.
    NoPassHere,
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

impl ChangeOutcome {
    /// A password change lets the change go on (PAM_SUCCESS) on every path that is not an error:
    /// both passes return the same class of result, and "no pass in play" is no reason to stop it.
    pub fn pam_code(&self) -> PamResultCode {
        use PamResultCode::*;
        match self {
            ChangeOutcome::HandedOff
            | ChangeOutcome::GraceAnswered
            | ChangeOutcome::PassedOn
            | ChangeOutcome::NothingToAdd
            | ChangeOutcome::NewPasswordSet => PAM_SUCCESS,
            ChangeOutcome::NoPhase => PAM_SERVICE_ERR,
            ChangeOutcome::UnknownUser => PAM_USER_UNKNOWN,
            ChangeOutcome::BadAnswer => PAM_AUTHTOK_ERR,
            ChangeOutcome::Handle(e) => e.pam_code(),
            ChangeOutcome::Failed(kind) => Outcome::Failed(*kind).pam_code(),
        }
    }
}

impl CredOutcome {
    pub fn pam_code(&self) -> PamResultCode {
        match self {
            CredOutcome::PassAccepted => PamResultCode::PAM_SUCCESS,
            CredOutcome::NoPassHere => PamResultCode::PAM_IGNORE,
        }
    }
}

impl HandleError {
    /// The code libpam gave for this failure (src/pam/ made it from that code), handed back as it
    /// came; only a failure that claims success is turned into PAM_SYSTEM_ERR.
    pub fn pam_code(&self) -> PamResultCode {
        use PamResultCode::*;
        match self {
            HandleError::Conversation => PAM_CONV_ERR,
            HandleError::Buffer => PAM_BUF_ERR,
            HandleError::Authtok => PAM_AUTHTOK_ERR,
            HandleError::NoEarlierAuthtok => PAM_AUTH_ERR,
            HandleError::Mismatch => PAM_TRY_AGAIN,
            HandleError::BadItem => PAM_BAD_ITEM,
            HandleError::PermissionDenied => PAM_PERM_DENIED,
            HandleError::System => PAM_SYSTEM_ERR,
            HandleError::Other(code) => match PamResultCode::try_from(*code) {
                Ok(PAM_SUCCESS) | Err(_) => PAM_SYSTEM_ERR,
                Ok(code) => code,
            },
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

    /// The codes `pam_sm_chauthtok` and `pam_sm_setcred` returned before the core had words for
    /// them, row by row.
    #[test]
    fn change_and_credential_rows_are_pinned() {
        let change = [
            (ChangeOutcome::HandedOff, PAM_SUCCESS),
            (ChangeOutcome::GraceAnswered, PAM_SUCCESS),
            (ChangeOutcome::PassedOn, PAM_SUCCESS),
            (ChangeOutcome::NothingToAdd, PAM_SUCCESS),
            (ChangeOutcome::NewPasswordSet, PAM_SUCCESS),
            (ChangeOutcome::NoPhase, PAM_SERVICE_ERR),
            (ChangeOutcome::UnknownUser, PAM_USER_UNKNOWN),
            (ChangeOutcome::BadAnswer, PAM_AUTHTOK_ERR),
            (ChangeOutcome::Handle(HandleError::Conversation), PAM_CONV_ERR),
            (ChangeOutcome::Handle(HandleError::Authtok), PAM_AUTHTOK_ERR),
            (ChangeOutcome::Handle(HandleError::Mismatch), PAM_TRY_AGAIN),
            (ChangeOutcome::Handle(HandleError::Other(30)), PAM_CONV_AGAIN),
            (ChangeOutcome::Failed(ErrorKind::Config), PAM_SERVICE_ERR),
            (ChangeOutcome::Failed(ErrorKind::Unsafe), PAM_SERVICE_ERR),
            (ChangeOutcome::Failed(ErrorKind::Store), PAM_AUTHINFO_UNAVAIL),
            (ChangeOutcome::Failed(ErrorKind::Hash), PAM_AUTHINFO_UNAVAIL),
            (ChangeOutcome::Failed(ErrorKind::Lookup), PAM_AUTHINFO_UNAVAIL),
        ];
        for (o, code) in change {
            assert_eq!(o.pam_code(), code, "{o:?}");
        }
        let handle = [
            (HandleError::Conversation, PAM_CONV_ERR),
            (HandleError::Buffer, PAM_BUF_ERR),
            (HandleError::Authtok, PAM_AUTHTOK_ERR),
            (HandleError::NoEarlierAuthtok, PAM_AUTH_ERR),
            (HandleError::Mismatch, PAM_TRY_AGAIN),
            (HandleError::BadItem, PAM_BAD_ITEM),
            (HandleError::PermissionDenied, PAM_PERM_DENIED),
            (HandleError::System, PAM_SYSTEM_ERR),
            (HandleError::Other(31), PAM_INCOMPLETE),
            // Never success, never a code no libpam names.
            (HandleError::Other(0), PAM_SYSTEM_ERR),
            (HandleError::Other(-1), PAM_SYSTEM_ERR),
        ];
        for (e, code) in handle {
            assert_eq!(e.pam_code(), code, "{e:?}");
        }
        assert_eq!(CredOutcome::PassAccepted.pam_code(), PAM_SUCCESS);
        assert_eq!(CredOutcome::NoPassHere.pam_code(), PAM_IGNORE);
    }
}
