//! `tapctl doctor`: checks the things that lock people out or let strangers in, each with a one-line
//! fix. It only reads: files, the PAM stacks, sshd's settings and the database (opened read-only).
//!
//! Every path is resolved under [`Options::root`], so a test can point the doctor at a fixture tree;
//! the clock is a parameter of [`checks`].

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use pam_tap::config::{Policy, DEFAULT_CONFIG};

mod display_managers;
use pam_tap::store::SCHEMA_VERSION;

/// No pam_tap was built before this time (2026-11-01T00:00:00Z): a clock before it is wrong.
const BUILD_FLOOR: i64 = 1_793_491_200;

/// Where PAM looks for modules named without a path.
const MODULE_DIRS: [&str; 4] = [
    "usr/lib/x86_64-linux-gnu/security",
    "lib/x86_64-linux-gnu/security",
    "usr/lib64/security",
    "lib/security",
];

/// The services whose stacks decide most logins (Debian's common-* and Fedora's *-auth first).
const SERVICES: [&str; 8] = [
    "common-auth",
    "common-password",
    "system-auth",
    "password-auth",
    "sshd",
    "login",
    "su",
    "sudo",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// One finding: what was checked, how it stands, and the one line that fixes it.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(check: &str, status: Level, message: impl Into<String>, fix: Option<String>) -> Self {
        Self {
            check: check.to_owned(),
            status,
            message: message.into(),
            fix,
        }
    }
    fn ok(check: &str, message: impl Into<String>) -> Self {
        Self::new(check, Level::Ok, message, None)
    }
    fn warn(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Level::Warn, message, Some(fix.into()))
    }
    fn fail(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Level::Fail, message, Some(fix.into()))
    }
}

/// How sshd's effective settings are found.
#[derive(Clone, Debug)]
pub enum Sshd {
    /// Ask `sshd -T`, falling back to reading sshd_config under the root.
    Ask,
    /// Read `etc/ssh/sshd_config` (and its Includes) under the root only.
    ConfigFile,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// The policy file, as tapctl was given it (absolute, not re-rooted).
    pub config: PathBuf,
    /// Prefix for every system path (`/` normally; a fixture tree in tests). The database path
    /// named in the config is looked up under it too.
    pub root: PathBuf,
    pub sshd: Sshd,
    /// The earliest plausible time (seconds since the epoch); an earlier clock is wrong.
    pub clock_floor: i64,
}

impl Options {
    /// The installed system: root `/`, sshd asked, floor = the build floor or tapctl's own mtime.
    pub fn system(config: &Path) -> Self {
        let exe_time = std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| m.mtime())
            .unwrap_or(0);
        Self {
            config: config.to_path_buf(),
            root: PathBuf::from("/"),
            sshd: Sshd::Ask,
            clock_floor: BUILD_FLOOR.max(exe_time),
        }
    }

    fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.root.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    fn is_system_root(&self) -> bool {
        self.root == Path::new("/")
    }
}

/// Runs every check and prints them (text or JSON); returns the exit code: 1 if anything failed.
/// `root` re-roots every system path (for tests and for checking a mounted image); `now` is the
/// front end's one clock read, in seconds since the epoch.
pub fn run(config: &Path, root: Option<&Path>, json: bool, now: i64) -> i32 {
    let mut opts = Options::system(config);
    if let Some(r) = root {
        opts.root = r.to_path_buf();
        opts.sshd = Sshd::ConfigFile;
    }
    let found = checks(&opts, now);
    if json {
        println!("{}", to_json(&found));
    } else {
        print!("{}", render(&opts, &found));
    }
    exit_code(&found)
}

pub fn exit_code(found: &[Check]) -> i32 {
    i32::from(found.iter().any(|c| c.status == Level::Fail))
}

/// `{"checks":[{check,status,message,fix?}],"ok":N,"warn":N,"fail":N}`
pub fn to_json(found: &[Check]) -> String {
    let count = |l| found.iter().filter(|c| c.status == l).count();
    serde_json::json!({
        "checks": found,
        "ok": count(Level::Ok),
        "warn": count(Level::Warn),
        "fail": count(Level::Fail),
    })
    .to_string()
}

pub fn render(opts: &Options, found: &[Check]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "pam_tap doctor: {}", opts.config.display());
    for c in found {
        let _ = writeln!(out, "  {:<4}  {:<22} {}", c.status.label(), c.check, c.message);
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "  {:<4}  {:<22} fix: {fix}", "", "");
        }
    }
    let count = |l| found.iter().filter(|c| c.status == l).count();
    let _ = writeln!(
        out,
        "{} ok, {} warning(s), {} failure(s)",
        count(Level::Ok),
        count(Level::Warn),
        count(Level::Fail)
    );
    out
}

