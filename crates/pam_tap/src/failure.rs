//! libpam's failure codes as the core's [`HandleError`]; crates/core/src/outcome.rs turns each back into the
//! code it came from (pinned below for every code).

use std::ffi::c_int;

use pam::constants::PamResultCode;

use pam_tap_core::login::HandleError;

/// What a failing libpam call said, for the core.
pub(crate) fn failure(code: PamResultCode) -> HandleError {
    use PamResultCode::*;
    match code {
        PAM_CONV_ERR => HandleError::Conversation,
        PAM_BUF_ERR => HandleError::Buffer,
        PAM_AUTHTOK_ERR => HandleError::Authtok,
        PAM_AUTH_ERR => HandleError::NoEarlierAuthtok,
        PAM_TRY_AGAIN => HandleError::Mismatch,
        PAM_BAD_ITEM => HandleError::BadItem,
        PAM_PERM_DENIED => HandleError::PermissionDenied,
        PAM_SYSTEM_ERR => HandleError::System,
        other => HandleError::Other(other as c_int),
    }
}

/// A raw libpam return value that is not PAM_SUCCESS; one no libpam names is PAM_SYSTEM_ERR.
pub(crate) fn failure_rc(rc: c_int) -> HandleError {
    failure(PamResultCode::try_from(rc).unwrap_or(PamResultCode::PAM_SYSTEM_ERR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_code_comes_back_as_it_came() {
        let mut named = 0;
        for rc in 1..=40 {
            let Ok(code) = PamResultCode::try_from(rc) else {
                continue;
            };
            let e = failure(code);
            assert_eq!(crate::codes::handle_code(&e) as c_int, rc, "{e:?}");
            assert_eq!(failure_rc(rc), e);
            named += usize::from(!matches!(e, HandleError::Other(_)));
        }
        assert_eq!(named, 8, "each named HandleError comes from one code");
        assert_eq!(failure_rc(9999), HandleError::System);
        // A handle failure never reads as success, whatever a conversation function returned.
        assert_eq!(
            crate::codes::handle_code(&HandleError::Other(0)),
            PamResultCode::PAM_SYSTEM_ERR
        );
    }
}
