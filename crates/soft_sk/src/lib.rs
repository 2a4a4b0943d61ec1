//! A software security key for OpenSSH: a "security key provider" (openssh-portable's sk-api.h,
//! the API of OpenSSH 9.2) that `ssh-keygen -w`, `ssh -o SecurityKeyProvider=` and ssh-sk-helper
//! load, making `sk-ssh-ed25519@openssh.com` and `sk-ecdsa-sha2-nistp256@openssh.com` keys without
//! a device.
//!
//! NEVER INSTALL THIS: it is a key whose secret is in a file. The key handle OpenSSH keeps in the
//! user's private key file is the private key itself, so the file alone signs. It exists so the
//! tests can enroll and use `sk-` keys through the real ssh-keygen, ssh and sshd. It asserts user
//! presence whenever a key asks for it, and user verification only when the key was enrolled with
//! `verify-required` and a (never checked) PIN was given. No attestation, no resident keys.
//!
//! OpenSSH frees every buffer it gets back with free(), so they all come from libc's allocator.

mod keys;

use keys::Alg;
use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// The API version OpenSSH 9.2 accepts (its major half must match SSH_SK_VERSION_MAJOR).
const SSH_SK_VERSION_MAJOR: u32 = 0x000a_0000;

const SSH_SK_RESIDENT_KEY: u8 = 0x20;
/// The flags an enrolled key may keep: presence and verification required.
const KEY_FLAGS: u8 = keys::USER_PRESENCE | keys::USER_VERIFIED;

const SSH_SK_ERR_GENERAL: c_int = -1;
const SSH_SK_ERR_UNSUPPORTED: c_int = -2;
const SSH_SK_ERR_PIN_REQUIRED: c_int = -3;

/// sk-api.h's `struct sk_enroll_response`.
#[repr(C)]
pub struct SkEnrollResponse {
    flags: u8,
    public_key: *mut u8,
    public_key_len: usize,
    key_handle: *mut u8,
    key_handle_len: usize,
    signature: *mut u8,
    signature_len: usize,
    attestation_cert: *mut u8,
    attestation_cert_len: usize,
    authdata: *mut u8,
    authdata_len: usize,
}

/// sk-api.h's `struct sk_sign_response`.
#[repr(C)]
pub struct SkSignResponse {
    flags: u8,
    counter: u32,
    sig_r: *mut u8,
    sig_r_len: usize,
    sig_s: *mut u8,
    sig_s_len: usize,
}

/// sk-api.h's `struct sk_resident_key`: only its pointer type is used (no resident keys here).
#[repr(C)]
pub struct SkResidentKey {
    alg: u32,
    slot: usize,
    application: *mut c_char,
    key: SkEnrollResponse,
    flags: u8,
    user_id: *mut u8,
    user_id_len: usize,
}

/// sk-api.h's `struct sk_option`: a NULL-terminated array of these comes with each call.
#[repr(C)]
pub struct SkOption {
    name: *mut c_char,
    value: *mut c_char,
    required: u8,
}

/// A panic must not unwind into OpenSSH: it becomes a general error.
fn guarded(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(SSH_SK_ERR_GENERAL)
}

/// A malloc'd copy of `bytes` (at least one byte allocated, so an empty copy is not NULL).
fn c_copy(bytes: &[u8]) -> Option<(*mut u8, usize)> {
    // SAFETY: a fresh allocation of at least bytes.len() bytes, written before it is handed out.
    unsafe {
        let p = libc::malloc(bytes.len().max(1)) as *mut u8;
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        Some((p, bytes.len()))
    }
}

/// A zeroed, malloc'd `T` (every pointer in it NULL), for OpenSSH to free.
fn c_zeroed<T>() -> *mut T {
    // SAFETY: calloc returns zeroed memory or NULL.
    unsafe { libc::calloc(1, std::mem::size_of::<T>()) as *mut T }
}

/// # Safety
/// `p` is NULL or points to `len` readable bytes.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, len)
    }
}

/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn application<'a>(p: *const c_char) -> Option<&'a [u8]> {
    let app = (!p.is_null()).then(|| CStr::from_ptr(p).to_bytes())?;
    (!app.is_empty()).then_some(app)
}

/// Whether every option OpenSSH marked required is one this key can honour: "device" (there is
/// only this one) and "user" (a user id, which a key that is not resident does not keep).
///
/// # Safety
/// `options` is NULL or a NULL-terminated array of valid `SkOption` pointers.
unsafe fn options_supported(options: *mut *mut SkOption) -> bool {
    if options.is_null() {
        return true;
    }
    let mut i = 0;
    while let Some(option) = (*options.add(i)).as_ref() {
        let name = (!option.name.is_null()).then(|| CStr::from_ptr(option.name).to_bytes());
        if option.required != 0 && !matches!(name, Some(b"device" | b"user")) {
            return false;
        }
        i += 1;
    }
    true
}

/// The API version this provider implements.
#[no_mangle]
pub extern "C" fn sk_api_version() -> u32 {
    SSH_SK_VERSION_MAJOR
}

