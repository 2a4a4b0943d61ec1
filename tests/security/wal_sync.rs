//! What a login's commit syncs. The consume of a pass must survive a power loss: the WAL is
//! fsynced at every commit, and the directory entry of the WAL must be on disk before any commit
//! relies on it. The directory is synced by the module only when the WAL file is new (missing or
//! empty at open), not at every login (SQLite's own per-connection directory sync is compiled out).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::figures::figure;
use crate::support::site::Site;
use crate::{site, user};

/// The fsync/fdatasync calls of one `pam_drive` login, by the path of the descriptor synced.
fn synced_paths(f: &Site, user: &str, pass: &str) -> (String, Vec<String>) {
    let trace = f.db.with_extension("strace");
    let drive = f.drive_cmd("only", user, &["authenticate"]);
    let mut cmd = Command::new("strace");
    cmd.arg("-f")
        .arg("-y")
        .arg("-qq")
        .arg("-e")
        .arg("trace=fsync,fdatasync")
        .arg("-o")
        .arg(&trace)
        .arg(drive.get_program())
        .args(drive.get_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = crate::support::drive::feed(cmd, format!("{pass}\n").as_bytes());
    let run = crate::support::drive::Run::from_output(out);
    let text = std::fs::read_to_string(&trace).expect("strace wrote its trace (apt-get install strace)");
    let _ = std::fs::remove_file(&trace);
    let paths = text
        .lines()
        .filter_map(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_string()))
        .collect();
    (run.auth().to_string(), paths)
}

fn count(paths: &[String], p: &Path) -> usize {
    paths.iter().filter(|s| Path::new(s.as_str()) == p).count()
}

#[test]
fn a_login_syncs_the_wal_and_the_directory_only_when_the_wal_is_new() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("wal_sync", "");
    f.stack_only("only", "");
    let dir = f.db.parent().unwrap().to_path_buf();
    let wal = {
        let mut s = f.db.as_os_str().to_owned();
        s.push("-wal");
        std::path::PathBuf::from(s)
    };
    // A first login, so the WAL this store's logins use exists.
    let pass = f.issue_keeping(&user.name, &["--one-time", "--replace"]).pass;
    let (first, _) = synced_paths(&f, &user.name, &pass);
    assert_eq!(first, "PAM_SUCCESS");

    let pass = f.issue_keeping(&user.name, &["--one-time", "--replace"]).pass;
    // tapctl's connection leaves the WAL in place; so did the first login.
    assert!(wal.exists(), "the WAL persists between connections");
    let (steady, steady_paths) = synced_paths(&f, &user.name, &pass);

    let pass = f.issue_keeping(&user.name, &["--one-time", "--replace"]).pass;
    let (fresh, fresh_paths) = a_login_creating_the_wal(&f, &user.name, &pass, &wal);
    let used: i64 = f
        .sqlite()
        .query_row("SELECT use_count FROM passes ORDER BY id DESC LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    figure(
        "wal_sync",
        &format!(
            "steady login: wal_syncs={} dir_syncs={} other={} | login creating the WAL: wal_syncs={} dir_syncs={}",
            count(&steady_paths, &wal),
            count(&steady_paths, &dir),
            steady_paths.len() - count(&steady_paths, &wal) - count(&steady_paths, &dir),
            count(&fresh_paths, &wal),
            count(&fresh_paths, &dir),
        ),
    );
    assert_eq!((steady.as_str(), fresh.as_str()), ("PAM_SUCCESS", "PAM_SUCCESS"));
    assert!(
        count(&steady_paths, &wal) >= 1,
        "the consume is synced: {steady_paths:?}"
    );
    assert_eq!(
        count(&steady_paths, &dir),
        0,
        "no directory sync at a steady login: {steady_paths:?}"
    );
    assert!(count(&fresh_paths, &wal) >= 1, "{fresh_paths:?}");
    assert_eq!(
        count(&fresh_paths, &dir),
        1,
        "a new WAL's directory is synced once: {fresh_paths:?}"
    );
    assert_eq!(used, 1, "the consume is in the store");
}

/// A tool that checkpoints and deletes the WAL on close (the sqlite3 shell, this test's own
/// connection), then a login with `pass`: it creates the WAL and must make its directory entry
/// durable. Its result and what it synced.
fn a_login_creating_the_wal(f: &Site, user: &str, pass: &str, wal: &Path) -> (String, Vec<String>) {
    f.sqlite()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let _ = std::fs::remove_file(wal);
    synced_paths(f, user, pass)
}
