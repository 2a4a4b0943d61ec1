//! One libpq connection: opened per PAM call (or tapctl command) after the environment and
//! transport rules, closed on drop (never kept across fork). Every statement binds its parameters
//! as text (`$1..$n`); results are read as text by column name.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CString};
use std::rc::Rc;

use super::environ::{self, Identity};
use super::libpq::{self, api, take_options, Api, PgConnPtr, PgResultPtr};
use super::transport::{self, Established};
use crate::database::Conninfo;
use pam_tap_base::error::{Error, Result};

/// Who connects: a host's module (the `pam_tap_host` role) or tapctl (a `pam_tap_admin` member).
/// It names the connection in `pg_stat_activity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnRole {
    Host,
    Admin,
    /// sshd's keys command (pam_tap_keys), as a member of pam_tap_keys.
    Keys,
}

impl ConnRole {
    fn application_name(self) -> &'static str {
        match self {
            ConnRole::Host => "pam_tap",
            ConnRole::Admin => "tapctl",
            ConnRole::Keys => "pam_tap_keys",
        }
    }
}

pub struct PgConn {
    api: &'static Api,
    raw: PgConnPtr,
    /// Statements sent so far, each one round trip, and how many the session makes before it is
    /// closed ([`round_trips`]).
    sent: u32,
    pad_to: u32,
    /// The last statement failed as a serialization failure or a deadlock (SQLSTATE 40001,
    /// 40P01): the server rolled its transaction back, and running it again may succeed.
    conflicted: bool,
    /// How long an answer is awaited at most, and whether one that comes with a WARNING is refused
    /// (a host's connection: [`answer`]).
    answer_within: Option<std::time::Duration>,
    refuse_warnings: bool,
    /// An answer was not awaited to its end: nothing more is sent on the connection.
    abandoned: bool,
    /// The latest WARNING's message ([`libpq::keep_warning`]); boxed, libpq holds its address.
    warning: Box<libpq::WarningSlot>,
}

/// The SQLSTATEs after which a transaction may simply run again: what a serializable engine
/// answers the losing writer, and a deadlock's victim.
const RETRYABLE: [&str; 2] = ["40001", "40P01"];

mod answer;
mod round_trips;

fn unsafe_conn(msg: String) -> Error {
    Error::UnsafeConnection(msg)
}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Store(format!("{what} holds a NUL byte")))
}

/// libpq's multi-line messages as one line: each error is one syslog line.
fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The options the URI itself names (no defaults, no environment), as pam_tap reads them and so
/// shows them ([`Conninfo`]'s redaction). The loaded libpq must read them the same way, or what is
/// shown of the URI could differ from what is used: a libpq with other rules is refused.
fn parse_uri(api: &Api, conninfo: &Conninfo, libpq_version: i32) -> Result<BTreeMap<String, String>> {
    let ours = conninfo
        .options()
        .map_err(|e| Error::Config(format!("database: libpq cannot parse the URI: it holds {e}")))?;
    let listed: Vec<(String, Vec<u8>)> = ours.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
    let text = cstring(conninfo.expose(), "the database URI")?;
    if libpq::conninfo_parse(api, &text).as_ref() != Some(&listed) {
        return Err(Error::Config(format!(
            "database: the libpq loaded here ({libpq_version}) reads the URI otherwise than pam_tap, which \
             follows libpq 15: refused"
        )));
    }
    listed
        .into_iter()
        .map(|(k, v)| match String::from_utf8(v) {
            Ok(v) => Ok((k, v)),
            Err(_) => Err(Error::Config(format!("database: the URI's {k} is not UTF-8"))),
        })
        .collect()
}

/// The effective user's name and home directory: libpq's defaults come from them.
fn identity() -> Result<(String, std::path::PathBuf)> {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => Ok((u.name, u.dir)),
        _ => Err(Error::Lookup(format!("no passwd entry for uid {uid}"))),
    }
}

/// The connection's own options as libpq holds them.
fn live_options(api: &Api, raw: PgConnPtr) -> BTreeMap<String, String> {
    // SAFETY: a live connection; the array is copied and freed.
    let opts = unsafe { take_options(api, (api.PQconninfo)(raw)) };
    opts.into_iter().filter_map(|o| o.val.map(|v| (o.keyword, v))).collect()
}

