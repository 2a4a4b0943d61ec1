//! The database on a full filesystem, on a read-only mount, removed mid-run; and every file the
//! module trusts replaced by an unsafe one.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::site::write_file;
use crate::support_sec::{alerts, figure, line, Fixture, TempUser};

const UNIX_PW: &str = "Unix-password-7!";

/// A mount undone on drop.
struct Mount(PathBuf);

impl Mount {
    fn new(args: &[&str], at: &Path) -> Self {
        let out = Command::new("mount").args(args).arg(at).output().unwrap();
        assert!(
            out.status.success(),
            "mount {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

/// Holder: pass-holder, with its correct pass through the full stack; other: a user without a pass
/// and with a local password, who must still get in through pam_unix.
fn attempts(f: &Fixture, holder: &str, pass: &str, other: &str) -> (String, String) {
    let a = f.drive("full", holder, &["authenticate"], &line(pass));
    let b = f.drive("full", other, &["authenticate"], &line(UNIX_PW));
    assert!(!a.crashed() && !b.crashed(), "{a:?} {b:?}");
    (a.auth().to_string(), b.auth().to_string())
}

fn fill(dir: &Path) {
    let mut file = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0x5au8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    // Single bytes until nothing more fits.
    while file.write_all(b"x").is_ok() && file.sync_all().is_ok() {}
}

#[test]
fn disk_full_read_only_and_removed_database() {
    require_root!();
    let _g = crate::support_sec::serial();
    let holder = TempUser::new();
    let other = TempUser::with_password(UNIX_PW);
    let mut rows = vec![];

    // Disk full: the database alone on a small tmpfs, then the rest of the space taken.
    {
        let mut f = Fixture::new("fs_full", "");
        let mnt = f.dir.join("small");
        std::fs::create_dir(&mnt).unwrap();
        let _m = Mount::new(&["-t", "tmpfs", "-o", "size=256k,mode=0700,uid=0,gid=0", "tmpfs"], &mnt);
        f.db = mnt.join("tap.db");
        f.write_policy("");
        assert!(f.tapctl(&["init"]).status.success());
        f.stack_full("full", "");
        let pass = f.issue(&holder.name, &["--one-time"]);
        fill(&mnt);
        f.log.clear();
        let (a, b) = attempts(&f, &holder.name, &pass, &other.name);
        let lines = f.log.settled_lines();
        let logged = lines.iter().any(|l| l.contains("refusing:"));
        std::fs::remove_file(mnt.join("filler")).unwrap();
        let (a2, _) = attempts(&f, &holder.name, &pass, &other.name);
        let (a3, _) = attempts(&f, &holder.name, &pass, &other.name);
        rows.push(("disk_full", a, b, logged, a2, a3, lines));
        f.check_no_secrets();
    }

    // Read-only: the database directory bind-mounted read-only.
    {
        let mut f = Fixture::new("fs_readonly", "");
        f.stack_full("full", "");
        let pass = f.issue(&holder.name, &["--one-time"]);
        let dbdir = f.db.parent().unwrap().to_path_buf();
        let m = Mount::new(&["--bind", dbdir.to_str().unwrap()], &dbdir);
        let out = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&dbdir)
            .output()
            .unwrap();
        assert!(out.status.success());
        f.log.clear();
        let (a, b) = attempts(&f, &holder.name, &pass, &other.name);
        let lines = f.log.settled_lines();
        let logged = lines.iter().any(|l| l.contains("refusing:"));
        drop(m);
        let (a2, _) = attempts(&f, &holder.name, &pass, &other.name);
        let (a3, _) = attempts(&f, &holder.name, &pass, &other.name);
        rows.push(("read_only", a, b, logged, a2, a3, lines));
        f.check_no_secrets();
    }

    // Removed mid-run: 16 logins wait at the prompt, half answer, the database goes, the rest answer.
    {
        let mut f = Fixture::new("fs_removed", "");
        f.stack_full("full", "");
        let pass = f.issue(&holder.name, &["--one-time"]);
        let mut children: Vec<_> = (0..16)
            .map(|_| {
                f.drive_cmd("full", &holder.name, &["authenticate"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut first = vec![];
        for c in children.drain(..8) {
            let mut c = c;
            writeln!(c.stdin.take().unwrap(), "{pass}").unwrap();
            first.push(c);
        }
        std::thread::sleep(std::time::Duration::from_millis(40));
        for ext in ["", "-wal", "-shm"] {
            let mut p = f.db.clone().into_os_string();
            p.push(ext);
            let _ = std::fs::remove_file(p);
        }
        f.log.clear();
        for c in &mut children {
            writeln!(c.stdin.take().unwrap(), "{pass}").unwrap();
        }
        let before: Vec<String> = first
            .into_iter()
            .map(|c| {
                crate::support::drive::Run::from_output(c.wait_with_output().unwrap())
                    .auth()
                    .to_string()
            })
            .collect();
        let after: Vec<String> = children
            .into_iter()
            .map(|c| {
                crate::support::drive::Run::from_output(c.wait_with_output().unwrap())
                    .auth()
                    .to_string()
            })
            .collect();
        let (a, b) = attempts(&f, &holder.name, &pass, &other.name);
        let lines = f.log.settled_lines();
        let logged = lines.iter().any(|l| l.contains("refusing:"));
        // Recreated empty by an operator: the pass is simply gone.
        assert!(f.tapctl(&["init"]).status.success());
        let (a2, _) = attempts(&f, &holder.name, &pass, &other.name);
        let successes = before
            .iter()
            .chain(after.iter())
            .filter(|c| *c == "PAM_SUCCESS")
            .count();
        let after_ok = after.iter().filter(|c| *c == "PAM_SUCCESS").count();
        figure(
            "fs_removed_mid_run",
            &format!(
                "answered_before_removal={before:?} successes_total={successes} successes_after_removal={after_ok}"
            ),
        );
        assert!(successes <= 1 && after_ok == 0, "{before:?} {after:?}");
        rows.push(("removed", a, b, logged, a2.clone(), a2, lines));
        f.check_no_secrets();
    }

    let mut bad = vec![];
    for (case, a, b, logged, a2, a3, lines) in &rows {
        let message = lines
            .iter()
            .find(|l| l.contains("refusing:"))
            .and_then(|l| l.split("]: ").nth(1))
            .unwrap_or("");
        figure(
            &format!("fs_{case}"),
            &format!(
                "holder_with_pass={a} other_via_pam_unix={b} syslog_refusing_line={logged} \
                 after_repair_pass={a2} then_again={a3} message={message:?}"
            ),
        );
        if a == "PAM_SUCCESS" || b != "PAM_SUCCESS" || !logged {
            bad.push(format!("{case}: {a} {b} logged={logged} {lines:?}"));
        }
        // After repair the untouched pass works exactly once (the removed database lost it).
        let expect = if *case == "removed" {
            ("PAM_AUTH_ERR", "PAM_AUTH_ERR")
        } else {
            ("PAM_SUCCESS", "PAM_AUTH_ERR")
        };
        if (a2.as_str(), a3.as_str()) != expect {
            bad.push(format!("{case}: after repair {a2} then {a3}"));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

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
    let _g = crate::support_sec::serial();
    let user = TempUser::new();
    let targets = ["config", "config_dir", "database", "database_dir", "wal", "shm"];
    let kinds = ["symlink", "non_root_owner", "group_writable", "world_writable"];
    let mut table = vec![];
    let mut bad = vec![];
    // Control: the watch does see a normal login read and write the database.
    let control = {
        let mut f = Fixture::new("unsafe_control", "");
        let pass = f.issue(&user.name, &["--one-time"]);
        f.stack_only("only", "");
        let (run, events) = watch(&f.db, || f.drive("only", &user.name, &["authenticate"], &line(&pass)));
        assert_eq!(run.auth(), "PAM_SUCCESS");
        assert!(events["open"] > 0 && events["read"] > 0, "{events:?}");
        f.check_no_secrets();
        events
    };
    for target in targets {
        for kind in kinds {
            let mut f = Fixture::new(&format!("unsafe_{target}_{kind}"), "");
            let pass = f.issue(&user.name, &["--one-time"]);
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
                    f.write_policy("");
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
