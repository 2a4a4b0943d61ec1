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

#[test]
fn unsafe_files_are_refused_with_an_alert_and_never_opened() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let targets = ["config", "config_dir", "database", "database_dir", "wal", "shm"];
    let kinds = ["symlink", "non_root_owner", "group_writable", "world_writable"];
    let mut table = vec![];
    let mut bad = vec![];
    // Control: the watch does see a normal login read and write the database.
    let control = {
        let f = site("unsafe_control", "");
        let pass = f.issue_keeping(&user.name, &["--one-time"]).pass;
        f.stack_only("only", "");
        let (run, events) = watch(&f.db, || f.drive("only", &user.name, &["authenticate"], &line(&pass)));
        assert_eq!(run.auth(), "PAM_SUCCESS");
        assert!(events["open"] > 0 && events["read"] > 0, "{events:?}");
        f.check_no_secrets();
        events
    };
    for target in targets {
        for kind in kinds {
            let mut f = site(&format!("unsafe_{target}_{kind}"), "");
            let pass = f.issue_keeping(&user.name, &["--one-time"]).pass;
            let db = f.db.clone();
            let dbdir = db.parent().unwrap().to_path_buf();
            let mut module_config = f.config.clone();
            // The file that must not be opened, read or written.
            let mut watched = db.clone();
            let sidecar = |ext: &str| {
                let mut p = db.clone().into_os_string();
                p.push(ext);
                PathBuf::from(p)
            };
            match (target, kind) {
                ("config", "symlink") => {
                    let real = f.dir.join("real.toml");
                    std::fs::rename(&f.config, &real).unwrap();
                    std::os::unix::fs::symlink(&real, &f.config).unwrap();
                    watched = real;
                }
                ("config", k) => {
                    watched = f.config.clone();
                    match k {
                        "non_root_owner" => chown_nobody(&f.config),
                        "group_writable" => chmod(&f.config, 0o620),
                        _ => chmod(&f.config, 0o602),
                    }
                }
                ("config_dir", k) => {
                    let real = f.dir.join("cfgreal");
                    std::fs::create_dir(&real).unwrap();
                    chmod(&real, 0o700);
                    std::fs::copy(&f.config, real.join("pam_tap.toml")).unwrap();
                    chmod(&real.join("pam_tap.toml"), 0o600);
                    watched = real.join("pam_tap.toml");
                    module_config = match k {
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
                }
                ("database", "symlink") => {
                    let real = f.dir.join("elsewhere.db");
                    std::fs::rename(&db, &real).unwrap();
                    std::os::unix::fs::symlink(&real, &db).unwrap();
                    watched = real;
                }
                ("database", k) => match k {
                    "non_root_owner" => chown_nobody(&db),
                    "group_writable" => chmod(&db, 0o620),
                    _ => chmod(&db, 0o602),
                },
                ("database_dir", "symlink") => {
                    let link = f.dir.join("dblink");
                    std::os::unix::fs::symlink(&dbdir, &link).unwrap();
                    f.db = link.join("tap.db");
                    f.write_config("");
                    f.db = db.clone();
                }
                ("database_dir", k) => match k {
                    "non_root_owner" => chown_nobody(&dbdir),
                    "group_writable" => chmod(&dbdir, 0o770),
                    _ => chmod(&dbdir, 0o707),
                },
                (side, k) => {
                    let p = sidecar(if side == "wal" { "-wal" } else { "-shm" });
                    // The store keeps its -wal and -shm between logins: replace them.
                    let _ = std::fs::remove_file(&p);
                    if k == "symlink" {
                        let victim = f.dir.join("victim");
                        write_file(&victim, b"root's file", 0o600);
                        std::os::unix::fs::symlink(&victim, &p).unwrap();
                        watched = victim;
                    } else {
                        write_file(&p, b"", 0o600);
                        watched = p.clone();
                        match k {
                            "non_root_owner" => chown_nobody(&p),
                            "group_writable" => chmod(&p, 0o620),
                            _ => chmod(&p, 0o602),
                        }
                    }
                }
            }
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
            table.push(format!(
                "{target}/{kind}={}{}",
                run.auth().trim_start_matches("PAM_"),
                if ok { "" } else { "!" }
            ));
            if !ok {
                bad.push(format!(
                    "{target}/{kind}: {} alert={alert} events={events:?} db_events={db_events:?} used={used:?} {lines:?}",
                    run.auth()
                ));
            }
            // Give ownership back so the fixture can be read and removed.
            let _ = Command::new("chown").args(["-R", "root:root"]).arg(&f.dir).output();
            f.check_no_secrets();
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