impl PgConn {
    /// Connects under the environment and transport rules ([`environ`], [`transport`]).
    pub fn connect(conninfo: &Conninfo, role: ConnRole) -> Result<PgConn> {
        let api = api()?;
        // SAFETY: no arguments; returns a number.
        let libpq_version = unsafe { (api.PQlibVersion)() };
        let uri = parse_uri(api, conninfo, libpq_version)?;
        // The URI's own fault is named before any the environment adds.
        transport::check_files(&uri, libpq_version).map_err(unsafe_conn)?;
        // SAFETY: PQconndefaults returns a fresh array, copied and freed.
        let known = unsafe { take_options(api, (api.PQconndefaults)()) };
        let (user, home) = identity()?;
        let id = Identity {
            user: &user,
            home: &home,
        };
        let getenv = |v: &str| std::env::var_os(v).map(|s| s.to_string_lossy().into_owned());
        let opts =
            environ::connect_options(&uri, &known, &getenv, &id, role.application_name()).map_err(unsafe_conn)?;
        transport::check_before(&uri, &opts, libpq_version).map_err(unsafe_conn)?;

        let keys: Vec<CString> = opts.keys().map(|k| cstring(k, "an option")).collect::<Result<_>>()?;
        let vals: Vec<CString> = opts.values().map(|v| cstring(v, "an option")).collect::<Result<_>>()?;
        let mut kp: Vec<*const c_char> = keys.iter().map(|k| k.as_ptr()).collect();
        let mut vp: Vec<*const c_char> = vals.iter().map(|v| v.as_ptr()).collect();
        kp.push(std::ptr::null());
        vp.push(std::ptr::null());
        // SAFETY: NULL-terminated arrays of valid C strings; expand_dbname 0: the URI was parsed
        // above, nothing in a value is read as another connection string.
        let raw = unsafe { (api.PQconnectdbParams)(kp.as_ptr(), vp.as_ptr(), 0) };
        if raw.is_null() {
            return Err(Error::Store("libpq could not allocate a connection".into()));
        }
        let conn = PgConn {
            api,
            raw,
            sent: 0,
            conflicted: false,
            pad_to: 0,
            answer_within: None,
            refuse_warnings: false,
            abandoned: false,
            warning: Box::default(),
        };
        let slot: *const libpq::WarningSlot = &*conn.warning;
        // SAFETY: a live connection; the slot lives in the connection's box until PQfinish.
        unsafe { (api.PQsetNoticeReceiver)(raw, Some(libpq::keep_warning), slot.cast_mut().cast()) };
        // SAFETY: a connection object, live until drop.
        if unsafe { (api.PQstatus)(raw) } != libpq::CONNECTION_OK {
            return Err(Error::Store(format!(
                "cannot connect to {conninfo}: {}",
                conn.last_error()
            )));
        }
        let live = live_options(api, raw);
        let (host, hostaddr) = unsafe { (libpq::text((api.PQhost)(raw)), libpq::text((api.PQhostaddr)(raw))) };
        transport::check_after(&Established {
            host: &host,
            hostaddr: &hostaddr,
            ssl_in_use: unsafe { (api.PQsslInUse)(raw) } == 1,
            sslmode: live.get("sslmode").map(String::as_str),
            uri_names_rootcert: uri.get("sslrootcert").is_some_and(|v| !v.trim().is_empty()),
        })
        .map_err(unsafe_conn)?;
        conn.ensure_cloexec()?;
        Ok(conn)
    }

    /// libpq marks its socket close-on-exec; a session started after the login must not inherit
    /// it whatever libpq build is installed, so it is checked (and set) here.
    fn ensure_cloexec(&self) -> Result<()> {
        let fd = unsafe { (self.api.PQsocket)(self.raw) };
        if fd < 0 {
            return Err(Error::Store("the connection has no socket".into()));
        }
        // SAFETY: fcntl on a descriptor libpq owns; only the FD_CLOEXEC bit is touched.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0
            || (flags & libc::FD_CLOEXEC == 0
                && unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0)
        {
            return Err(Error::Store("cannot mark the connection's socket close-on-exec".into()));
        }
        Ok(())
    }

    /// The socket, for tests that check it is close-on-exec.
    pub fn socket(&self) -> c_int {
        unsafe { (self.api.PQsocket)(self.raw) }
    }

    fn last_error(&self) -> String {
        // SAFETY: a live connection; the message is copied.
        one_line(&unsafe { libpq::text((self.api.PQerrorMessage)(self.raw)) })
    }

    /// Whether the last statement lost a serialization conflict or a deadlock (its transaction
    /// was rolled back and may run again).
    pub fn conflicted(&self) -> bool {
        self.conflicted
    }

