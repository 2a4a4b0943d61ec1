//! The FFI shell: the six `pam_sm_*` hooks (each under pam-bindings' `catch_unwind` guard, a panic
//! becomes PAM_ABORT), argument parsing, the policy loaded, the clock read once, and the
//! [`Handle`] over a real `pam_handle_t`. Every decision is in the core (`pam_tap_core::login`);
//! the one table of PAM codes is [`codes`].

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use pam::constants::{PamFlag, PamResultCode, PAM_PROMPT_ECHO_OFF, PAM_TEXT_INFO};
use pam::conv::Conv;
use pam::items::{AuthTok, ItemType, RHost, Service};
use pam::module::{PamHandle, PamHooks};
use zeroize::Zeroizing;

use pam_tap_base::log::{Level, Logger, Syslog};
use pam_tap_base::users::System;
use pam_tap_core::config::Policy;
use pam_tap_core::login::{self as core, Accepted, Env, Handle, HandleError, Secret};

mod codes;
mod failure;
mod options;
use codes::{auth_code, change_code, cred_code};
use failure::{failure, failure_rc};
use options::{phase, Options};

/// `pam_set_data`'s key for the [`Accepted`] pass, kept between hooks of one handle; a handoff
/// secret is zeroed when PAM cleans it up.
const DATA_KEY: &str = "pam_tap_accepted";

#[link(name = "pam")]
extern "C" {
    // Linux-PAM >= 1.1: prompts (or reuses the item per try_first_pass/use_first_pass/use_authtok).
    // pam-bindings has no binding for it.
    fn pam_get_authtok(pamh: *mut PamHandle, item: c_int, authtok: *mut *const c_char, prompt: *const c_char) -> c_int;
    // pam-bindings' typed `set_item_str` cannot set PAM_OLDAUTHTOK: its `OldAuthTok` item has no
    // public constructor (it only borrows what libpam holds).
    fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    // Reads the PAM environment (sshd puts SSH_AUTH_INFO_0 there); the string stays libpam's.
    fn pam_getenv(pamh: *mut PamHandle, name: *const c_char) -> *const c_char;
}

/// sshd's name for what the connection proved so far (OpenSSH >= 7.8, `expose_authinfo`).
const AUTH_INFO: &CStr = c"SSH_AUTH_INFO_0";

struct Shell<'a>(&'a mut PamHandle);

impl Shell<'_> {
    fn get_authtok(&mut self) -> Result<Secret, HandleError> {
        let mut ptr: *const c_char = std::ptr::null();
        // SAFETY: a live handle; libpam owns the returned string (the item) and keeps it valid
        // until the item changes; we copy it at once.
        let rc = unsafe { pam_get_authtok(self.0, ItemType::AuthTok as c_int, &mut ptr, std::ptr::null()) };
        if rc != 0 {
            return Err(failure_rc(rc));
        }
        if ptr.is_null() {
            return Err(HandleError::Conversation);
        }
        Ok(Zeroizing::new(unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec()))
    }
}

