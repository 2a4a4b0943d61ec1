//! libpq, loaded with dlopen the first time a `postgresql://` store is used and kept loaded for the
//! life of the process (never dlclosed: libpq and OpenSSL keep process-wide state). The module is not
//! linked against it, so a host on SQLite never maps libpq or the TLS, GSSAPI and LDAP libraries
//! it pulls in. Only the calls pam_tap makes are resolved; a missing one fails the load.

use std::ffi::{c_char, c_int, c_uchar, c_uint, c_void, CStr};
use std::sync::OnceLock;

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

use pam_tap_base::error::{Error, Result};

/// The soname of libpq (Debian package `libpq5`).
pub const LIBPQ: &str = "libpq.so.5";

/// `PGconn *`, `PGresult *`: opaque.
pub type PgConnPtr = *mut c_void;
pub type PgResultPtr = *mut c_void;

/// `PQconninfoOption` (libpq-fe.h).
#[repr(C)]
pub struct ConninfoOption {
    pub keyword: *mut c_char,
    pub envvar: *mut c_char,
    pub compiled: *mut c_char,
    pub val: *mut c_char,
    pub label: *mut c_char,
    pub dispchar: *mut c_char,
    pub dispsize: c_int,
}

/// `PQnoticeReceiver`.
pub type NoticeReceiver = Option<unsafe extern "C" fn(*mut c_void, *const c_void)>;

/// Where [`keep_warning`] puts the primary message of the latest WARNING the server sent.
pub type WarningSlot = std::cell::RefCell<Option<String>>;

/// Takes the server's notices instead of libpq's default, which prints them on the stderr of sshd
/// or login: a WARNING's message is kept in the [`WarningSlot`] `arg` points to, the rest dropped.
///
/// # Safety
/// `arg` points to a live [`WarningSlot`]; `res` is the notice libpq passes.
pub unsafe extern "C" fn keep_warning(arg: *mut c_void, res: *const c_void) {
    let Ok(api) = api() else { return };
    let res = res.cast_mut();
    if text((api.PQresultErrorField)(res, PG_DIAG_SEVERITY_NONLOCALIZED)) != "WARNING" {
        return;
    }
    let message = text((api.PQresultErrorField)(res, PG_DIAG_MESSAGE_PRIMARY));
    // No borrow is held across a libpq call; a busy slot (never) drops the message, not the process.
    if let Ok(mut slot) = (*arg.cast::<WarningSlot>()).try_borrow_mut() {
        *slot = Some(message);
    }
}

/// `ConnStatusType::CONNECTION_OK`.
pub const CONNECTION_OK: c_int = 0;
/// `ExecStatusType` values pam_tap reads.
pub const PGRES_COMMAND_OK: c_int = 1;
pub const PGRES_TUPLES_OK: c_int = 2;
/// `PG_DIAG_SQLSTATE`.
pub const PG_DIAG_SQLSTATE: c_int = b'C' as c_int;
/// `PG_DIAG_SEVERITY_NONLOCALIZED`, `PG_DIAG_MESSAGE_PRIMARY`.
pub const PG_DIAG_SEVERITY_NONLOCALIZED: c_int = b'V' as c_int;
pub const PG_DIAG_MESSAGE_PRIMARY: c_int = b'M' as c_int;

macro_rules! api {
    ($($name:ident: fn($($arg:ty),*) -> $ret:ty;)*) => {
        /// The resolved entry points, with the library that holds them.
        #[allow(non_snake_case)]
        pub struct Api {
            _lib: Library,
            $(pub $name: unsafe extern "C" fn($($arg),*) -> $ret,)*
        }

        impl Api {
            fn load() -> std::result::Result<Api, String> {
                // SAFETY: loading libpq runs its (and OpenSSL's) constructors, which start no
                // thread; RTLD_LOCAL keeps its symbols out of the host process's namespace.
                let lib = unsafe { Library::open(Some(LIBPQ), RTLD_NOW | RTLD_LOCAL) }
                    .map_err(|e| format!("cannot load {LIBPQ} (install libpq5): {e}"))?;
                Ok(Api {
                    $($name: {
                        // SAFETY: the type is libpq-fe.h's prototype of this symbol.
                        let sym = unsafe {
                            lib.get::<unsafe extern "C" fn($($arg),*) -> $ret>(concat!(stringify!($name), "\0").as_bytes())
                        }
                        .map_err(|e| format!("{LIBPQ} lacks {}: {e}", stringify!($name)))?;
                        *sym
                    },)*
                    _lib: lib,
                })
            }
        }
    };
}