    fn exec_params(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Outcome> {
        let sql = cstring(sql, "a statement")?;
        let owned: Vec<Option<CString>> = params
            .iter()
            .map(|p| p.map(|s| cstring(s, "a parameter")).transpose())
            .collect::<Result<_>>()?;
        let ptrs: Vec<*const c_char> = owned
            .iter()
            .map(|p| p.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
            .collect();
        let n = c_int::try_from(ptrs.len()).map_err(|_| Error::Store("too many parameters".into()))?;
        // SAFETY: valid C strings (or NULL for SQL NULL), all text format; libpq copies them.
        self.round_trip(|api, raw| unsafe {
            (api.PQsendQueryParams)(
                raw,
                sql.as_ptr(),
                n,
                std::ptr::null(),
                ptrs.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                0,
            )
        })
    }

    /// Runs one statement with `params` bound to `$1..$n`; returns its rows.
    pub fn query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Vec<PgRow>> {
        let out = self.exec_params(sql, params)?;
        Ok(out.rows())
    }

    /// Runs one statement with `params` bound; returns the rows it touched.
    pub fn execute(&mut self, sql: &str, params: &[Option<&str>]) -> Result<u64> {
        let out = self.exec_params(sql, params)?;
        let n = unsafe { libpq::text((self.api.PQcmdTuples)(out.res)) };
        Ok(n.parse().unwrap_or(0))
    }

    /// Runs several statements without parameters (the simple protocol): the schema's files.
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        let sql = cstring(sql, "a statement")?;
        // SAFETY: a live connection and a valid C string.
        self.round_trip(|api, raw| unsafe { (api.PQsendQuery)(raw, sql.as_ptr()) })
            .map(drop)
    }

    pub fn begin(&mut self) -> Result<()> {
        self.batch("BEGIN")
    }

    pub fn commit(&mut self) -> Result<()> {
        self.batch("COMMIT")
    }

    pub fn rollback(&mut self) -> Result<()> {
        self.batch("ROLLBACK")
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        self.pad();
        // SAFETY: the connection was returned by PQconnectdbParams and is finished once.
        unsafe { (self.api.PQfinish)(self.raw) }
    }
}

/// A `PGresult`, cleared on drop.
struct Outcome {
    api: &'static Api,
    res: PgResultPtr,
}

impl Outcome {
    fn rows(&self) -> Vec<PgRow> {
        let api = self.api;
        // SAFETY: a live result; every value is copied out before it is cleared.
        unsafe {
            let (nrows, ncols) = ((api.PQntuples)(self.res), (api.PQnfields)(self.res));
            let names: Rc<[String]> = (0..ncols).map(|c| libpq::text((api.PQfname)(self.res, c))).collect();
            (0..nrows)
                .map(|r| PgRow {
                    api,
                    names: names.clone(),
                    values: (0..ncols)
                        .map(|c| {
                            if (api.PQgetisnull)(self.res, r, c) == 1 {
                                return None;
                            }
                            let len = (api.PQgetlength)(self.res, r, c).max(0) as usize;
                            let p = (api.PQgetvalue)(self.res, r, c).cast::<u8>();
                            Some(std::slice::from_raw_parts(p, len).to_vec())
                        })
                        .collect(),
                })
                .collect()
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        unsafe { (self.api.PQclear)(self.res) }
    }
}

/// One row, values as the server's text.
pub struct PgRow {
    api: &'static Api,
    names: Rc<[String]>,
    values: Vec<Option<Vec<u8>>>,
}

impl std::fmt::Debug for PgRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be hashes or keys: only the columns are shown.
        write!(f, "PgRow({:?})", self.names)
    }
}

impl PgRow {
    fn raw(&self, col: &str) -> Result<Option<&[u8]>> {
        let i = self
            .names
            .iter()
            .position(|n| n == col)
            .ok_or_else(|| Error::Store(format!("the result has no column {col}")))?;
        Ok(self.values[i].as_deref())
    }

    fn bad(col: &str, what: &str) -> Error {
        Error::Store(format!("column {col} is not {what}"))
    }

    pub fn get_opt_str(&self, col: &str) -> Result<Option<String>> {
        self.raw(col)?
            .map(|b| String::from_utf8(b.to_vec()).map_err(|_| Self::bad(col, "UTF-8 text")))
            .transpose()
    }

    pub fn get_str(&self, col: &str) -> Result<String> {
        self.get_opt_str(col)?.ok_or_else(|| Self::bad(col, "set"))
    }

    pub fn get_opt_i64(&self, col: &str) -> Result<Option<i64>> {
        self.get_opt_str(col)?
            .map(|s| s.parse().map_err(|_| Self::bad(col, "an integer")))
            .transpose()
    }

    pub fn get_i64(&self, col: &str) -> Result<i64> {
        self.get_opt_i64(col)?.ok_or_else(|| Self::bad(col, "set"))
    }

    pub fn get_bool(&self, col: &str) -> Result<bool> {
        match self.raw(col)? {
            Some(b"t") => Ok(true),
            Some(b"f") => Ok(false),
            _ => Err(Self::bad(col, "a boolean")),
        }
    }

    /// A `bytea` column (hex or escape output, as the server sends it).
    pub fn get_bytes(&self, col: &str) -> Result<Vec<u8>> {
        let raw = self.raw(col)?.ok_or_else(|| Self::bad(col, "set"))?;
        let text = CString::new(raw).map_err(|_| Self::bad(col, "bytea text"))?;
        let mut len = 0usize;
        // SAFETY: a valid C string; libpq allocates the decoded bytes, copied and freed.
        unsafe {
            let p = (self.api.PQunescapeBytea)(text.as_ptr().cast(), &mut len);
            if p.is_null() {
                return Err(Self::bad(col, "bytea"));
            }
            let out = std::slice::from_raw_parts(p, len).to_vec();
            (self.api.PQfreemem)(p.cast());
            Ok(out)
        }
    }
}
