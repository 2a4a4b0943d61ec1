//! The libpam application-side declarations pam_tap's test drivers share: the conversation
//! structures, the calls they make, and the names of the return codes.
#![allow(dead_code)]

use std::ffi::{c_char, c_int, c_void};

#[repr(C)]
pub struct Message {
    pub style: c_int,
    pub msg: *const c_char,
}

#[repr(C)]
pub struct Response {
    pub resp: *mut c_char,
    pub retcode: c_int,
}

#[repr(C)]
pub struct Conv {
    pub conv: extern "C" fn(c_int, *mut *const Message, *mut *mut Response, *mut c_void) -> c_int,
    pub appdata: *mut c_void,
}

#[link(name = "pam")]
extern "C" {
    pub fn pam_start(service: *const c_char, user: *const c_char, conv: *const Conv, pamh: *mut *mut c_void) -> c_int;
    pub fn pam_start_confdir(
        service: *const c_char,
        user: *const c_char,
        conv: *const Conv,
        confdir: *const c_char,
        pamh: *mut *mut c_void,
    ) -> c_int;
    pub fn pam_authenticate(pamh: *mut c_void, flags: c_int) -> c_int;
    pub fn pam_acct_mgmt(pamh: *mut c_void, flags: c_int) -> c_int;
    pub fn pam_chauthtok(pamh: *mut c_void, flags: c_int) -> c_int;
    pub fn pam_setcred(pamh: *mut c_void, flags: c_int) -> c_int;
    pub fn pam_open_session(pamh: *mut c_void, flags: c_int) -> c_int;
    pub fn pam_close_session(pamh: *mut c_void, flags: c_int) -> c_int;
    pub fn pam_end(pamh: *mut c_void, status: c_int) -> c_int;
    pub fn pam_getenvlist(pamh: *mut c_void) -> *mut *mut c_char;
    pub fn pam_putenv(pamh: *mut c_void, name_value: *const c_char) -> c_int;
}

const NAMES: [&str; 32] = [
    "PAM_SUCCESS",
    "PAM_OPEN_ERR",
    "PAM_SYMBOL_ERR",
    "PAM_SERVICE_ERR",
    "PAM_SYSTEM_ERR",
    "PAM_BUF_ERR",
    "PAM_PERM_DENIED",
    "PAM_AUTH_ERR",
    "PAM_CRED_INSUFFICIENT",
    "PAM_AUTHINFO_UNAVAIL",
    "PAM_USER_UNKNOWN",
    "PAM_MAXTRIES",
    "PAM_NEW_AUTHTOK_REQD",
    "PAM_ACCT_EXPIRED",
    "PAM_SESSION_ERR",
    "PAM_CRED_UNAVAIL",
    "PAM_CRED_EXPIRED",
    "PAM_CRED_ERR",
    "PAM_NO_MODULE_DATA",
    "PAM_CONV_ERR",
    "PAM_AUTHTOK_ERR",
    "PAM_AUTHTOK_RECOVERY_ERR",
    "PAM_AUTHTOK_LOCK_BUSY",
    "PAM_AUTHTOK_DISABLE_AGING",
    "PAM_TRY_AGAIN",
    "PAM_IGNORE",
    "PAM_ABORT",
    "PAM_AUTHTOK_EXPIRED",
    "PAM_MODULE_UNKNOWN",
    "PAM_BAD_ITEM",
    "PAM_CONV_AGAIN",
    "PAM_INCOMPLETE",
];

/// `PAM_AUTH_ERR` for 7, and so on.
pub fn name(rc: c_int) -> String {
    NAMES
        .get(rc as usize)
        .map_or_else(|| format!("PAM_{rc}"), |s| s.to_string())
}
