//! Every file the module trusts replaced by an unsafe one: refused with an alert, never opened.

use super::*;

/// Counts inotify events on a file while a closure runs.
fn watch<R>(path: &Path, f: impl FnOnce() -> R) -> (R, BTreeMap<&'static str, usize>) {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain inotify calls on a descriptor we own and close.
    unsafe {
        let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
        assert!(fd >= 0);
        let wd = libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_OPEN | libc::IN_ACCESS | libc::IN_MODIFY);
        assert!(wd >= 0, "watch {}", path.display());
        let r = f();
        let mut counts = BTreeMap::from([("open", 0), ("read", 0), ("write", 0)]);
        let mut buf = [0u8; 8192];
        loop {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            let mut off = 0;
            while off < n as usize {
                let ev = &*(buf.as_ptr().add(off) as *const libc::inotify_event);
                if ev.mask & libc::IN_OPEN != 0 {
                    *counts.get_mut("open").unwrap() += 1;
                }
                if ev.mask & libc::IN_ACCESS != 0 {
                    *counts.get_mut("read").unwrap() += 1;
                }
                if ev.mask & libc::IN_MODIFY != 0 {
                    *counts.get_mut("write").unwrap() += 1;
                }
                off += std::mem::size_of::<libc::inotify_event>() + ev.len as usize;
            }
        }
        libc::close(fd);
        (r, counts)
    }
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown_nobody(p: &Path) {
    std::os::unix::fs::lchown(p, Some(65534), Some(65534)).unwrap();
}

const TARGETS: [&str; 6] = ["config", "config_dir", "database", "database_dir", "wal", "shm"];
const KINDS: [&str; 4] = ["symlink", "non_root_owner", "group_writable", "world_writable"];

#[test]
fn unsafe_files_are_refused_with_an_alert_and_never_opened() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let mut table = vec![];
    let mut bad = vec![];
    let control = a_safe_login_is_seen_by_the_watch(&user);
    for target in TARGETS {
        for kind in KINDS {
            let (entry, failure) = login_past_an_unsafe_file(&user, target, kind);
            table.push(entry);
            bad.extend(failure);
        }
    }
    figure(
        "unsafe_files",
        &format!(
            "cases={} refused_with_alert_never_read={} failures={} control_safe_db_events={control:?} [{}]",
            table.len(),
            table.len() - bad.len(),
            bad.len(),
            table.join(" ")
        ),
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Control: the watch does see a normal login read and write the database.
fn a_safe_login_is_seen_by_the_watch(user: &User) -> BTreeMap<&'static str, usize> {
    let f = site("unsafe_control", "");
    let pass = f.issue_keeping(&user.name, &["--one-time"]).pass;
    f.stack_only("only", "");
    let (run, events) = watch(&f.db, || f.drive("only", &user.name, &["authenticate"], &line(&pass)));
    assert_eq!(run.auth(), "PAM_SUCCESS");
    assert!(events["open"] > 0 && events["read"] > 0, "{events:?}");
    f.check_no_secrets();
    events
}

/// `target` replaced by an unsafe file of `kind`, then a login with a good pass: the table's
/// entry, and what went wrong unless the login was refused with an alert and nothing was opened,
/// read or written.
fn login_past_an_unsafe_file(user: &User, target: &str, kind: &str) -> (String, Option<String>) {
    let mut f = site(&format!("unsafe_{target}_{kind}"), "");
    let pass = f.issue_keeping(&user.name, &["--one-time"]).pass;
    let db = f.db.clone();
    let (module_config, watched) = make_unsafe(&mut f, target, kind);
    let args = format!(
        "auth required {} config={} log_socket={}\n",
        crate::support::paths::module().display(),
        module_config.display(),
        f.log.path.display()
    );
    write_file(&f.pamd.join("only"), args.as_bytes(), 0o644);
    f.log.clear();
    let (run, events) = watch(&watched, || {
        f.drive("only", &user.name, &["authenticate"], &line(&pass))
    });
    // The database file itself: never read or written (a single O_NOFOLLOW probe may fstat it;
    // inotify merges repeated opens, so reads and writes are what is counted).
    let (_, db_events) = if watched == db {
        ((), events.clone())
    } else {
        watch(&db, || ())
    };
    let lines = f.log.settled_lines();
    let alert = alerts(&lines).iter().any(|l| l.contains("unsafe file"));
    // Repair nothing: the pass must still be unused in the real file.
    let used: Option<i64> = rusqlite::Connection::open(if target == "database" && kind == "symlink" {
        f.dir.join("elsewhere.db")
    } else {
        db.clone()
    })
    .and_then(|c| c.query_row("SELECT max(used_at) FROM passes", [], |r| r.get(0)))
    .unwrap_or(None);
    let ok = run.auth() == "PAM_SERVICE_ERR"
        && alert
        && events["read"] == 0
        && events["write"] == 0
        && events["open"] <= usize::from(kind != "symlink" && !target.ends_with("_dir"))
        && db_events["read"] == 0
        && db_events["write"] == 0
        && used.is_none();
    let entry = format!(
        "{target}/{kind}={}{}",
        run.auth().trim_start_matches("PAM_"),
        if ok { "" } else { "!" }
    );
    let failure = (!ok).then(|| {
        format!(
            "{target}/{kind}: {} alert={alert} events={events:?} db_events={db_events:?} used={used:?} {lines:?}",
            run.auth()
        )
    });
    // Give ownership back so the site can be read and removed.
    let _ = Command::new("chown").args(["-R", "root:root"]).arg(&f.dir).output();
    f.check_no_secrets();
    (entry, failure)
}