impl Handle for Shell<'_> {
    fn user(&mut self) -> Result<String, HandleError> {
        self.0.get_user(None).map_err(failure)
    }

    fn service(&self) -> Option<String> {
        self.0
            .get_item::<Service>()
            .ok()
            .flatten()
            .map(|s| s.0.to_string_lossy().into_owned())
    }

    fn rhost(&self) -> Option<String> {
        self.0
            .get_item::<RHost>()
            .ok()
            .flatten()
            .map(|s| s.0.to_string_lossy().into_owned())
    }

    fn authtok(&mut self) -> Result<Secret, HandleError> {
        self.get_authtok()
    }

    fn info(&mut self, text: &str) -> Result<(), HandleError> {
        let conv = self.0.get_item::<Conv>().map_err(failure)?;
        let conv = conv.ok_or(HandleError::Conversation)?;
        conv.send(PAM_TEXT_INFO, text).map(drop).map_err(failure)
    }

    fn prompt_secret(&mut self, prompt: &str) -> Result<Secret, HandleError> {
        let conv = self.0.get_item::<Conv>().map_err(failure)?;
        let conv = conv.ok_or(HandleError::Conversation)?;
        match conv.send(PAM_PROMPT_ECHO_OFF, prompt).map_err(failure)? {
            Some(s) => Ok(Zeroizing::new(s.as_bytes().to_vec())),
            None => Err(HandleError::Conversation),
        }
    }

    fn new_authtok(&mut self) -> Result<(), HandleError> {
        self.get_authtok().map(drop)
    }

    fn authtok_set(&self) -> bool {
        matches!(self.0.get_item::<AuthTok>(), Ok(Some(_)))
    }

    fn set_old_authtok(&mut self, secret: &[u8]) -> Result<(), HandleError> {
        let c = Zeroizing::new(
            CString::new(secret)
                .map_err(|_| HandleError::Authtok)?
                .into_bytes_with_nul(),
        );
        // SAFETY: libpam copies the string into the item.
        let rc = unsafe { pam_set_item(self.0, ItemType::OldAuthTok as c_int, c.as_ptr().cast()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(failure_rc(rc))
        }
    }

    fn remember(&mut self, accepted: Accepted) -> Result<(), HandleError> {
        self.0.set_data(DATA_KEY, Box::new(accepted)).map_err(failure)
    }

    fn remembered(&self) -> Option<Accepted> {
        // SAFETY: only this module stores DATA_KEY, always as `Accepted`.
        unsafe { self.0.get_data::<Accepted>(DATA_KEY) }.ok().cloned()
    }

    fn auth_info(&self) -> Option<String> {
        let h = (self.0 as *const PamHandle).cast_mut();
        // SAFETY: a live handle and a NUL-terminated name; the value is copied at once.
        let ptr = unsafe { pam_getenv(h, AUTH_INFO.as_ptr()) };
        if ptr.is_null() {
            return None;
        }
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
        // sshd's text is a few lines; anything larger is not its.
        (bytes.len() <= 64 * 1024).then(|| String::from_utf8_lossy(bytes).into_owned())
    }
}

fn options(args: &[&CStr]) -> Options {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let opts = Options::parse(&args);
    #[cfg(feature = "test-panic")]
    if opts.test_panic {
        panic!("test_panic: injected panic inside the hook");
    }
    opts
}

fn with_env<R>(opts: &Options, f: impl FnOnce(&mut Env<'_>) -> R) -> R {
    let mut log = Syslog::new(opts.log_socket.clone(), opts.debug);
    if !opts.unknown.is_empty() {
        log.log(
            Level::Err,
            &format!("ignoring unknown module arguments {:?}", opts.unknown),
        );
    }
    #[allow(clippy::disallowed_methods)] // the one clock read of a PAM call
    let now = chrono::Utc::now().timestamp();
    let mut env = Env {
        now,
        dir: &System,
        log: &mut log,
        debug: opts.debug,
        // SAFETY: getuid cannot fail.
        caller_is_root: unsafe { libc::getuid() } == 0,
        sudo: &pam_tap_base::sudo::grants_root,
    };
    f(&mut env)
}

struct PamTap;
pam::pam_hooks!(PamTap);

impl PamHooks for PamTap {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        let opts = options(&args);
        let policy = Policy::load(&opts.config);
        let mut h = Shell(pamh);
        let outcome = with_env(&opts, |env| match &policy {
            Ok(p) if opts.enroll => core::enroll(&mut h, p, p.site(), env),
            Ok(p) => core::authenticate(&mut h, p, p.site(), env),
            Err(e) => core::authenticate_without_policy(&mut h, e, env),
        });
        auth_code(&outcome)
    }

    fn sm_setcred(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        if options(&args).enroll {
            return cred_code(&pam_tap_core::outcome::CredOutcome::KeyStep);
        }
        cred_code(&core::setcred(&Shell(pamh)))
    }

    fn sm_chauthtok(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        let opts = options(&args);
        let policy = Policy::load(&opts.config);
        let outcome = with_env(&opts, |env| {
            let site = policy.as_ref().map(|p| (p, p.site()));
            core::chauthtok(&mut Shell(pamh), phase(flags), site, env)
        });
        change_code(&outcome)
    }

    fn acct_mgmt(_pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        // pam_unix sees the forced change itself (last change = 0); pam_tap has nothing to add.
        options(&args);
        PamResultCode::PAM_IGNORE
    }

    fn sm_open_session(_pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        options(&args);
        PamResultCode::PAM_IGNORE
    }

    fn sm_close_session(_pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        options(&args);
        PamResultCode::PAM_IGNORE
    }
}
