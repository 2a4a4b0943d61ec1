//! The files pam_tap trusts: the policy, the database and its side files, the module itself.

use pam_tap_base::safefile::{Trust, Untrusted};
use pam_tap_store::checks::{self as store_checks, Schema};

use super::*;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    File,
    Dir,
}

/// A file or directory the module trusts ([`Untrusted`] is its rule); `private` also wants no
/// access at all for group and others (doctor's advice, not a refusal). Returns a finding for the
/// first problem, None if sound.
pub(super) fn file_problem(trust: Trust, check: &str, path: &Path, kind: Kind, private: bool) -> Option<Check> {
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
    // The module's own rule (safefile), each problem with the fix that clears it.
    if let Some(problem) = trust.problem(&meta, kind == Kind::Dir) {
        return Some(match problem {
            Untrusted::Symlink => Check::fail(
                check,
                format!("{shown} is a symlink: pam_tap refuses it"),
                format!("replace it with the file itself: cp --remove-destination \"$(readlink -f {shown})\" {shown}"),
            ),
            Untrusted::WrongKind { dir } => Check::fail(
                check,
                format!("{shown} is not {}", if dir { "a directory" } else { "a regular file" }),
                format!("move it away and run tapctl init: mv {shown} {shown}.bad"),
            ),
            Untrusted::NotRootOwned { uid } => Check::fail(
                check,
                format!("{shown} is owned by uid {uid}, not root: pam_tap refuses it"),
                format!("chown root:root {shown}"),
            ),
            Untrusted::Writable { mode } => Check::fail(
                check,
                format!("{shown} is group- or world-writable (mode {mode:04o}): pam_tap refuses it"),
                format!("chmod go-w {shown}"),
            ),
        });
    }
    let mode = meta.mode() & 0o7777;
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

pub(super) fn mode_of(path: &Path) -> String {
    std::fs::symlink_metadata(path)
        .map(|m| format!("{:04o}", m.mode() & 0o7777))
        .unwrap_or_else(|_| "?".into())
}

pub(super) fn check_config(opts: &Options, out: &mut Vec<Check>) -> Option<Policy> {
    const C: &str = "config";
    let path = &opts.config;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Some(p) = file_problem(opts.trust, C, dir, Kind::Dir, false) {
            out.push(p);
            return None;
        }
    }
    if let Some(p) = file_problem(opts.trust, C, path, Kind::File, false) {
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
            let mode = std::fs::symlink_metadata(path).map_or(0o777, |m| m.mode() & 0o7777);
            if let Some(why) = p.secret_readable_by_others(mode) {
                out.push(Check::fail(
                    C,
                    format!("{}: {why}: pam_tap and tapctl refuse it", path.display()),
                    format!("chmod 600 {}", path.display()),
                ));
                return None;
            }
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
pub(super) fn check_database(opts: &Options, policy: &Policy, out: &mut Vec<Check>) -> Option<i64> {
    const C: &str = "database";
    let Ok(path) = policy.database.sqlite_path() else {
        out.push(Check::warn(
            C,
            format!("{}: this doctor checks SQLite stores only", policy.database),
            "check the PostgreSQL store's connection and roles by hand",
        ));
        return None;
    };
    let db = opts.path(path);
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
    if let Some(p) = file_problem(opts.trust, C, &dir, Kind::Dir, true) {
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
    files.extend(
        store_checks::side_files(&db)
            .into_iter()
            .filter(|s| std::fs::symlink_metadata(s).is_ok()),
    );
    for f in &files {
        if let Some(p) = file_problem(opts.trust, C, f, Kind::File, true) {
            let fatal = p.status == Level::Fail;
            out.push(p);
            if fatal {
                return None;
            }
            warned = true;
        }
    }

    let conn = match store_checks::open_read_only(&db) {
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
    let version = match store_checks::schema(&conn) {
        Ok(Schema::Current) => SCHEMA_VERSION,
        Ok(Schema::Older(version)) => {
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
        Ok(Schema::Newer(version)) => {
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
        Err(e) => {
            out.push(Check::fail(
                C,
                format!("{} is not a readable SQLite database: {e}", db.display()),
                "restore it from backup, or move it away and run tapctl init",
            ));
            return None;
        }
    };
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
    store_checks::clock_high_water(&conn).ok().flatten()
}

pub(super) fn find_module(opts: &Options, name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Some(opts.path(name));
    }
    MODULE_DIRS
        .iter()
        .map(|d| opts.root.join(d).join(name))
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

pub(super) fn check_module(opts: &Options, out: &mut Vec<Check>) {
    const C: &str = "module";
    match find_module(opts, "pam_tap.so") {
        None => out.push(Check::warn(
            C,
            "pam_tap.so is not in any PAM module directory",
            "install the pam-tap package (or copy libpam_tap.so to /usr/lib/x86_64-linux-gnu/security/pam_tap.so)",
        )),
        Some(p) => match file_problem(opts.trust, C, &p, Kind::File, false) {
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

/// A fleet host's own store (`host_store`): held to the database's rules, or not made yet.
pub(super) fn check_host_store(opts: &Options, policy: &Policy, out: &mut Vec<Check>) {
    const C: &str = "host store";
    let file = opts.path(&policy.host_store);
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.exists() {
        if let Some(problem) = file_problem(opts.trust, C, &dir, Kind::Dir, false) {
            out.push(problem);
            return;
        }
    }
    if !file.exists() {
        out.push(Check::ok(
            C,
            format!(
                "{}: not made yet (the first reset pass accepted on this host makes it)",
                file.display()
            ),
        ));
        return;
    }
    out.push(file_problem(opts.trust, C, &file, Kind::File, true).unwrap_or_else(|| {
        Check::ok(
            C,
            format!(
                "{}: root-only; the passwords from before this host's resets",
                file.display()
            ),
        )
    }));
}