/// Makes `target` of `f` an unsafe file of `kind`. Returns the config the module line is to name
/// and the file that must not be opened, read or written.
fn make_unsafe(f: &mut Site, target: &str, kind: &str) -> (PathBuf, PathBuf) {
    let db = f.db.clone();
    match target {
        "config" => (f.config.clone(), unsafe_config(f, kind)),
        "config_dir" => unsafe_config_dir(f, kind),
        "database" => (f.config.clone(), unsafe_database(f, kind)),
        "database_dir" => {
            unsafe_database_dir(f, kind);
            (f.config.clone(), db)
        }
        side => (f.config.clone(), unsafe_side_file(f, side, kind)),
    }
}

/// The config itself; returns the file to watch.
fn unsafe_config(f: &Site, kind: &str) -> PathBuf {
    match kind {
        "symlink" => {
            let real = f.dir.join("real.toml");
            std::fs::rename(&f.config, &real).unwrap();
            std::os::unix::fs::symlink(&real, &f.config).unwrap();
            real
        }
        "non_root_owner" => {
            chown_nobody(&f.config);
            f.config.clone()
        }
        "group_writable" => {
            chmod(&f.config, 0o620);
            f.config.clone()
        }
        _ => {
            chmod(&f.config, 0o602);
            f.config.clone()
        }
    }
}

/// A copy of the config in a directory of its own, that directory made unsafe; returns the
/// config the module line names and the file to watch.
fn unsafe_config_dir(f: &Site, kind: &str) -> (PathBuf, PathBuf) {
    let real = f.dir.join("cfgreal");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    std::fs::copy(&f.config, real.join("pam_tap.toml")).unwrap();
    chmod(&real.join("pam_tap.toml"), 0o600);
    let watched = real.join("pam_tap.toml");
    let module_config = match kind {
        "symlink" => {
            let link = f.dir.join("cfglink");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            link.join("pam_tap.toml")
        }
        "non_root_owner" => {
            chown_nobody(&real);
            real.join("pam_tap.toml")
        }
        "group_writable" => {
            chmod(&real, 0o770);
            real.join("pam_tap.toml")
        }
        _ => {
            chmod(&real, 0o707);
            real.join("pam_tap.toml")
        }
    };
    (module_config, watched)
}

/// The database file; returns the file to watch.
fn unsafe_database(f: &Site, kind: &str) -> PathBuf {
    let db = f.db.clone();
    match kind {
        "symlink" => {
            let real = f.dir.join("elsewhere.db");
            std::fs::rename(&db, &real).unwrap();
            std::os::unix::fs::symlink(&real, &db).unwrap();
            real
        }
        "non_root_owner" => {
            chown_nobody(&db);
            db
        }
        "group_writable" => {
            chmod(&db, 0o620);
            db
        }
        _ => {
            chmod(&db, 0o602);
            db
        }
    }
}

/// The database's directory (the config names the database through a symlinked directory for
/// `symlink`).
fn unsafe_database_dir(f: &mut Site, kind: &str) {
    let db = f.db.clone();
    let dbdir = db.parent().unwrap().to_path_buf();
    match kind {
        "symlink" => {
            let link = f.dir.join("dblink");
            std::os::unix::fs::symlink(&dbdir, &link).unwrap();
            f.db = link.join("tap.db");
            f.write_config("");
            f.db = db;
        }
        "non_root_owner" => chown_nobody(&dbdir),
        "group_writable" => chmod(&dbdir, 0o770),
        _ => chmod(&dbdir, 0o707),
    }
}

/// The database's -wal or -shm file (`side`), which the store keeps between logins: replaced;
/// returns the file to watch.
fn unsafe_side_file(f: &Site, side: &str, kind: &str) -> PathBuf {
    let mut p = f.db.clone().into_os_string();
    p.push(if side == "wal" { "-wal" } else { "-shm" });
    let p = PathBuf::from(p);
    let _ = std::fs::remove_file(&p);
    if kind == "symlink" {
        let victim = f.dir.join("victim");
        write_file(&victim, b"root's file", 0o600);
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        return victim;
    }
    write_file(&p, b"", 0o600);
    match kind {
        "non_root_owner" => chown_nobody(&p),
        "group_writable" => chmod(&p, 0o620),
        _ => chmod(&p, 0o602),
    }
    p
}
