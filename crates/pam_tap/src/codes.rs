//! The one table that turns what the core decided into a PAM return code, pinned by its tests.
//! Only an accepted pass is PAM_SUCCESS at authentication; PAM_IGNORE only says "nothing for
//! pam_tap to do here"; every error is a failing code.

use pam::constants::PamResultCode;
use pam_tap_core::handle::HandleError;
use pam_tap_core::outcome::{ChangeOutcome, CredOutcome, ErrorKind, Outcome};

/// The one outcome-to-PAM-code table. Only `Accepted*` is PAM_SUCCESS; PAM_IGNORE only says
/// "this user holds no usable pass here".
pub fn auth_code(outcome: &Outcome) -> PamResultCode {
    use PamResultCode::*;
    match outcome {
        Outcome::Accepted | Outcome::AcceptedInGrace | Outcome::KeyKnown | Outcome::Enrolled => PAM_SUCCESS,
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

/// A password change lets the change go on (PAM_SUCCESS) on every path that is not an error:
/// both passes return the same class of result, and "no pass in play" is no reason to stop it.
pub fn change_code(outcome: &ChangeOutcome) -> PamResultCode {
    use PamResultCode::*;
    match outcome {
        ChangeOutcome::HandedOff
        | ChangeOutcome::GraceAnswered
        | ChangeOutcome::PassedOn
        | ChangeOutcome::NothingToAdd
        | ChangeOutcome::NewPasswordSet => PAM_SUCCESS,
        ChangeOutcome::NoPhase => PAM_SERVICE_ERR,
        ChangeOutcome::UnknownUser => PAM_USER_UNKNOWN,
        ChangeOutcome::BadAnswer => PAM_AUTHTOK_ERR,
        ChangeOutcome::Handle(e) => handle_code(e),
        ChangeOutcome::Failed(kind) => auth_code(&Outcome::Failed(*kind)),
    }
}

pub fn cred_code(outcome: &CredOutcome) -> PamResultCode {
    match outcome {
        CredOutcome::PassAccepted | CredOutcome::KeyStep => PamResultCode::PAM_SUCCESS,
        CredOutcome::NoPassHere => PamResultCode::PAM_IGNORE,
    }
}

/// The code libpam gave for this failure (src/pam/ made it from that code), handed back as it
/// came; only a failure that claims success is turned into PAM_SYSTEM_ERR.
pub fn handle_code(e: &HandleError) -> PamResultCode {
    use PamResultCode::*;
    match e {
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

#[cfg(test)]
mod tests {
    use super::*;
    use pam_tap_base::error::Error;
    use pam_tap_store::Status;
    use PamResultCode::*;

    #[test]
    fn an_unsafe_store_connection_is_authinfo_unavail_not_a_service_error() {
        let kind = ErrorKind::from(&Error::UnsafeConnection("no TLS".into()));
        assert_eq!(auth_code(&Outcome::Failed(kind)), PAM_AUTHINFO_UNAVAIL);
    }

    #[test]
    fn table_is_pinned() {
        let all = [
            (Outcome::Accepted, PAM_SUCCESS),
            (Outcome::AcceptedInGrace, PAM_SUCCESS),
            (Outcome::KeyKnown, PAM_SUCCESS),
            (Outcome::Enrolled, PAM_SUCCESS),
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
            assert_eq!(auth_code(&o), code, "{o:?}");
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
            assert_eq!(auth_code(&Outcome::Unusable(s)), PAM_AUTH_ERR);
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
            assert_eq!(change_code(&o), code, "{o:?}");
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
            assert_eq!(handle_code(&e), code, "{e:?}");
        }
        assert_eq!(cred_code(&CredOutcome::PassAccepted), PAM_SUCCESS);
        assert_eq!(cred_code(&CredOutcome::NoPassHere), PAM_IGNORE);
        assert_eq!(cred_code(&CredOutcome::KeyStep), PAM_SUCCESS);
    }
}
