//! A host on SQLite pays nothing for PostgreSQL support: pam_tap.so does not link libpq, and a
//! login against a SQLite store never opens it (nor the TLS, GSSAPI and LDAP libraries it pulls
//! in); a login against a PostgreSQL store does.

use std::path::Path;
use std::process::Command;

use crate::site::fleet;
use crate::support::accounts::User;
use crate::support::drive::{feed, Run};
use crate::support::paths::{module, pam_drive};
use crate::support::site::Site;

/// The files `pam_drive` (and its children) opened for one authentication on `service` in `pamd`.
fn opened(pamd: &Path, service: &str, user: &str, answer: &str, trace: &Path) -> (Run, String) {
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-e", "trace=openat,open", "-o"])
        .arg(trace)
        .arg(pam_drive());
    cmd.arg("--confdir").arg(pamd).args([service, user, "authenticate"]);
    let run = Run::from_output(feed(cmd, format!("{answer}\n").as_bytes()));
    let text = std::fs::read_to_string(trace).expect("strace wrote its trace (apt-get install strace)");
    (run, text)
}

#[test]
fn libpq_is_loaded_only_for_a_postgresql_store() {
    require_root!();
    let out = Command::new("readelf")
        .arg("-d")
        .arg(module())
        .output()
        .expect("readelf (binutils)");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    assert!(dynamic.contains("(NEEDED)"), "{dynamic}");
    assert!(!dynamic.contains("libpq"), "pam_tap.so links libpq: {dynamic}");

    let u = User::new();
    let local = Site::new("");
    let pass = local.issue(&u.name, &["--keep-password", "--reusable"])["pass"]
        .as_str()
        .unwrap()
        .to_string();
    let (run, sqlite) = opened(&local.pamd, "svc", &u.name, &pass, &local.dir.path().join("trace"));
    assert_eq!(run.auth(), "PAM_SUCCESS", "{run:?}");
    for lib in ["libpq.so", "libssl.so", "libgssapi", "libldap"] {
        assert!(!sqlite.contains(lib), "a SQLite login opened {lib}");
    }
    assert!(sqlite.contains("tap.db"), "the trace saw the SQLite store being opened");

    let f = fleet("");
    let pass = f.issue_keeping(&u.name, &["--reusable"]).pass;
    let (run, pg) = opened(&f.pamd, "only-a", &u.name, &pass, &f.dir.join("trace"));
    assert_eq!(run.auth(), "PAM_SUCCESS", "{run:?}");
    assert!(pg.contains("libpq.so.5"), "a PostgreSQL login did not open libpq");
}
