//! How a cluster comes to be: the `postgres` user's commands, the TLS material, the template every
//! cluster copies, and the one thread that spawns servers and the exit handler that stops them.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::{non_loopback_ipv4, roles_sql, PgCluster, BIN, ROLES};

/// What every cluster of this process copies: an initdb'd, cleanly stopped data directory with
/// the roles in it, the CA and server certificate, and the login roles' passwords.
#[derive(Clone)]
pub(super) struct Template {
    pub(super) data: PathBuf,
    pub(super) tls: PathBuf,
    pub(super) passwords: Vec<(&'static str, String)>,
}

pub(super) fn pg_ids() -> (u32, u32) {
    let u = nix::unistd::User::from_name("postgres")
        .unwrap()
        .expect("no `postgres` user: `make deps` installs the postgresql package");
    (u.uid.as_raw(), u.gid.as_raw())
}

/// A command run as the `postgres` user (initdb and postgres refuse root), environment cleared.
pub(super) fn as_postgres(program: &str) -> Command {
    let (uid, gid) = pg_ids();
    let mut c = Command::new(Path::new(BIN).join(program));
    c.uid(uid)
        .gid(gid)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C");
    c
}

pub(super) fn run(mut c: Command) -> Output {
    let out = c.output().unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(super) fn chown_to_postgres(p: &Path) {
    let (uid, gid) = pg_ids();
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
}

/// A cluster directory under /tmp, marked with this process's pid; first removes the ones whose
/// process is gone (a test binary killed before its exit handler ran).
pub(super) fn cluster_dir(prefix: &str) -> PathBuf {
    for e in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
        if !e.file_name().to_string_lossy().starts_with("pgtap-") {
            continue;
        }
        let owner = std::fs::read_to_string(e.path().join("owner")).ok();
        let pid = owner.and_then(|s| s.trim().parse::<i32>().ok());
        // SAFETY: signal 0 only probes whether the pid exists.
        if pid.is_some_and(|p| unsafe { libc::kill(p, 0) } != 0) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let root = PathBuf::from(format!("/tmp/{}", crate::support::ids::unique(prefix)));
    mkdir(&root, 0o755, false);
    std::fs::write(root.join("owner"), std::process::id().to_string()).unwrap();
    root
}

pub(super) fn mkdir(p: &Path, mode: u32, postgres: bool) {
    std::fs::create_dir(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    if postgres {
        chown_to_postgres(p);
    }
}

/// A CA and a server certificate for localhost, 127.0.0.1 and this machine's own address.
fn make_tls(dir: &Path) {
    let openssl = |args: &[&str]| {
        let mut c = Command::new("openssl");
        c.current_dir(dir).args(args);
        run(c);
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509", "-new"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "3",
                "-subj",
                "/CN=pam_tap test CA",
            ],
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-new"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        ]
        .concat(),
    );
    let mut san = "subjectAltName=DNS:localhost,IP:127.0.0.1".to_string();
    if let Some(ip) = non_loopback_ipv4() {
        san.push_str(&format!(",IP:{ip}"));
    }
    std::fs::write(dir.join("server.ext"), format!("{san}\nextendedKeyUsage=serverAuth\n")).unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3",
        "-out",
        "server.crt",
        "-extfile",
        "server.ext",
    ]);
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    chown_to_postgres(&key);
    std::fs::set_permissions(dir.join("ca.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

pub(super) fn password() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Has the server `c` starts get `signal` when this process dies. Set in the child after std's
/// setuid (a credential change clears PDEATHSIG); the child refuses to start if its parent is
/// already gone.
pub fn dies_with_this_process(c: &mut Command, signal: libc::c_int) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as i32;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 || libc::getppid() != parent {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
}

/// Spawns every server from one thread that never ends (see the module comment).
pub fn spawn_kept(cmd: Command) -> Child {
    type Req = (Command, Sender<std::io::Result<Child>>);
    static KEEPER: OnceLock<Mutex<Sender<Req>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = channel::<Req>();
        std::thread::Builder::new()
            .name("pg_cluster keeper".into())
            .spawn(move || {
                // The sender lives in a static: this loop, and the thread, last until exit.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .unwrap();
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(stop_all_at_exit) };
        Mutex::new(tx)
    });
    let (tx, rx) = channel();
    keeper.lock().unwrap().send((cmd, tx)).unwrap();
    rx.recv().unwrap().expect("spawn postgres")
}

/// Servers still running and directories still to remove, for the exit handler.
pub(super) static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
pub(super) static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn stop_all_at_exit() {
    // try_lock: a thread that died holding a lock must not hang the exit.
    if let Ok(live) = LIVE.try_lock() {
        for &pid in live.iter() {
            // SAFETY: signalling and reaping our own children. SIGQUIT = immediate shutdown.
            unsafe {
                libc::kill(pid as i32, libc::SIGQUIT);
                libc::waitpid(pid as i32, std::ptr::null_mut(), 0);
            }
        }
    }
    if let Ok(dirs) = DIRS.try_lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub(super) fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        let t = Instant::now();
        let root = cluster_dir("pgtap-tpl-");
        DIRS.lock().unwrap().push(root.clone());
        let (data, tls) = (root.join("data"), root.join("tls"));
        mkdir(&tls, 0o755, false);
        make_tls(&tls);
        mkdir(&data, 0o700, true);
        let mut initdb = as_postgres("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-N", "-U", "postgres", "--wal-segsize=1", "-E", "UTF8"]);
        initdb.args(["--locale=C", "--auth-local=peer", "--auth-host=reject"]);
        run(initdb);
        let tpl = Template {
            data: data.clone(),
            tls,
            passwords: ROLES.iter().map(|r| (*r, password())).collect(),
        };
        // The roles are made once, in the template, on a throwaway start of it.
        let setup = PgCluster::on_data(root, data, tpl.clone(), vec![], false, vec![]);
        setup.superuser_sql("postgres", &roles_sql());
        let mut logins = String::new();
        for (role, pw) in &tpl.passwords {
            let group = match *role {
                "tapctl_admin" => "pam_tap_admin",
                "tapkeys" => "pam_tap_keys",
                _ => "pam_tap_host",
            };
            logins.push_str(&format!("CREATE ROLE {role} LOGIN PASSWORD '{pw}' IN ROLE {group};\n"));
        }
        setup.superuser_sql("postgres", &logins);
        // A clean stop: the copies start without crash recovery.
        setup.stop("fast");
        // Its Drop would remove the template's files.
        std::mem::forget(setup);
        eprintln!(
            "pg_cluster: template (TLS + initdb + roles) made in {} ms",
            t.elapsed().as_millis()
        );
        tpl
    })
}