/// Every check, in the order a reader fixes them: policy, database, module, PAM stacks, sshd, clock.
pub fn checks(opts: &Options, now: i64) -> Vec<Check> {
    let mut out = Vec::new();
    let policy = check_config(opts, &mut out);
    let high_water = policy.as_ref().and_then(|p| check_database(opts, p, &mut out));
    check_module(opts, &mut out);
    check_pam(opts, policy.as_ref(), &mut out);
    display_managers::check_display_managers(opts, &mut out);
    check_sshd(opts, &mut out);
    check_clock(opts, now, high_water, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Files

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    File,
    Dir,
}

/// A root-owned, not group/world-writable, non-symlink file or directory; `private` also wants
/// no access at all for group and others. Returns a finding for the first problem, None if sound.
fn file_problem(check: &str, path: &Path, kind: Kind, private: bool) -> Option<Check> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Some(Check::fail(
                check,
                format!("{shown}: {e}"),
                "tapctl init (creates the config if missing and the database)",
            ))
        }
    };
    if meta.file_type().is_symlink() {
        return Some(Check::fail(
            check,
            format!("{shown} is a symlink: pam_tap refuses it"),
            format!("replace it with the file itself: cp --remove-destination \"$(readlink -f {shown})\" {shown}"),
        ));
    }
    let kind_ok = match kind {
        Kind::File => meta.is_file(),
        Kind::Dir => meta.is_dir(),
    };
    if !kind_ok {
        let what = if kind == Kind::File {
            "a regular file"
        } else {
            "a directory"
        };
        return Some(Check::fail(
            check,
            format!("{shown} is not {what}"),
            format!("move it away and run tapctl init: mv {shown} {shown}.bad"),
        ));
    }
    if meta.uid() != 0 {
        return Some(Check::fail(
            check,
            format!("{shown} is owned by uid {}, not root: pam_tap refuses it", meta.uid()),
            format!("chown root:root {shown}"),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(Check::fail(
            check,
            format!("{shown} is group- or world-writable (mode {mode:04o}): pam_tap refuses it"),
            format!("chmod go-w {shown}"),
        ));
    }
    if private && mode & 0o077 != 0 {
        let want = if kind == Kind::Dir { "0700" } else { "0600" };
        return Some(Check::warn(
            check,
            format!("{shown} is readable by group or others (mode {mode:04o}); it holds pass hashes and the audit log"),
            format!("chmod {want} {shown}"),
        ));
    }
    None
}

fn mode_of(path: &Path) -> String {
    std::fs::symlink_metadata(path)
        .map(|m| format!("{:04o}", m.mode() & 0o7777))
        .unwrap_or_else(|_| "?".into())
}

fn check_config(opts: &Options, out: &mut Vec<Check>) -> Option<Policy> {
    const C: &str = "config";
    let path = &opts.config;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Some(p) = file_problem(C, dir, Kind::Dir, false) {
            out.push(p);
            return None;
        }
    }
    if let Some(p) = file_problem(C, path, Kind::File, false) {
        out.push(p);
        return None;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            out.push(Check::fail(
                C,
                format!("{}: {e}", path.display()),
                "make it readable UTF-8 TOML",
            ));
            return None;
        }
    };
    match Policy::parse(&text) {
        Ok(p) => {
            let state = if p.enabled {
                "passes are enabled"
            } else {
                "enabled = false: no pass logs anyone in until you turn it on"
            };
            out.push(Check::ok(
                C,
                format!("{} valid, root-owned, mode {}; {state}", path.display(), mode_of(path)),
            ));
            Some(p)
        }
        Err(e) => {
            out.push(Check::fail(
                C,
                format!("{}: {e}: pam_tap refuses every pass", path.display()),
                format!(
                    "fix the key it names (reference: man pam_tap.toml); check with: tapctl --config {} policy",
                    path.display()
                ),
            ));
            None
        }
    }
}

/// Returns the database's clock high-water mark when it could be read.
fn check_database(opts: &Options, policy: &Policy, out: &mut Vec<Check>) -> Option<i64> {
    const C: &str = "database";
    let db = opts.path(&policy.database);
    let dir = db.parent().map(Path::to_path_buf).unwrap_or_default();
    if !dir.exists() && !db.exists() {
        out.push(Check::fail(
            C,
            format!("{} does not exist: every pass is refused", db.display()),
            "tapctl init",
        ));
        return None;
    }
    let mut warned = false;
    if let Some(p) = file_problem(C, &dir, Kind::Dir, true) {
        let fatal = p.status == Level::Fail;
        out.push(p);
        if fatal {
            return None;
        }
        warned = true;
    }
    if !db.exists() {
        out.push(Check::fail(
            C,
            format!("{} does not exist: every pass is refused", db.display()),
            "tapctl init",
        ));
        return None;
    }
    let mut files = vec![db.clone()];
    for suffix in ["-wal", "-shm"] {
        let mut s = db.clone().into_os_string();
        s.push(suffix);
        let s = PathBuf::from(s);
        if std::fs::symlink_metadata(&s).is_ok() {
            files.push(s);
        }
    }
    for f in &files {
        if let Some(p) = file_problem(C, f, Kind::File, true) {
            let fatal = p.status == Level::Fail;
            out.push(p);
            if fatal {
                return None;
            }
            warned = true;
        }
    }

    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
        | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn = match rusqlite::Connection::open_with_flags(&db, flags) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::fail(
                C,
                format!("{}: {e}", db.display()),
                "restore it from backup, or move it away and run tapctl init",
            ));
            return None;
        }
    };
    let version: rusqlite::Result<i64> = conn.pragma_query_value(None, "user_version", |r| r.get(0));
    let version = match version {
        Ok(v) => v,
        Err(e) => {
            out.push(Check::fail(
                C,
                format!("{} is not a readable SQLite database: {e}", db.display()),
                "restore it from backup, or move it away and run tapctl init",
            ));
            return None;
        }
    };
    if version < SCHEMA_VERSION {
        out.push(Check::fail(
            "schema",
            format!(
                "{} has schema version {version}, this pam_tap needs {SCHEMA_VERSION}: every pass is refused",
                db.display()
            ),
            "tapctl init (upgrades the schema in place)",
        ));
        return None;
    }
    if version > SCHEMA_VERSION {
        out.push(Check::fail(
            "schema",
            format!(
                "{} has schema version {version}, newer than this pam_tap ({SCHEMA_VERSION})",
                db.display()
            ),
            "install the pam_tap that wrote it",
        ));
        return None;
    }
    if !warned {
        out.push(Check::ok(
            C,
            format!(
                "{} root-owned, mode {} in a {} directory",
                db.display(),
                mode_of(&db),
                mode_of(&dir)
            ),
        ));
    }
    out.push(Check::ok(
        "schema",
        format!("version {version}, as this pam_tap expects"),
    ));
    conn.query_row("SELECT value FROM meta WHERE key = 'clock'", [], |r| r.get(0))
        .ok()
}