api! {
    PQconnectdbParams: fn(*const *const c_char, *const *const c_char, c_int) -> PgConnPtr;
    PQstatus: fn(PgConnPtr) -> c_int;
    PQerrorMessage: fn(PgConnPtr) -> *const c_char;
    PQfinish: fn(PgConnPtr) -> ();
    PQsocket: fn(PgConnPtr) -> c_int;
    PQsetNoticeReceiver: fn(PgConnPtr, NoticeReceiver, *mut c_void) -> NoticeReceiver;
    PQhost: fn(PgConnPtr) -> *const c_char;
    PQhostaddr: fn(PgConnPtr) -> *const c_char;
    PQsslInUse: fn(PgConnPtr) -> c_int;
    PQconninfo: fn(PgConnPtr) -> *mut ConninfoOption;
    PQconninfoParse: fn(*const c_char, *mut *mut c_char) -> *mut ConninfoOption;
    PQconndefaults: fn() -> *mut ConninfoOption;
    PQconninfoFree: fn(*mut ConninfoOption) -> ();
    PQfreemem: fn(*mut c_void) -> ();
    PQsendQuery: fn(PgConnPtr, *const c_char) -> c_int;
    PQsendQueryParams: fn(
        PgConnPtr,
        *const c_char,
        c_int,
        *const c_uint,
        *const *const c_char,
        *const c_int,
        *const c_int,
        c_int
    ) -> c_int;
    PQgetResult: fn(PgConnPtr) -> PgResultPtr;
    PQconsumeInput: fn(PgConnPtr) -> c_int;
    PQisBusy: fn(PgConnPtr) -> c_int;
    PQresultStatus: fn(PgResultPtr) -> c_int;
    PQresultErrorMessage: fn(PgResultPtr) -> *const c_char;
    PQresultErrorField: fn(PgResultPtr, c_int) -> *const c_char;
    PQntuples: fn(PgResultPtr) -> c_int;
    PQnfields: fn(PgResultPtr) -> c_int;
    PQfname: fn(PgResultPtr, c_int) -> *const c_char;
    PQgetvalue: fn(PgResultPtr, c_int, c_int) -> *const c_char;
    PQgetlength: fn(PgResultPtr, c_int, c_int) -> c_int;
    PQgetisnull: fn(PgResultPtr, c_int, c_int) -> c_int;
    PQcmdTuples: fn(PgResultPtr) -> *const c_char;
    PQclear: fn(PgResultPtr) -> ();
    PQunescapeBytea: fn(*const c_uchar, *mut usize) -> *mut c_uchar;
    PQlibVersion: fn() -> c_int;
}

static API: OnceLock<std::result::Result<Api, String>> = OnceLock::new();

/// libpq, loaded on first use and kept for the life of the process.
pub fn api() -> Result<&'static Api> {
    API.get_or_init(Api::load).as_ref().map_err(|e| Error::Store(e.clone()))
}

/// A C string from libpq, copied (lossy); NULL gives "".
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
pub unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// One option of a `PQconninfoOption` array, copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionInfo {
    pub keyword: String,
    pub envvar: Option<String>,
    pub compiled: Option<String>,
    pub val: Option<String>,
}

/// Copies a `PQconninfoOption` array and frees it.
///
/// # Safety
/// `opts` is NULL or an array returned by libpq and not yet freed.
pub unsafe fn take_options(api: &Api, opts: *mut ConninfoOption) -> Vec<OptionInfo> {
    let mut out = Vec::new();
    if opts.is_null() {
        return out;
    }
    let opt_str = |p: *mut c_char| (!p.is_null()).then(|| text(p));
    let mut p = opts;
    while !(*p).keyword.is_null() {
        out.push(OptionInfo {
            keyword: text((*p).keyword),
            envvar: opt_str((*p).envvar),
            compiled: opt_str((*p).compiled),
            val: opt_str((*p).val),
        });
        p = p.add(1);
    }
    (api.PQconninfoFree)(opts);
    out
}

/// libpq's own reading of a connection string (`PQconninfoParse`: no defaults, no environment):
/// the options it sets, keyword → value as bytes, or `None` when it refuses the string. Its
/// message is freed unread: it may quote the string, and so a password.
pub fn conninfo_parse(api: &Api, conninfo: &CStr) -> Option<Vec<(String, Vec<u8>)>> {
    let mut err: *mut c_char = std::ptr::null_mut();
    // SAFETY: a valid C string; libpq allocates the array and the message, both freed here.
    let opts = unsafe { (api.PQconninfoParse)(conninfo.as_ptr(), &mut err) };
    if !err.is_null() {
        unsafe { (api.PQfreemem)(err.cast()) };
    }
    if opts.is_null() {
        return None;
    }
    let mut out = Vec::new();
    // SAFETY: an array returned by libpq, ended by a NULL keyword; values are copied, then freed.
    unsafe {
        let mut p = opts;
        while !(*p).keyword.is_null() {
            if !(*p).val.is_null() {
                let val = CStr::from_ptr((*p).val).to_bytes().to_vec();
                out.push((text((*p).keyword), val));
            }
            p = p.add(1);
        }
        (api.PQconninfoFree)(opts);
    }
    Some(out)
}