/// Makes a new key. The challenge would be signed in an attestation, which this key does not give.
///
/// # Safety
/// The pointers are as sk-api.h describes them for `sk_enroll`.
#[no_mangle]
pub unsafe extern "C" fn sk_enroll(
    alg: u32,
    _challenge: *const u8,
    _challenge_len: usize,
    application_name: *const c_char,
    flags: u8,
    _pin: *const c_char,
    options: *mut *mut SkOption,
    enroll_response: *mut *mut SkEnrollResponse,
) -> c_int {
    guarded(|| {
        if enroll_response.is_null() {
            return SSH_SK_ERR_GENERAL;
        }
        *enroll_response = ptr::null_mut();
        let Some(alg) = Alg::from_api(alg) else {
            return SSH_SK_ERR_UNSUPPORTED;
        };
        if flags & SSH_SK_RESIDENT_KEY != 0 || !options_supported(options) {
            return SSH_SK_ERR_UNSUPPORTED;
        }
        if application(application_name).is_none() {
            return SSH_SK_ERR_GENERAL;
        }
        let Ok(credential) = keys::new_credential(alg) else {
            return SSH_SK_ERR_GENERAL;
        };
        let response = c_zeroed::<SkEnrollResponse>();
        let Some(r) = response.as_mut() else {
            return SSH_SK_ERR_GENERAL;
        };
        // OpenSSH keeps these flags in the key, and passes them back to every sk_sign.
        r.flags = flags & KEY_FLAGS;
        let filled = (|| {
            (r.public_key, r.public_key_len) = c_copy(&credential.public_key)?;
            (r.key_handle, r.key_handle_len) = c_copy(&credential.key_handle)?;
            // No attestation: an empty signature (OpenSSH's own test provider answers the same).
            (r.signature, r.signature_len) = c_copy(&[])?;
            Some(())
        })();
        if filled.is_none() {
            free_enroll_response(response);
            return SSH_SK_ERR_GENERAL;
        }
        *enroll_response = response;
        0
    })
}

/// # Safety
/// `r` came from `c_zeroed` and its buffers from `c_copy` (or are NULL).
unsafe fn free_enroll_response(r: *mut SkEnrollResponse) {
    let resp = &mut *r;
    for p in [resp.public_key, resp.key_handle, resp.signature] {
        libc::free(p.cast());
    }
    libc::free(r.cast());
}

/// Signs `data` for `application_name` with the key in `key_handle`. A key enrolled with
/// verification required and no PIN given answers SSH_SK_ERR_PIN_REQUIRED, as a real key does,
/// and OpenSSH asks the user for a PIN and calls again.
///
/// # Safety
/// The pointers are as sk-api.h describes them for `sk_sign`.
#[no_mangle]
pub unsafe extern "C" fn sk_sign(
    alg: u32,
    data: *const u8,
    data_len: usize,
    application_name: *const c_char,
    key_handle: *const u8,
    key_handle_len: usize,
    flags: u8,
    pin: *const c_char,
    options: *mut *mut SkOption,
    sign_response: *mut *mut SkSignResponse,
) -> c_int {
    guarded(|| {
        if sign_response.is_null() {
            return SSH_SK_ERR_GENERAL;
        }
        *sign_response = ptr::null_mut();
        let Some(alg) = Alg::from_api(alg) else {
            return SSH_SK_ERR_UNSUPPORTED;
        };
        if !options_supported(options) {
            return SSH_SK_ERR_UNSUPPORTED;
        }
        let Some(app) = application(application_name) else {
            return SSH_SK_ERR_GENERAL;
        };
        let pin_given = !pin.is_null() && *pin != 0;
        let Ok(signature_flags) = keys::signature_flags(flags, pin_given) else {
            return SSH_SK_ERR_PIN_REQUIRED;
        };
        let counter = signature_counter();
        let message = keys::signed_message(app, signature_flags, counter, bytes(data, data_len));
        let Some(parts) = keys::sign(alg, bytes(key_handle, key_handle_len), &message) else {
            return SSH_SK_ERR_GENERAL;
        };
        let response = c_zeroed::<SkSignResponse>();
        let Some(r) = response.as_mut() else {
            return SSH_SK_ERR_GENERAL;
        };
        (r.flags, r.counter) = (signature_flags, counter);
        let filled = (|| {
            (r.sig_r, r.sig_r_len) = c_copy(&parts.r)?;
            if let Some(s) = &parts.s {
                (r.sig_s, r.sig_s_len) = c_copy(s)?;
            }
            Some(())
        })();
        if filled.is_none() {
            libc::free(r.sig_r.cast());
            libc::free(response.cast());
            return SSH_SK_ERR_GENERAL;
        }
        *sign_response = response;
        0
    })
}

/// A counter that grows between signatures, as a real key's does, without a state file: the
/// seconds since 1970 (OpenSSH's sshd reads it but requires nothing of it).
#[allow(clippy::disallowed_methods)] // the clock rule is the core's; a fixture has no front end
fn signature_counter() -> u32 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_secs() as u32
}

/// This key keeps nothing on itself: it has no resident keys to list.
///
/// # Safety
/// The pointers are as sk-api.h describes them for `sk_load_resident_keys`.
#[no_mangle]
pub unsafe extern "C" fn sk_load_resident_keys(
    _pin: *const c_char,
    _options: *mut *mut SkOption,
    rks: *mut *mut *mut SkResidentKey,
    nrks: *mut usize,
) -> c_int {
    if !rks.is_null() {
        *rks = ptr::null_mut();
    }
    if !nrks.is_null() {
        *nrks = 0;
    }
    SSH_SK_ERR_UNSUPPORTED
}