fn find_module(opts: &Options, name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Some(opts.path(name));
    }
    MODULE_DIRS
        .iter()
        .map(|d| opts.root.join(d).join(name))
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

fn check_module(opts: &Options, out: &mut Vec<Check>) {
    const C: &str = "module";
    match find_module(opts, "pam_tap.so") {
        None => out.push(Check::warn(
            C,
            "pam_tap.so is not in any PAM module directory",
            "install the pam-tap package (or copy libpam_tap.so to /usr/lib/x86_64-linux-gnu/security/pam_tap.so)",
        )),
        Some(p) => match file_problem(C, &p, Kind::File, false) {
            Some(mut problem) => {
                // A module anyone can replace runs as root in every login.
                problem.status = Level::Fail;
                out.push(problem)
            }
            None => out.push(Check::ok(
                C,
                format!("{} root-owned, mode {}", p.display(), mode_of(&p)),
            )),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// PAM stacks

#[derive(Clone, Debug)]
struct PamLine {
    control: String,
    module: String,
    args: Vec<String>,
}

impl PamLine {
    fn module_name(&self) -> &str {
        self.module.rsplit('/').next().unwrap_or(&self.module)
    }
    fn has_arg(&self, a: &str) -> bool {
        self.args.iter().any(|x| x == a)
    }
    fn arg_value(&self, key: &str) -> Option<&str> {
        self.args.iter().find_map(|x| x.strip_prefix(key)?.strip_prefix('='))
    }
}

/// Splits one pam.d line into its fields; `[...]` controls may hold spaces.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for ch in line.chars() {
        match ch {
            '[' => {
                depth += 1;
                cur.push(ch)
            }
            ']' => {
                depth -= 1;
                cur.push(ch)
            }
            c if c.is_whitespace() && depth <= 0 => {
                if !cur.is_empty() {
                    fields.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        fields.push(cur);
    }
    fields
}

/// The `kind` lines of a service, with `@include`, `include` and `substack` expanded.
fn stack(pam_dir: &Path, service: &str, kind: &str, depth: u32) -> Result<Vec<PamLine>, String> {
    if depth > 8 {
        return Err(format!("{service}: includes nest too deep"));
    }
    let path = pam_dir.join(service);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.replace("\\\n", " ");
    let mut lines = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f = split_fields(line);
        if f[0] == "@include" {
            if let Some(inc) = f.get(1) {
                lines.extend(stack(pam_dir, inc, kind, depth + 1)?);
            }
            continue;
        }
        if f.len() < 3 || f[0].trim_start_matches('-') != kind {
            continue;
        }
        if f[1] == "include" || f[1] == "substack" {
            lines.extend(stack(pam_dir, &f[2], kind, depth + 1)?);
            continue;
        }
        lines.push(PamLine {
            control: f[1].clone(),
            module: f[2].clone(),
            args: f[3..].to_vec(),
        });
    }
    Ok(lines)
}

/// How far a `[success=N ...]` jump goes, if the control jumps on success.
fn success_jump(control: &str) -> Option<usize> {
    let inner = control.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("success="))
        .and_then(|v| v.parse().ok())
}

/// Findings for one stack (`auth` or `password`) of one service: (level, text, fix).
fn judge_stack(lines: &[PamLine], kind: &str, opts: &Options) -> Vec<(Level, String, Option<String>)> {
    let mut found = Vec::new();
    let tap = lines.iter().position(|l| l.module_name() == "pam_tap.so");
    let unix = lines.iter().position(|l| l.module_name() == "pam_unix.so");
    let Some(t) = tap else {
        return found;
    };
    let line = &lines[t];
    let reads = line.arg_value("config").unwrap_or(DEFAULT_CONFIG);
    if opts.path(reads) != opts.config {
        found.push((
            Level::Warn,
            format!("{kind}: pam_tap reads {reads}, not the file checked here"),
            Some(format!("tapctl --config {reads} doctor")),
        ));
    }
    match unix {
        Some(u) if u < t => found.push((
            Level::Fail,
            format!("{kind}: pam_unix comes before pam_tap, so pam_unix decides alone"),
            Some(
                "put pam_tap before pam_unix: pam-auth-update --enable pam-tap (Debian) or edit the authselect profile"
                    .into(),
            ),
        )),
        Some(u) => {
            let unix_line = &lines[u];
            if kind == "auth" && !(unix_line.has_arg("try_first_pass") || unix_line.has_arg("use_first_pass")) {
                found.push((
                    Level::Warn,
                    "auth: pam_unix lacks try_first_pass: users are asked for their password twice".into(),
                    Some("add try_first_pass to the pam_unix auth line (pam-auth-update does it)".into()),
                ));
            }
            if kind == "password" {
                if !unix_line.has_arg("use_authtok") {
                    found.push((
                        Level::Warn,
                        "password: pam_unix lacks use_authtok: the new password is asked for twice".into(),
                        Some("add use_authtok to the pam_unix password line (pam-auth-update does it)".into()),
                    ));
                }
                let skips_unix = line.control == "sufficient"
                    || success_jump(&line.control).is_some_and(|n| t + n >= u)
                    || line.control.contains("success=done");
                if skips_unix {
                    found.push((
                        Level::Fail,
                        format!(
                            "password: pam_tap's control {} skips pam_unix: the new password is never written",
                            line.control
                        ),
                        Some("use `password requisite pam_tap.so`".into()),
                    ));
                }
            }
        }
        None => {}
    }
    if kind == "auth" && matches!(line.control.as_str(), "required" | "requisite") {
        found.push((
            Level::Fail,
            format!(
                "auth: pam_tap is {}: every user without a pass is refused",
                line.control
            ),
            Some(auth_control_fix(lines, t, unix)),
        ));
    }
    if !control_is_valid(&line.control) {
        found.push((
            Level::Fail,
            format!(
                "{kind}: pam_tap's control {} is not valid pam.d syntax: libpam fails every login through it",
                line.control
            ),
            Some(if kind == "auth" {
                auth_control_fix(lines, t, unix)
            } else {
                "use `password requisite pam_tap.so`".into()
            }),
        ));
    }
    found
}

/// The auth control pam_tap needs at line `t`: a good pass lands where pam_unix's own success
/// lands, so whatever follows in the stack (pam_permit, a second factor in the including file)
/// still runs. On Debian that is `[success=N ...]` counted to pam_unix's jump target (what
/// pam-auth-update writes from the profile's `success=end`); where pam_unix is `sufficient`
/// (authselect) it is `done`, which ends the stack exactly as pam_unix's own success does.
fn auth_control_fix(lines: &[PamLine], t: usize, unix: Option<usize>) -> String {
    let control = match unix.filter(|&u| u > t).map(|u| (u, &lines[u].control)) {
        Some((u, c)) => match success_jump(c) {
            Some(n) => Some(format!("[success={} default=ignore]", u - t + n)),
            None if c == "sufficient" || c.contains("success=done") => Some("[success=done default=ignore]".into()),
            None => None,
        },
        None => None,
    };
    match control {
        Some(c) => format!("use `auth {c} pam_tap.so` (pam-auth-update --enable pam-tap writes it on Debian)"),
        None => "give pam_tap a success jump that lands where pam_unix's success lands (pam-auth-update --enable pam-tap counts it)".into(),
    }
}

/// Whether libpam accepts `control`: a keyword, or `[value=action ...]` with libpam's return-code
/// names and actions (`end` is pam-auth-update's profile syntax, never valid in pam.d itself).
fn control_is_valid(control: &str) -> bool {
    const VALUES: &[&str] = &[
        "success",
        "open_err",
        "symbol_err",
        "service_err",
        "system_err",
        "buf_err",
        "perm_denied",
        "auth_err",
        "cred_insufficient",
        "authinfo_unavail",
        "user_unknown",
        "maxtries",
        "new_authtok_reqd",
        "acct_expired",
        "session_err",
        "cred_unavail",
        "cred_expired",
        "cred_err",
        "no_module_data",
        "conv_err",
        "authtok_err",
        "authtok_recover_err",
        "authtok_lock_busy",
        "authtok_disable_aging",
        "try_again",
        "ignore",
        "abort",
        "authtok_expired",
        "module_unknown",
        "bad_item",
        "conv_again",
        "incomplete",
        "default",
    ];
    const ACTIONS: &[&str] = &["ignore", "bad", "die", "ok", "done", "reset"];
    let Some(inner) = control.strip_prefix('[').and_then(|c| c.strip_suffix(']')) else {
        return matches!(
            control,
            "required" | "requisite" | "sufficient" | "optional" | "include" | "substack"
        );
    };
    inner.split_whitespace().all(|kv| {
        kv.split_once('=').is_some_and(|(k, v)| {
            VALUES.contains(&k.to_ascii_lowercase().as_str())
                && (ACTIONS.contains(&v.to_ascii_lowercase().as_str()) || v.parse::<u32>().is_ok_and(|n| n > 0))
        })
    })
}

fn check_pam(opts: &Options, policy: Option<&Policy>, out: &mut Vec<Check>) {
    let pam_dir = opts.path("/etc/pam.d");
    let mut results = Vec::new();
    let mut wired_anywhere = false;
    for service in SERVICES {
        if !pam_dir.join(service).exists() {
            continue;
        }
        let auth = stack(&pam_dir, service, "auth", 0);
        let password = stack(&pam_dir, service, "password", 0);
        let (auth, password) = match (auth, password) {
            (Ok(a), Ok(p)) => (a, p),
            (Err(e), _) | (_, Err(e)) => {
                results.push(Check::fail(
                    &format!("pam.d/{service}"),
                    e,
                    "repair the file or the include it names",
                ));
                continue;
            }
        };
        let has = |l: &[PamLine]| l.iter().any(|x| x.module_name() == "pam_tap.so");
        let (in_auth, in_password) = (has(&auth), has(&password));
        wired_anywhere |= in_auth || in_password;
        results.push(judge_service(service, &auth, &password, in_auth, in_password, opts));
    }
    // Without a readable policy pam_tap refuses every pass, so an unwired stack is no extra harm.
    let enabled = policy.is_some_and(|p| p.enabled);
    if results.is_empty() {
        out.push(Check::warn(
            "pam.d",
            format!("none of {} exists under {}", SERVICES.join(", "), pam_dir.display()),
            "wire pam_tap by hand before pam_unix in auth and password (man pam_tap)",
        ));
        return;
    }
    if !wired_anywhere {
        let fix = "pam-auth-update --enable pam-tap (Debian) or the authselect recipe (Fedora)";
        out.push(if enabled {
            Check::warn(
                "pam.d",
                "pam_tap is enabled in the config but in no PAM stack: passes are never asked for",
                fix,
            )
        } else {
            Check::ok("pam.d", "pam_tap is in no PAM stack yet (passes are off in any case)")
        });
        return;
    }
    out.extend(results);
}

fn judge_service(
    service: &str,
    auth: &[PamLine],
    password: &[PamLine],
    in_auth: bool,
    in_password: bool,
    opts: &Options,
) -> Check {
    let name = format!("pam.d/{service}");
    let mut findings = judge_stack(auth, "auth", opts);
    findings.extend(judge_stack(password, "password", opts));
    if in_auth && !in_password && !password.is_empty() {
        findings.push((
            Level::Fail,
            "password: no pam_tap, so a user who logs in with a pass is asked for a current password they do not have"
                .into(),
            Some("add `password requisite pam_tap.so` before pam_unix (pam-auth-update --enable pam-tap)".into()),
        ));
    }
    if !in_auth && !auth.is_empty() {
        findings.push((
            Level::Warn,
            "auth: no pam_tap: passes do not log in through this service".into(),
            Some("pam-auth-update --enable pam-tap, or add pam_tap before pam_unix in its auth stack".into()),
        ));
    }
    // Worst first; the fix shown is the worst finding's.
    findings.sort_by_key(|f| std::cmp::Reverse(f.0));
    if let Some((worst, _, fix)) = findings.first().cloned() {
        let msg: Vec<String> = findings.into_iter().map(|f| f.1).collect();
        return Check::new(&name, worst, msg.join("; "), fix);
    }
    let mut parts = Vec::new();
    if in_auth {
        parts.push("auth: pam_tap before pam_unix");
    }
    if in_password {
        parts.push("password: pam_tap before pam_unix");
    }
    if in_auth && password.is_empty() && !service.starts_with("common-") {
        parts.push("no password lines of its own");
    }
    Check::ok(&name, parts.join("; "))
}

// ---------------------------------------------------------------------------------------------
// sshd

/// sshd's effective `usepam`, `kbdinteractiveauthentication`, `passwordauthentication`,
/// `authenticationmethods`, lower-case, or None when sshd is not there at all.
fn sshd_settings(opts: &Options) -> Option<(String, Vec<(String, String)>)> {
    if matches!(opts.sshd, Sshd::Ask) && opts.is_system_root() {
        for sshd in ["/usr/sbin/sshd", "/sbin/sshd"] {
            if !Path::new(sshd).exists() {
                continue;
            }
            if let Ok(o) = std::process::Command::new(sshd).arg("-T").output() {
                if o.status.success() {
                    let text = String::from_utf8_lossy(&o.stdout);
                    let kv = text
                        .lines()
                        .filter_map(|l| l.split_once(' '))
                        .map(|(k, v)| (k.to_lowercase(), v.trim().to_owned()))
                        .collect();
                    return Some((format!("{sshd} -T"), kv));
                }
            }
        }
    }
    let main = opts.path("/etc/ssh/sshd_config");
    if !main.exists() {
        return None;
    }
    let mut kv = Vec::new();
    read_sshd_config(opts, &main, &mut kv, 0);
    // sshd's compiled-in defaults (OpenSSH 9.x) where the files are silent.
    for (k, v) in [
        ("usepam", "no"),
        ("kbdinteractiveauthentication", "yes"),
        ("passwordauthentication", "yes"),
        ("authenticationmethods", "any"),
    ] {
        if !kv.iter().any(|(key, _)| key == k) {
            kv.push((k.to_owned(), v.to_owned()));
        }
    }
    Some((main.display().to_string(), kv))
}

/// First value wins, as in sshd; `Match` blocks are conditional and skipped.
fn read_sshd_config(opts: &Options, path: &Path, kv: &mut Vec<(String, String)>, depth: u32) {
    if depth > 4 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(|c: char| c.is_whitespace() || c == '=')
            .map(|(k, v)| {
                (
                    k.to_lowercase(),
                    v.trim_start_matches(['=', ' ', '\t']).trim().to_owned(),
                )
            })
            .unwrap_or((line.to_lowercase(), String::new()));
        if k == "match" {
            break;
        }
        if k == "include" {
            for pattern in v.split_whitespace() {
                let abs = if pattern.starts_with('/') {
                    pattern.to_owned()
                } else {
                    format!("/etc/ssh/{pattern}")
                };
                let full = opts.path(&abs);
                let mut matches = glob_simple(&full);
                matches.sort();
                for m in matches {
                    read_sshd_config(opts, &m, kv, depth + 1);
                }
            }
            continue;
        }
        let k = if k == "challengeresponseauthentication" {
            "kbdinteractiveauthentication".to_owned()
        } else {
            k
        };
        if !kv.iter().any(|(key, _)| *key == k) {
            kv.push((k, v.to_lowercase()));
        }
    }
}

/// `dir/*.conf`-style patterns: a `*` in the last component only, which is what sshd_config uses.
fn glob_simple(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(dir) = pattern.parent() else {
        return Vec::new();
    };
    match name.split_once('*') {
        None => vec![pattern.to_path_buf()].into_iter().filter(|p| p.exists()).collect(),
        Some((pre, suf)) => std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with(pre) && n.ends_with(suf) && n.len() >= pre.len() + suf.len())
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn check_sshd(opts: &Options, out: &mut Vec<Check>) {
    const C: &str = "sshd";
    let Some((source, kv)) = sshd_settings(opts) else {
        out.push(Check::ok(C, "sshd is not installed"));
        return;
    };
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let use_pam = get("usepam") == "yes";
    let kbd = get("kbdinteractiveauthentication") == "yes";
    let password = get("passwordauthentication") == "yes";
    let methods = get("authenticationmethods");
    if !use_pam {
        out.push(Check::warn(
            C,
            format!("UsePAM no ({source}): passes cannot log in over ssh"),
            "set `UsePAM yes` in /etc/ssh/sshd_config and reload sshd",
        ));
        return;
    }
    if !methods.is_empty()
        && methods != "any"
        && !methods.contains("keyboard-interactive")
        && !methods.contains("password")
    {
        out.push(Check::warn(
            C,
            format!("AuthenticationMethods {methods} ({source}): no password method, passes cannot log in over ssh"),
            "allow keyboard-interactive in AuthenticationMethods, or log in with the pass on the console",
        ));
        return;
    }
    if kbd {
        out.push(Check::ok(
            C,
            format!("UsePAM yes, KbdInteractiveAuthentication yes ({source}): a first login over ssh sets the new password inside the login"),
        ));
    } else if password {
        out.push(Check::warn(
            C,
            format!("UsePAM yes, KbdInteractiveAuthentication no, PasswordAuthentication yes ({source}): a first login over ssh needs a terminal (sshd then runs passwd); `ssh host cmd`, scp and sftp fail until the password is changed"),
            "set `KbdInteractiveAuthentication yes` in /etc/ssh/sshd_config and reload sshd",
        ));
    } else {
        out.push(Check::warn(
            C,
            format!("KbdInteractiveAuthentication no and PasswordAuthentication no ({source}): passes cannot log in over ssh"),
            "set `KbdInteractiveAuthentication yes` in /etc/ssh/sshd_config and reload sshd",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Clock

fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn check_clock(opts: &Options, now: i64, high_water: Option<i64>, out: &mut Vec<Check>) {
    const C: &str = "clock";
    let fix = "set the clock: timedatectl set-ntp true (or chronyc makestep)";
    if now < opts.clock_floor {
        out.push(Check::fail(
            C,
            format!(
                "the clock says {}, before this pam_tap was built ({}): validity windows are wrong",
                stamp(now),
                stamp(opts.clock_floor)
            ),
            fix,
        ));
        return;
    }
    match high_water {
        Some(hw) if hw > now => out.push(Check::fail(
            C,
            format!("the clock says {}, before the latest time the database recorded ({}): every pass is refused until the clock catches up", stamp(now), stamp(hw)),
            fix,
        )),
        _ => out.push(Check::ok(C, format!("{} is after the build date and the database's latest record", stamp(now)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    const NOW: i64 = 1_800_000_000; // 2027-01-15

    const COMMON_AUTH: &str = "\
auth\t[success=2 default=ignore]\tpam_tap.so
auth\t[success=1 default=ignore]\tpam_unix.so nullok try_first_pass
auth\trequisite\t\t\tpam_deny.so
auth\trequired\t\t\tpam_permit.so
";
    const COMMON_PASSWORD: &str = "\
password\trequisite\t\t\tpam_tap.so
password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
password\trequisite\t\t\tpam_deny.so
password\trequired\t\t\tpam_permit.so
";

    /// A Debian-like tree: config, initialised database, wired common-*, sshd with kbd-int.
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Option<Self> {
            // Ownership checks need files owned by root.
            if unsafe { libc::geteuid() } != 0 {
                eprintln!("skipped: doctor fixture tests need root");
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
            let t = Tree { dir };
            t.write("etc/security/pam_tap.toml", 0o600, "enabled = true\n");
            t.write("etc/pam.d/common-auth", 0o644, COMMON_AUTH);
            t.write("etc/pam.d/common-password", 0o644, COMMON_PASSWORD);
            t.write(
                "etc/pam.d/sshd",
                0o644,
                "@include common-auth\naccount required pam_nologin.so\n@include common-password\n",
            );
            t.write(
                "etc/pam.d/sudo",
                0o644,
                "@include common-auth\n@include common-account\n",
            );
            t.write("etc/pam.d/common-account", 0o644, "account required pam_unix.so\n");
            t.write(
                "etc/ssh/sshd_config",
                0o644,
                "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n",
            );
            t.write(
                "etc/ssh/sshd_config.d/pam_tap.conf",
                0o644,
                "KbdInteractiveAuthentication yes\n",
            );
            t.write("usr/lib/x86_64-linux-gnu/security/pam_tap.so", 0o644, "");
            t.db_dir();
            pam_tap::store::Store::create(&t.p("var/lib/pam_tap/tap.db")).unwrap();
            Some(t)
        }
        fn p(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }
        fn db_dir(&self) {
            fs::create_dir_all(self.p("var/lib/pam_tap")).unwrap();
            fs::set_permissions(self.p("var/lib/pam_tap"), fs::Permissions::from_mode(0o700)).unwrap();
        }
        fn write(&self, rel: &str, mode: u32, text: &str) {
            let p = self.p(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        }
        fn config(&self, text: &str) {
            // The database named in the config is looked up under the root.
            self.write(
                "etc/security/pam_tap.toml",
                0o600,
                &format!("{text}\ndatabase = \"/var/lib/pam_tap/tap.db\"\n"),
            );
        }
        fn run(&self) -> Vec<Check> {
            let opts = Options {
                config: self.p("etc/security/pam_tap.toml"),
                root: self.dir.path().to_path_buf(),
                sshd: Sshd::ConfigFile,
                clock_floor: BUILD_FLOOR,
            };
            let found = checks(&opts, NOW);
            eprintln!("{}", render(&opts, &found));
            found
        }
    }

    fn status(found: &[Check], check: &str) -> Level {
        found
            .iter()
            .filter(|c| c.check == check)
            .map(|c| c.status)
            .max()
            .unwrap_or_else(|| panic!("no {check} check in {found:?}"))
    }

    fn message<'a>(found: &'a [Check], check: &str) -> &'a str {
        &found.iter().find(|c| c.check == check).unwrap().message
    }

    #[test]
    fn healthy_tree_is_clean() {
        let Some(t) = Tree::new() else { return };
        t.config("enabled = true");
        let found = t.run();
        assert!(found.iter().all(|c| c.status == Level::Ok), "{found:?}");
        assert_eq!(exit_code(&found), 0);
        assert!(message(&found, "sshd").contains("inside the login"));
        assert!(message(&found, "pam.d/sudo").contains("no password lines"));
        let json: serde_json::Value = serde_json::from_str(&to_json(&found)).unwrap();
        assert_eq!(json["fail"], 0);
        assert!(json["checks"][0]["status"].is_string());
    }

    #[test]
    fn fresh_install_is_ok_while_disabled_and_unwired() {
        let Some(t) = Tree::new() else { return };
        t.config("enabled = false");
        t.write(
            "etc/pam.d/common-auth",
            0o644,
            "auth [success=1 default=ignore] pam_unix.so nullok\n",
        );
        t.write(
            "etc/pam.d/common-password",
            0o644,
            "password [success=1 default=ignore] pam_unix.so obscure yescrypt\n",
        );
        let found = t.run();
        assert_eq!(status(&found, "pam.d"), Level::Ok);
        assert_eq!(exit_code(&found), 0);
        t.config("enabled = true");
        assert_eq!(status(&t.run(), "pam.d"), Level::Warn);
    }

    #[test]
    fn pam_tap_after_pam_unix_fails() {
        let Some(t) = Tree::new() else { return };
        t.write(
            "etc/pam.d/common-auth",
            0o644,
            "auth [success=2 default=ignore] pam_unix.so nullok\nauth [success=1 default=ignore] pam_tap.so\nauth requisite pam_deny.so\n",
        );
        let found = t.run();
        assert_eq!(status(&found, "pam.d/common-auth"), Level::Fail);
        assert_eq!(status(&found, "pam.d/sshd"), Level::Fail);
        assert_eq!(exit_code(&found), 1);
    }

    #[test]
    fn missing_password_stanza_fails_and_missing_use_authtok_warns() {
        let Some(t) = Tree::new() else { return };
        t.write(
            "etc/pam.d/common-password",
            0o644,
            "password [success=1 default=ignore] pam_unix.so obscure yescrypt\n",
        );
        let found = t.run();
        assert_eq!(status(&found, "pam.d/sshd"), Level::Fail);
        assert!(message(&found, "pam.d/sshd").contains("current password"));
        t.write(
            "etc/pam.d/common-password",
            0o644,
            "password requisite pam_tap.so\npassword [success=1 default=ignore] pam_unix.so obscure yescrypt\n",
        );
        assert_eq!(status(&t.run(), "pam.d/common-password"), Level::Warn);
    }

    #[test]
    fn required_pam_tap_in_auth_and_skipping_jump_in_password_fail() {
        let Some(t) = Tree::new() else { return };
        t.write(
            "etc/pam.d/common-auth",
            0o644,
            "auth required pam_tap.so\nauth [success=1 default=ignore] pam_unix.so try_first_pass\n",
        );
        t.write(
            "etc/pam.d/common-password",
            0o644,
            "password [success=2 default=ignore] pam_tap.so\npassword [success=1 default=ignore] pam_unix.so use_authtok\n",
        );
        let found = t.run();
        assert!(message(&found, "pam.d/common-auth").contains("every user without a pass"));
        assert!(message(&found, "pam.d/common-password").contains("never written"));
    }

    #[test]
    fn unsafe_config_fails() {
        let Some(t) = Tree::new() else { return };
        fs::set_permissions(t.p("etc/security/pam_tap.toml"), fs::Permissions::from_mode(0o664)).unwrap();
        let found = t.run();
        assert_eq!(status(&found, "config"), Level::Fail);
        assert!(found[0].fix.as_deref().unwrap().starts_with("chmod go-w"));

        fs::rename(t.p("etc/security/pam_tap.toml"), t.p("etc/security/real.toml")).unwrap();
        std::os::unix::fs::symlink(t.p("etc/security/real.toml"), t.p("etc/security/pam_tap.toml")).unwrap();
        let found = t.run();
        assert!(message(&found, "config").contains("symlink"));
    }

    #[test]
    fn invalid_config_fails() {
        let Some(t) = Tree::new() else { return };
        t.config("enabled = true\n[pass]\nlenght = 12");
        let found = t.run();
        assert_eq!(status(&found, "config"), Level::Fail);
        assert_eq!(exit_code(&found), 1);
    }

    #[test]
    fn database_missing_readable_or_wrong_schema() {
        let Some(t) = Tree::new() else { return };
        fs::set_permissions(t.p("var/lib/pam_tap/tap.db"), fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(status(&t.run(), "database"), Level::Warn);
        fs::set_permissions(t.p("var/lib/pam_tap/tap.db"), fs::Permissions::from_mode(0o600)).unwrap();

        let conn = rusqlite::Connection::open(t.p("var/lib/pam_tap/tap.db")).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(conn);
        assert_eq!(status(&t.run(), "schema"), Level::Fail);

        fs::remove_dir_all(t.p("var/lib/pam_tap")).unwrap();
        let found = t.run();
        assert_eq!(status(&found, "database"), Level::Fail);
        assert_eq!(
            found.iter().find(|c| c.check == "database").unwrap().fix.as_deref(),
            Some("tapctl init")
        );
    }

    #[test]
    fn clock_behind_database_or_build_fails() {
        let Some(t) = Tree::new() else { return };
        let conn = rusqlite::Connection::open(t.p("var/lib/pam_tap/tap.db")).unwrap();
        conn.execute("INSERT INTO meta(key, value) VALUES('clock', ?1)", [NOW + 3600])
            .unwrap();
        drop(conn);
        let found = t.run();
        assert_eq!(status(&found, "clock"), Level::Fail);
        assert!(message(&found, "clock").contains("latest time"));

        let opts = Options {
            config: t.p("etc/security/pam_tap.toml"),
            root: t.dir.path().to_path_buf(),
            sshd: Sshd::ConfigFile,
            clock_floor: BUILD_FLOOR,
        };
        let found = checks(&opts, BUILD_FLOOR - 86_400);
        assert!(message(&found, "clock").contains("before this pam_tap was built"));
    }

    #[test]
    fn sshd_settings_and_what_they_mean() {
        let Some(t) = Tree::new() else { return };
        fs::remove_file(t.p("etc/ssh/sshd_config.d/pam_tap.conf")).unwrap();
        let found = t.run();
        assert_eq!(status(&found, "sshd"), Level::Warn);
        assert!(message(&found, "sshd").contains("needs a terminal"));

        t.write("etc/ssh/sshd_config", 0o644, "UsePAM no\n");
        assert!(message(&t.run(), "sshd").contains("UsePAM no"));

        fs::remove_dir_all(t.p("etc/ssh")).unwrap();
        assert!(message(&t.run(), "sshd").contains("not installed"));
    }

    #[test]
    fn module_reading_another_config_warns() {
        let Some(t) = Tree::new() else { return };
        t.write(
            "etc/pam.d/common-auth",
            0o644,
            &COMMON_AUTH.replace("pam_tap.so", "pam_tap.so config=/etc/other.toml"),
        );
        let found = t.run();
        assert_eq!(status(&found, "pam.d/common-auth"), Level::Warn);
        assert!(message(&found, "pam.d/common-auth").contains("/etc/other.toml"));
    }

    #[test]
    fn fedora_authselect_stack_after_the_recipe_is_clean() {
        let Some(t) = Tree::new() else { return };
        for f in ["common-auth", "common-password", "sshd", "sudo", "common-account"] {
            fs::remove_file(t.p(&format!("etc/pam.d/{f}"))).unwrap();
        }
        // authselect's sssd profile after packaging/authselect/authselect-add-pam-tap.sh.
        let system_auth = "\
auth        required                                     pam_env.so
auth        [success=done default=ignore]                pam_tap.so try_first_pass
auth        [default=1 ignore=ignore success=ok]         pam_usertype.so isregular
auth        [default=1 ignore=ignore success=ok]         pam_localuser.so
auth        sufficient                                   pam_unix.so nullok try_first_pass
auth        sufficient                                   pam_sss.so forward_pass
auth        required                                     pam_deny.so
account     required                                     pam_unix.so
password    requisite                                    pam_pwquality.so local_users_only
password    requisite                                    pam_tap.so
password    sufficient                                   pam_unix.so yescrypt shadow nullok use_authtok
password    required                                     pam_deny.so
";
        t.write("etc/pam.d/system-auth", 0o644, system_auth);
        t.write("etc/pam.d/password-auth", 0o644, system_auth);
        t.write(
            "etc/pam.d/sshd",
            0o644,
            "auth substack password-auth\naccount include password-auth\npassword include password-auth\n",
        );
        t.write("usr/lib/x86_64-linux-gnu/security/pam_tap.so", 0o644, "");
        let found = t.run();
        assert!(found.iter().all(|c| c.status == Level::Ok), "{found:?}");
        assert_eq!(status(&found, "pam.d/sshd"), Level::Ok);
    }

    #[test]
    fn pam_line_parsing() {
        let f = split_fields("auth [success=end default=ignore]  pam_tap.so config=/x debug");
        assert_eq!(
            f,
            [
                "auth",
                "[success=end default=ignore]",
                "pam_tap.so",
                "config=/x",
                "debug"
            ]
        );
        assert_eq!(success_jump("[success=2 default=ignore]"), Some(2));
        assert_eq!(success_jump("requisite"), None);
        assert!(control_is_valid("[success=2 default=ignore]"));
        assert!(control_is_valid("[success=done new_authtok_reqd=done default=ignore]"));
        assert!(control_is_valid("requisite"));
        assert!(!control_is_valid("[success=end default=ignore]"));
        assert!(!control_is_valid("[success=0 default=ignore]"));
        assert!(!control_is_valid("[sucess=1 default=ignore]"));
    }

    #[test]
    fn auth_advice_lands_where_pam_unix_lands() {
        let Some(t) = Tree::new() else { return };
        t.write(
            "etc/pam.d/common-auth",
            0o644,
            "auth required pam_tap.so\nauth [success=1 default=ignore] pam_unix.so try_first_pass\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
        );
        let fix = |found: &[Check]| {
            found
                .iter()
                .find(|c| c.check == "pam.d/common-auth")
                .unwrap()
                .fix
                .clone()
                .unwrap()
        };
        let advice = fix(&t.run());
        assert!(
            advice.contains("auth [success=2 default=ignore] pam_tap.so"),
            "{advice}"
        );
        assert!(
            !advice.contains("done"),
            "done ends an including stack's later modules: {advice}"
        );
        t.write(
            "etc/pam.d/common-auth",
            0o644,
            "auth [success=end default=ignore] pam_tap.so\nauth [success=1 default=ignore] pam_unix.so try_first_pass\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
        );
        let found = t.run();
        assert_eq!(status(&found, "pam.d/common-auth"), Level::Fail);
        assert!(message(&found, "pam.d/common-auth").contains("not valid pam.d syntax"));
        assert!(fix(&found).contains("[success=2 default=ignore]"));
    }
}
