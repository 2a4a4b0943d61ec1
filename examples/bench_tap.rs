//! pam_tap's benchmark suite: B1–B7 of the performance goals and the argon2id sizing table, each a
//! ratio measured in this one run on this one machine (medians of many runs; runs of the things
//! compared are interleaved so that drift on a shared machine hits both sides alike).
//!
//! Run by `scripts/bench.sh` (`make bench`) as root inside a bwrap sandbox whose /etc is a private
//! copy: the suite adds its accounts and PAM services to that copy, never to the host's.
//!
//! ```text
//! bench_tap --bin DIR --work DIR --out FILE [--quick]
//! ```
//! DIR holds the release `libpam_tap.so`, `tapctl` and `examples/pam_drive`; WORK is an empty
//! root-owned 0700 directory.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use pam::constants::PamResultCode;
use pam_tap::config::Policy;
use pam_tap::core::{self, Accepted, Env, Handle, Secret};
use pam_tap::hash::{self, KdfParams};
use pam_tap::log::Syslog;
use pam_tap::outcome::Outcome;
use pam_tap::store::Sqlite;
use pam_tap::users::System;
use zeroize::Zeroizing;

const PASSWORD: &str = "Bench-pw-2718!";
const UID_BASE: u32 = 61_000;
const MIB: f64 = 1024.0 * 1024.0;

type R<T> = Result<T, String>;

struct Ctx {
    only: Option<Vec<String>>,
    bin: PathBuf,
    work: PathBuf,
    quick: bool,
    cores: usize,
    policy: Policy,
}

impl Ctx {
    /// Whether section `id` runs (`--only B2,B4` runs only those).
    fn runs(&self, id: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|x| x == id))
    }
    fn n(&self, full: usize) -> usize {
        if self.quick {
            (full / 4).max(3)
        } else {
            full
        }
    }
    fn conf(&self, name: &str) -> PathBuf {
        self.work.join("conf").join(format!("{name}.toml"))
    }
    fn lib(&self) -> PathBuf {
        self.bin.join("libpam_tap.so")
    }
    fn tapctl(&self) -> PathBuf {
        self.bin.join("tapctl")
    }
    fn pam_drive(&self) -> PathBuf {
        self.bin.join("examples/pam_drive")
    }
    fn log_socket(&self) -> PathBuf {
        self.work.join("log.sock")
    }
}

/// The bench is a front end: it reads the clock for the module's core, as the PAM shell does.
#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// A finished child: stdout, exit status and wall time.
struct Ran {
    stdout: String,
    ok: bool,
    wall_ms: f64,
}

/// Runs `cmd` with `stdin`, measuring wall time.
fn run(cmd: &mut Command, stdin: &str) -> R<Ran> {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut stdout)
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok(Ran {
        stdout,
        ok: status.success(),
        wall_ms: ms(t),
    })
}

fn sh(cmd: &mut Command, stdin: Option<&str>) -> R<String> {
    let mut child = cmd
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(s.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write_private(path: &Path, text: &str) -> R<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

fn mkdir_private(path: &Path) -> R<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn append(path: &str, text: &str) -> R<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{path}: {e}"))
}

/// Adds accounts to the sandbox's private /etc (passwd, shadow, group), locked, no home.
fn add_users(names: &[String], first_uid: u32) -> R<()> {
    let (mut pw, mut sp, mut gr) = (String::new(), String::new(), String::new());
    for (i, n) in names.iter().enumerate() {
        let id = first_uid + i as u32;
        writeln!(pw, "{n}:x:{id}:{id}:pam_tap bench:/nonexistent:/usr/sbin/nologin").unwrap();
        writeln!(sp, "{n}:!:20000:0:99999:7:::").unwrap();
        writeln!(gr, "{n}:x:{id}:").unwrap();
    }
    append("/etc/passwd", &pw)?;
    append("/etc/shadow", &sp)?;
    append("/etc/group", &gr)
}

fn shadow_hash(user: &str) -> R<String> {
    let text = std::fs::read_to_string("/etc/shadow").map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{user}:")))
        .and_then(|rest| rest.split(':').next())
        .map(str::to_string)
        .ok_or_else(|| format!("{user} not in /etc/shadow"))
}

fn tapctl(c: &Ctx, conf: &str, args: &[&str]) -> R<String> {
    sh(
        Command::new(c.tapctl())
            .arg("--config")
            .arg(c.conf(conf))
            .args(args)
            .env_remove("SUDO_USER"),
        None,
    )
}

/// Issues one pass and returns its code.
fn issue(c: &Ctx, conf: &str, user: &str, extra: &[&str]) -> R<String> {
    let mut args = vec!["issue", user, "--json"];
    args.extend_from_slice(extra);
    let out = tapctl(c, conf, &args)?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    v["pass"].as_str().map(str::to_string).ok_or("no pass in output".into())
}

/// A bench Handle over a fixed user and answer, for the module's core run in this process.
struct BenchHandle {
    user: String,
    answer: String,
}

impl Handle for BenchHandle {
    fn user(&mut self) -> Result<String, PamResultCode> {
        Ok(self.user.clone())
    }
    fn service(&self) -> Option<String> {
        Some("tapbench".into())
    }
    fn rhost(&self) -> Option<String> {
        None
    }
    fn authtok(&mut self) -> Result<Secret, PamResultCode> {
        Ok(Zeroizing::new(self.answer.as_bytes().to_vec()))
    }
    fn info(&mut self, _: &str) -> Result<(), PamResultCode> {
        Ok(())
    }
    fn prompt_secret(&mut self, _: &str) -> Result<Secret, PamResultCode> {
        Err(PamResultCode::PAM_CONV_ERR)
    }
    fn new_authtok(&mut self) -> Result<(), PamResultCode> {
        Ok(())
    }
    fn authtok_set(&self) -> bool {
        false
    }
    fn set_old_authtok(&mut self, _: &[u8]) -> Result<(), PamResultCode> {
        Ok(())
    }
    fn remember(&mut self, _: Accepted) -> Result<(), PamResultCode> {
        Ok(())
    }
    fn remembered(&self) -> Option<Accepted> {
        None
    }
}

/// One `pam_sm_authenticate` decision in this process, timed: config load, name service lookup,
/// store open, lookup, verify, consume, audit, syslog line, close.
fn auth_once(c: &Ctx, conf: &str, user: &str, answer: &str) -> R<f64> {
    let mut h = BenchHandle {
        user: user.into(),
        answer: answer.into(),
    };
    let t = Instant::now();
    let policy = Policy::load(&c.conf(conf)).map_err(|e| e.to_string())?;
    let mut log = Syslog::new(Some(c.log_socket()), false);
    let mut env = Env {
        now: now(),
        dir: &System,
        log: &mut log,
        debug: false,
        caller_is_root: true,
        sudo: &pam_tap::sudo::grants_root,
    };
    let out = core::authenticate(&mut h, &policy, Sqlite(&policy.database), &mut env);
    let took = ms(t);
    if out != Outcome::Accepted {
        return Err(format!("in-process auth of {user} gave {out:?}"));
    }
    Ok(took)
}

/// A PHC string of the cheapest argon2id the verifier accepts (m=8 KiB, t=1): with it, a login
/// costs the module's own work and a few microseconds of KDF.
fn cheap_phc(code: &str) -> R<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, Some(32)).map_err(|e| e.to_string())?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"pam_tap-bench-salt").map_err(|e| e.to_string())?;
    Ok(a.hash_password(code.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string())
}

fn set_hash(db: &Path, user: &str, phc: &str) -> R<()> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    let n = conn
        .execute(
            "UPDATE passes SET hash = ?2 WHERE id = (SELECT max(id) FROM passes WHERE user = ?1)",
            rusqlite::params![user, phc],
        )
        .map_err(|e| e.to_string())?;
    if n != 1 {
        return Err(format!("no pass of {user} in {}", db.display()));
    }
    Ok(())
}

/// The bench's own PAM services, where a pass must count.
const BENCH_SERVICES: &str = "services = [\"tapbench\", \"tapbench-tap\", \"tapbench-tapnoeq\", \
                              \"tapbench-taponly\", \"tapbench-taponly-tmpfs\"]\n";

fn pamtester(service: &str, user: &str, answer: &str) -> R<Ran> {
    let r = run(
        Command::new("pamtester").args([service, user, "authenticate"]),
        &format!("{answer}\n"),
    )?;
    if !r.ok {
        return Err(format!("pamtester {service} {user} failed: {}", r.stdout.trim()));
    }
    Ok(r)
}

/// One row of the results table.
struct Row {
    id: &'static str,
    what: String,
    measured: String,
    goal: String,
    pass: Option<bool>,
}

fn verdict(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "pass",
        Some(false) => "MISS",
        None => "info",
    }
}

fn setup(c: &Ctx) -> R<()> {
    mkdir_private(&c.work.join("conf"))?;
    let db = |d: &str| c.work.join(d).join("tap.db");
    for (name, dbdir, extra) in [
        ("on", "db", ""),
        ("off", "db", "[hash]\nequalize_timing = false\n"),
        ("b4-10", "db10", ""),
        ("b4-100k", "db100k", ""),
        ("tmpfs", "tmpfs/db", ""),
    ] {
        write_private(
            &c.conf(name),
            &format!(
                "enabled = true\ndatabase = \"{}\"\n{BENCH_SERVICES}{extra}",
                db(dbdir).display()
            ),
        )?;
    }
    for name in ["on", "b4-10", "b4-100k", "tmpfs"] {
        tapctl(c, name, &["init"])?;
    }
    let lib = c.lib();
    let lib = lib.display();
    let log = c.log_socket();
    let log = log.display();
    let on = c.conf("on");
    let on = on.display();
    let off = c.conf("off");
    let off = off.display();
    let tmpfs = c.conf("tmpfs");
    let tmpfs = tmpfs.display();
    let unix = "auth     [success=ignore default=die] pam_unix.so try_first_pass\n\
                auth     required   pam_permit.so\naccount  required   pam_unix.so\n";
    for (svc, text) in [
        (
            "tapbench-tap",
            format!("auth     [success=1 default=ignore] {lib} config={on} log_socket={log}\n{unix}"),
        ),
        (
            "tapbench-tapnoeq",
            format!("auth     [success=1 default=ignore] {lib} config={off} log_socket={log}\n{unix}"),
        ),
        ("tapbench-unix", unix.to_string()),
        (
            "tapbench-taponly",
            format!(
                "auth     [success=1 default=ignore] {lib} config={on} log_socket={log}\n\
                 auth     requisite  pam_deny.so\nauth     required   pam_permit.so\n"
            ),
        ),
        (
            "tapbench-taponly-tmpfs",
            format!(
                "auth     [success=1 default=ignore] {lib} config={tmpfs} log_socket={log}\n\
                 auth     requisite  pam_deny.so\nauth     required   pam_permit.so\n"
            ),
        ),
    ] {
        let p = PathBuf::from("/etc/pam.d").join(svc);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("bench_tap: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> R<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
    };
    let (Some(bin), Some(work), Some(out_path)) = (get("--bin"), get("--work"), get("--out")) else {
        return Err("usage: bench_tap --bin DIR --work DIR --out FILE [--quick]".into());
    };
    if std::env::var_os("TAPBENCH_PRIVATE_ETC").is_none() {
        return Err("run me through scripts/bench.sh: I add accounts to /etc, which must be a private copy".into());
    }
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return Err("the suite needs root (PAM, /etc/shadow, root-owned store)".into());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let c = Ctx {
        only: args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|s| s.split(',').map(str::to_string).collect()),
        bin,
        work,
        quick: args.iter().any(|a| a == "--quick"),
        cores,
        policy: Policy::default(),
    };
    let kdf = c.policy.kdf;
    // Drain pam_tap's syslog lines, so every login pays for sending one as it would to /dev/log.
    let sock = UnixDatagram::bind(c.log_socket()).map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while sock.recv(&mut buf).is_ok() {}
    });
    let started = Instant::now();
    let load0 = loadavg();
    setup(&c)?;
    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let progress = |s: &str| eprintln!("[{:>6.1}s] {s}", started.elapsed().as_secs_f64());

    // Accounts: B1/B2/B6/B7 users, 64 for B3, 1,000 for B5.
    let singles: Vec<String> = ["tapb-one", "tapb-nopass", "tapb-cheap", "tapb-b4", "tapb-b4cheap"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let par: Vec<String> = (1..=64).map(|i| format!("tapb-p{i:02}")).collect();
    let bulk: Vec<String> = (1..=1000).map(|i| format!("tapb-b{i:04}")).collect();
    add_users(&singles, UID_BASE)?;
    add_users(&par, UID_BASE + 100)?;
    add_users(&bulk, UID_BASE + 1000)?;
    sh(
        &mut Command::new("chpasswd"),
        Some(&format!("tapb-one:{PASSWORD}\ntapb-nopass:{PASSWORD}\n")),
    )?;
    for u in ["tapb-one", "tapb-nopass"] {
        let h = shadow_hash(u)?;
        if !h.starts_with("$y$") {
            return Err(format!("{u}'s password is not yescrypt ({:.4}...)", h));
        }
    }
    let y = shadow_hash("tapb-one")?;
    notes.push(format!(
        "pam_unix passwords set by chpasswd (Debian default yescrypt): {}",
        &y[..y.match_indices('$').nth(2).map_or(y.len(), |(i, _)| i + 1)]
    ));
    let tap_one = issue(&c, "on", "tapb-one", &["--keep-password", "--reusable"])?;
    let fsync = fsync_ms(&c.work)?;
    progress("setup done");

    let (hash_ms, verify_ms) = kdf_ms(&kdf, c.n(15))?;
    progress(&format!("one hash {hash_ms:.1} ms, one verify {verify_ms:.1} ms"));

    if c.runs("B1") {
        // pamtester, TAP vs the pam_unix yescrypt password, same user.
        let (mut t_tap, mut t_pw) = (vec![], vec![]);
        for _ in 0..c.n(25) {
            t_tap.push(pamtester("tapbench-tap", "tapb-one", &tap_one)?.wall_ms);
            t_pw.push(pamtester("tapbench-unix", "tapb-one", PASSWORD)?.wall_ms);
        }
        let (b1_tap, b1_pw) = (median(&t_tap), median(&t_pw));
        rows.push(Row {
            id: "B1",
            what: "pamtester authenticate: TAP ÷ yescrypt password, same user".into(),
            measured: format!("{:.2} ({b1_tap:.1} / {b1_pw:.1} ms)", b1_tap / b1_pw),
            goal: "≤ 1.10".into(),
            pass: Some(b1_tap / b1_pw <= 1.10),
        });
        progress("B1 done");
    }

    if c.runs("B2") {
        // The module's own work per authentication, with the KDF made negligible.
        let (b2m, p90) = b2(&c, "on", &c.work.join("db/tap.db"))?;
        rows.push(Row {
            id: "B2",
            what: "module overhead beside the KDF (config, NSS, open, lookup, consume, audit, close)".into(),
            measured: format!("{b2m:.2} ms (p90 {p90:.2})"),
            goal: "median ≤ 2 ms".into(),
            pass: Some(b2m <= 2.0),
        });
        let (t2m, t90) = b2(&c, "tmpfs", &c.work.join("tmpfs/db/tap.db"))?;
        rows.push(Row {
            id: "B2t",
            what: "the same with the store on tmpfs (no fsync): the module's CPU work".into(),
            measured: format!("{t2m:.2} ms (p90 {t90:.2})"),
            goal: "(info)".into(),
            pass: None,
        });
        notes.push(format!(
            "B2 vs B2t: the difference is the durable commit of the consume (SQLite WAL, synchronous=FULL: the WAL and its directory synced; a 4 KiB write+fsync on this disk: median {fsync:.1} ms)"
        ));
        progress("B2 done");
    }

    if c.runs("B3") {
        // 64 parallel logins of 64 distinct users holding passes (issued in bulk).
        let csv: String = par.iter().map(|u| format!("{u}\n")).collect();
        let csv_path = c.work.join("b3.csv");
        std::fs::write(&csv_path, &csv).map_err(|e| e.to_string())?;
        let bulk_issue = |conf: &str| -> R<Vec<(String, String)>> {
            let out = tapctl(
                &c,
                conf,
                &[
                    "issue",
                    "--csv",
                    csv_path.to_str().unwrap(),
                    "--keep-password",
                    "--reusable",
                    "--json",
                ],
            )?;
            let issued: Vec<serde_json::Value> = serde_json::from_str(&out).map_err(|e| e.to_string())?;
            Ok(issued
                .iter()
                .map(|v| {
                    (
                        v["user"].as_str().unwrap().to_string(),
                        v["pass"].as_str().unwrap().to_string(),
                    )
                })
                .collect())
        };
        let (passes, passes_t) = (bulk_issue("on")?, bulk_issue("tmpfs")?);
        // "One verify" is one login run alone: the same process, library loading and store work
        // as each of the 64, so the ratio shows what running them at once costs.
        let (mut ratios, mut ratios_t, mut ratios_k, mut walls, mut ideals) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut errors, mut errors_t, mut cpus, mut one_cpus, mut kdfs) = (0usize, 0usize, vec![], vec![], vec![]);
        for _ in 0..c.n(5).min(5) {
            let (_, v) = kdf_ms(&kdf, 5)?;
            let mut alone = vec![];
            for (u, p) in passes.iter().take(9) {
                let (w, cpu) = one_login(&c, "tapbench-taponly", u, p)?;
                alone.push(w);
                one_cpus.push(cpu);
            }
            let ideal = 64.0 * median(&alone) / c.cores as f64;
            let (wall, err, cpu) = parallel_logins(&c, "tapbench-taponly", &passes)?;
            let (wall_t, err_t, _) = parallel_logins(&c, "tapbench-taponly-tmpfs", &passes_t)?;
            errors += err;
            errors_t += err_t;
            walls.push(wall);
            ideals.push(ideal);
            cpus.push(cpu);
            kdfs.push(v);
            ratios.push(wall / ideal);
            ratios_t.push(wall_t / ideal);
            ratios_k.push(wall / (64.0 * v / c.cores as f64));
        }
        let r = median(&ratios);
        rows.push(Row {
            id: "B3",
            what: format!(
                "64 parallel logins, 64 users: wall ÷ (64 × one login alone ÷ {} cores)",
                c.cores
            ),
            measured: format!(
                "{r:.2} ({:.0} / {:.0} ms), {errors} errors",
                median(&walls),
                median(&ideals)
            ),
            goal: "≤ 1.30, 0 errors".into(),
            pass: Some(r <= 1.30 && errors == 0),
        });
        rows.push(Row {
            id: "B3t",
            what: "the same with the store on tmpfs (no fsync)".into(),
            measured: format!("{:.2}, {errors_t} errors", median(&ratios_t)),
            goal: "(info)".into(),
            pass: None,
        });
        rows.push(Row {
            id: "B3k",
            what: format!("B3's wall ÷ (64 × in-process argon2id verify ÷ {} cores)", c.cores),
            measured: format!("{:.2}", median(&ratios_k)),
            goal: "(info)".into(),
            pass: None,
        });
        notes.push(format!(
            "B3: a login process uses {:.1} ms of CPU alone and {:.1} ms among 64 (argon2id verify in a warm process: {:.1} ms); the rest is exec, libpam, loading the module, and first-touching the KDF's memory",
            median(&one_cpus),
            median(&cpus),
            median(&kdfs)
        ));
        progress("B3 done");
    }

    if c.runs("B4") {
        let b4 = b4(&c, &kdf)?;
        rows.push(Row {
            id: "B4",
            what: "one authentication, 100,000 records ÷ 10 records".into(),
            measured: format!("{:.3} ({:.1} / {:.1} ms)", b4.0 / b4.1, b4.0, b4.1),
            goal: "≤ 1.05".into(),
            pass: Some(b4.0 / b4.1 <= 1.05),
        });
        notes.push(format!(
            "B4 without the KDF (the module's own work only): {:.2} ms / {:.2} ms = {:.3}",
            b4.2,
            b4.3,
            b4.2 / b4.3
        ));
        progress("B4 done");
    }

    if c.runs("B5") {
        let csv: String = std::iter::once("user,reason\n".to_string())
            .chain(bulk.iter().map(|u| format!("{u},bench onboarding\n")))
            .collect();
        let csv_path = c.work.join("b5.csv");
        std::fs::write(&csv_path, &csv).map_err(|e| e.to_string())?;
        let csv_arg = csv_path.to_str().unwrap();
        let (mut ratios, mut walls, mut ideals, mut kdf_only) = (vec![], vec![], vec![], vec![]);
        let mut scaling = vec![];
        let mut last = String::new();
        for i in 0..c.n(3).min(3) {
            let (h, _) = kdf_ms(&kdf, 9)?;
            let ideal = 1000.0 * h / c.cores as f64;
            // What the cores really give argon2id when all hash at once (shared caches and memory
            // bandwidth): 1,000 hashes at that rate is the floor for any bulk issue.
            let per_s = kdf_throughput(&kdf, c.cores, 10)?;
            kdf_only.push(1000.0 / per_s * 1e3);
            scaling.push(per_s * h / 1e3);
            let mut a = vec!["issue", "--csv", csv_arg, "--keep-password", "--json"];
            if i > 0 {
                a.push("--replace");
            }
            let t = Instant::now();
            last = tapctl(&c, "on", &a)?;
            let wall = ms(t);
            walls.push(wall);
            ideals.push(ideal);
            ratios.push(wall / ideal);
        }
        let n5: Vec<serde_json::Value> = serde_json::from_str(&last).map_err(|e| e.to_string())?;
        if n5.len() != 1000 {
            return Err(format!("B5 issued {} passes, not 1000", n5.len()));
        }
        let (u, p) = (n5[999]["user"].as_str().unwrap(), n5[999]["pass"].as_str().unwrap());
        let r = run(
            Command::new(c.pam_drive()).args(["tapbench-taponly", u, "authenticate"]),
            &format!("{p}\n"),
        )?;
        if !r.stdout.contains("PAM_SUCCESS") {
            return Err(format!("a bulk-issued pass did not log {u} in: {}", r.stdout));
        }
        let b5r = median(&ratios);
        let floor = median(&kdf_only);
        rows.push(Row {
            id: "B5",
            what: format!(
                "tapctl issue --csv, 1,000 users (--keep-password) ÷ (1,000 × hash ÷ {} cores)",
                c.cores
            ),
            measured: format!(
                "{b5r:.2} ({:.1} / {:.1} s)",
                median(&walls) / 1e3,
                median(&ideals) / 1e3
            ),
            goal: "≤ 1.30".into(),
            pass: Some(b5r <= 1.30),
        });
        rows.push(Row {
            id: "B5k",
            what: format!(
                "the same ÷ 1,000 argon2id hashes on {} threads at once (pure KDF, no pam_tap)",
                c.cores
            ),
            measured: format!(
                "{:.2} ({:.1} / {:.1} s)",
                median(&walls) / floor,
                median(&walls) / 1e3,
                floor / 1e3
            ),
            goal: "(info)".into(),
            pass: None,
        });
        notes.push(format!(
            "argon2id on {} threads at once ran {:.2}× as fast as on one (ideal {}×) during this run: what the cores gave the KDF, with the machine's other work, bounds B3 and B5 (bench_kdf on a quiet machine: 1.7×)",
            c.cores,
            median(&scaling),
            c.cores
        ));
        progress("B5 done");
        if !c.quick {
            // The same with the default handoff: every account's password reset and a change forced.
            let (h, _) = kdf_ms(&kdf, 9)?;
            let ideal = 1000.0 * h / c.cores as f64;
            let t = Instant::now();
            let out = tapctl(&c, "on", &["issue", "--csv", csv_arg, "--replace", "--json"])?;
            let wall = ms(t);
            let v: Vec<serde_json::Value> = serde_json::from_str(&out).map_err(|e| e.to_string())?;
            let reset = v.iter().filter(|x| x["reset_password"] == true).count();
            let mut ch = vec![];
            for _ in 0..5 {
                let t = Instant::now();
                sh(Command::new("chage").args(["-d", "0", "--", "tapb-nopass"]), None)?;
                ch.push(ms(t));
                sh(Command::new("chage").args(["-d", "-1", "--", "tapb-nopass"]), None)?;
            }
            let chage = median(&ch);
            rows.push(Row {
                id: "B5r",
                what: "the same with the password reset (default): 1 chpasswd + 1,000 chage".into(),
                measured: format!(
                    "{:.2} ({:.1} / {:.1} s), {reset} reset",
                    wall / ideal,
                    wall / 1e3,
                    ideal / 1e3
                ),
                goal: "(info)".into(),
                pass: None,
            });
            notes.push(format!(
                "B5r is bounded by shadow-utils: each `chage -d 0` rewrites and fsyncs /etc/shadow ({chage:.0} ms here) and shadow has no batch form of it"
            ));
            progress("B5r done");
        }
    }

    let mut per_login_overhead = 0.0;
    if c.runs("B6") {
        // Peak RSS of one authenticating process, as /usr/bin/time reports it.
        let (mut rss, mut rss_pw) = (vec![], vec![]);
        for _ in 0..c.n(8) {
            rss.push(maxrss_kib("tapbench-tap", "tapb-one", &tap_one)?);
            rss_pw.push(maxrss_kib("tapbench-unix", "tapb-one", PASSWORD)?);
        }
        let peak = rss.iter().cloned().fold(0.0, f64::max);
        let peak_pw = rss_pw.iter().cloned().fold(0.0, f64::max);
        let budget = kdf.memory_kib as f64 + 10.0 * 1024.0;
        rows.push(Row {
            id: "B6",
            what: format!(
                "peak RSS of pamtester authenticating with a TAP (KDF {} MiB)",
                kdf.memory_kib / 1024
            ),
            measured: format!("{:.1} MiB", peak / 1024.0),
            goal: format!("≤ {:.1} MiB", budget / 1024.0),
            pass: Some(peak <= budget),
        });
        notes.push(format!(
            "B6 reference: pamtester with the yescrypt password and no pam_tap peaks at {:.1} MiB",
            peak_pw / 1024.0
        ));
        per_login_overhead = (peak - kdf.memory_kib as f64).max(0.0);
        progress("B6 done");
    }

    if c.runs("B7") {
        // A user with no pass, whole process, stack with pam_tap vs without.
        let (mut a, mut b, mut e) = (vec![], vec![], vec![]);
        for _ in 0..c.n(25) {
            a.push(pamtester("tapbench-unix", "tapb-nopass", PASSWORD)?.wall_ms);
            b.push(pamtester("tapbench-tapnoeq", "tapb-nopass", PASSWORD)?.wall_ms);
            e.push(pamtester("tapbench-tap", "tapb-nopass", PASSWORD)?.wall_ms);
        }
        let (a, b, e) = (median(&a), median(&b), median(&e));
        rows.push(Row {
            id: "B7",
            what: "no-pass user, pamtester: stack with pam_tap ÷ without (equalize_timing off)".into(),
            measured: format!("{:.3} ({b:.1} / {a:.1} ms)", b / a),
            goal: "≤ 1.10".into(),
            pass: Some(b / a <= 1.10),
        });
        rows.push(Row {
            id: "B7e",
            what: "the same with equalize_timing on (default): one decoy argon2id".into(),
            measured: format!("{:.3} ({e:.1} / {a:.1} ms)", e / a),
            goal: "documented".into(),
            pass: None,
        });
        progress("B7 done");
    }

    let sizing = if c.runs("sizing") {
        let s = sizing(&c, per_login_overhead)?;
        progress("sizing done");
        s
    } else {
        String::new()
    };
    let load1 = loadavg();

    // Report.
    let mut rep = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |k| k / 1024.0 / 1024.0);
    let kernel = sh(Command::new("uname").arg("-r"), None).unwrap_or_default();
    writeln!(
        rep,
        "pam_tap benchmarks ({}; {:.0} s)",
        chrono::DateTime::from_timestamp(now(), 0)
            .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
        started.elapsed().as_secs_f64()
    )
    .unwrap();
    writeln!(
        rep,
        "machine: {cpu}, nproc {}, {mem_gib:.1} GiB RAM, Linux {}",
        c.cores,
        kernel.trim()
    )
    .unwrap();
    writeln!(
        rep,
        "load average at start {load0}, at end {load1} (other work on the machine shows here)"
    )
    .unwrap();
    writeln!(
        rep,
        "argon2id default m={} KiB t={} p={}: one hash {hash_ms:.1} ms, one verify {verify_ms:.1} ms (medians, one thread)",
        kdf.memory_kib, kdf.iterations, kdf.parallelism
    )
    .unwrap();
    writeln!(rep).unwrap();
    let w = rows.iter().map(|r| r.what.chars().count()).max().unwrap_or(10);
    let wm = rows.iter().map(|r| r.measured.chars().count()).max().unwrap_or(10);
    let wg = rows.iter().map(|r| r.goal.chars().count()).max().unwrap_or(10);
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())));
    writeln!(
        rep,
        "| #   | {} | {} | {} | result |",
        pad("what", w),
        pad("measured", wm),
        pad("goal", wg)
    )
    .unwrap();
    writeln!(
        rep,
        "|-----|-{}-|-{}-|-{}-|--------|",
        "-".repeat(w),
        "-".repeat(wm),
        "-".repeat(wg)
    )
    .unwrap();
    for r in &rows {
        writeln!(
            rep,
            "| {} | {} | {} | {} | {} |",
            pad(r.id, 3),
            pad(&r.what, w),
            pad(&r.measured, wm),
            pad(&r.goal, wg),
            pad(verdict(r.pass), 6)
        )
        .unwrap();
    }
    writeln!(rep).unwrap();
    for n in &notes {
        writeln!(rep, "- {n}").unwrap();
    }
    writeln!(rep).unwrap();
    rep.push_str(&sizing);
    print!("{rep}");
    std::fs::write(&out_path, &rep).map_err(|e| format!("{}: {e}", out_path.display()))?;
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Median latency of a 4 KiB write + fsync in `dir`.
fn fsync_ms(dir: &Path) -> R<f64> {
    use std::os::unix::fs::FileExt;
    let p = dir.join("fsync.probe");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&p)
        .map_err(|e| e.to_string())?;
    let mut v = vec![];
    for i in 0..30u64 {
        f.write_at(&[0x5a; 4096], i * 4096).map_err(|e| e.to_string())?;
        let t = Instant::now();
        f.sync_all().map_err(|e| e.to_string())?;
        v.push(ms(t));
    }
    std::fs::remove_file(&p).ok();
    Ok(median(&v))
}

/// Medians of `n` argon2id hashes and verifies at `kdf`, one thread.
fn kdf_ms(kdf: &KdfParams, n: usize) -> R<(f64, f64)> {
    let code = "ABCDEFGHJK";
    let (mut hs, mut vs) = (vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        let phc = hash::hash(code, kdf).map_err(|e| e.to_string())?;
        hs.push(ms(t));
        let t = Instant::now();
        if !hash::verify(code, &phc).map_err(|e| e.to_string())? {
            return Err("verify failed".into());
        }
        vs.push(ms(t));
    }
    Ok((median(&hs), median(&vs)))
}

/// Hashes per second at `kdf` on `threads` threads hashing at once (each `k` hashes).
fn kdf_throughput(kdf: &KdfParams, threads: usize, k: usize) -> R<f64> {
    let t = Instant::now();
    let fails = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..k {
                    if hash::hash("ABCDEFGHJK", kdf).is_err() {
                        fails.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if fails.into_inner() > 0 {
        return Err("hash failed".into());
    }
    Ok((threads * k) as f64 / t.elapsed().as_secs_f64())
}

/// B2: median and p90 of one in-process authentication whose stored hash is the cheapest argon2id,
/// minus that KDF's own cost.
fn b2(c: &Ctx, conf: &str, db: &Path) -> R<(f64, f64)> {
    let user = if conf == "on" { "tapb-cheap" } else { "tapb-one" };
    let code = issue(c, conf, user, &["--keep-password", "--reusable"])?;
    let norm = pam_tap::passcode::normalize(code.as_bytes()).ok_or("code")?;
    let cheap = cheap_phc(&norm)?;
    set_hash(db, user, &cheap)?;
    let mut kv = vec![];
    for _ in 0..200 {
        let t = Instant::now();
        if !hash::verify(&norm, &cheap).map_err(|e| e.to_string())? {
            return Err("cheap verify failed".into());
        }
        kv.push(ms(t));
    }
    let cheap_kdf = median(&kv);
    let mut v = vec![];
    for _ in 0..c.n(300) {
        v.push(auth_once(c, conf, user, &code)? - cheap_kdf);
    }
    let mut sorted = v.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    Ok((median(&v), sorted[sorted.len() * 9 / 10]))
}

fn children_cpu_ms() -> f64 {
    // SAFETY: rusage is plain data filled by getrusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// B3: 64 pam_drive processes started together, each logging one user in. Wall ms, errors and
/// CPU ms per login.
fn parallel_logins(c: &Ctx, service: &str, passes: &[(String, String)]) -> R<(f64, usize, f64)> {
    let cpu0 = children_cpu_ms();
    let t = Instant::now();
    let mut kids = vec![];
    for (u, _) in passes {
        kids.push(
            Command::new(c.pam_drive())
                .args([service, u, "authenticate"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())?,
        );
    }
    for (k, (_, p)) in kids.iter_mut().zip(passes) {
        k.stdin.take().unwrap().write_all(format!("{p}\n").as_bytes()).ok();
    }
    let outs: Vec<_> = kids.into_iter().map(|k| k.wait_with_output()).collect();
    let wall = ms(t);
    let cpu = (children_cpu_ms() - cpu0) / passes.len() as f64;
    let mut errors = 0;
    for o in outs {
        let o = o.map_err(|e| e.to_string())?;
        if !String::from_utf8_lossy(&o.stdout).contains("result authenticate=PAM_SUCCESS") {
            errors += 1;
        }
    }
    Ok((wall, errors, cpu))
}

/// One login alone: a pam_drive process authenticating one user. Wall ms and CPU ms.
fn one_login(c: &Ctx, service: &str, user: &str, pass: &str) -> R<(f64, f64)> {
    let cpu0 = children_cpu_ms();
    let r = run(
        Command::new(c.pam_drive()).args([service, user, "authenticate"]),
        &format!("{pass}\n"),
    )?;
    if !r.stdout.contains("result authenticate=PAM_SUCCESS") {
        return Err(format!("{user} did not log in alone: {}", r.stdout));
    }
    Ok((r.wall_ms, children_cpu_ms() - cpu0))
}

/// Peak RSS (KiB) of one pamtester run, as `/usr/bin/time` reports it.
fn maxrss_kib(service: &str, user: &str, answer: &str) -> R<f64> {
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "maxrss=%M", "pamtester", service, user, "authenticate"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("/usr/bin/time: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{answer}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("pamtester {service} {user}: {err}"));
    }
    // pamtester's prompt shares stderr, with no newline after it.
    err.rsplit("maxrss=")
        .next()
        .filter(|_| err.contains("maxrss="))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no maxrss in {err:?}"))
}

/// B4: returns (auth ms at 100k, at 10, overhead-only ms at 100k, at 10).
fn b4(c: &Ctx, kdf: &KdfParams) -> R<(f64, f64, f64, f64)> {
    let code = "B4B4B4B4B4";
    let real = hash::hash(code, kdf).map_err(|e| e.to_string())?;
    let cheap = cheap_phc(code)?;
    let filler = hash::hash("ZZZZZZZZZZ", kdf).map_err(|e| e.to_string())?;
    let now = now();
    for (dbdir, total) in [("db10", 10usize), ("db100k", 100_000)] {
        let path = c.work.join(dbdir).join("tap.db");
        let mut conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO passes(user, uid, hash, derive_key, created_at, starts_at, expires_at, one_time,
                        reset_password, issued_by, reason, used_at, use_count)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, 0, 'root', NULL, ?8, ?9)",
                )
                .map_err(|e| e.to_string())?;
            let mut aud = tx
                .prepare("INSERT INTO audit(at, event, user, pass_id, operator, service) VALUES(?1, 'issued', ?2, ?3, 'root', 'tapctl')")
                .map_err(|e| e.to_string())?;
            for i in 0..total - 2 {
                if i == (total - 2) / 2 {
                    for (u, h) in [("tapb-b4", &real), ("tapb-b4cheap", &cheap)] {
                        ins.execute(rusqlite::params![
                            u,
                            UID_BASE + 3,
                            h,
                            vec![7u8; 32],
                            now - 60,
                            now + 3600,
                            false,
                            None::<i64>,
                            0
                        ])
                        .map_err(|e| e.to_string())?;
                        aud.execute(rusqlite::params![now - 60, u, tx.last_insert_rowid()])
                            .map_err(|e| e.to_string())?;
                    }
                }
                // A realistic mix: a third used one-time passes, the rest expired reusable ones.
                let user = format!("fill{:05}", i % 40_000);
                let created = now - 86_400 * 30 + i as i64;
                let used = (i % 3 == 0).then_some(created + 60);
                ins.execute(rusqlite::params![
                    user,
                    70_000 + (i % 40_000) as u32,
                    filler,
                    vec![9u8; 32],
                    created,
                    created + 3600,
                    i % 3 == 0,
                    used,
                    used.is_some() as i32
                ])
                .map_err(|e| e.to_string())?;
                aud.execute(rusqlite::params![created, user, tx.last_insert_rowid()])
                    .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())?;
        let n: i64 = conn
            .query_row("SELECT count(*) FROM passes", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if n as usize != total {
            return Err(format!("{dbdir} holds {n} passes, not {total}"));
        }
        let mode = std::fs::metadata(&path)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & 0o777 != 0o600 {
            return Err(format!("{} has mode {:o}", path.display(), mode & 0o777));
        }
    }
    let (mut big, mut small) = (vec![], vec![]);
    for _ in 0..c.n(25) {
        big.push(auth_once(c, "b4-100k", "tapb-b4", code)?);
        small.push(auth_once(c, "b4-10", "tapb-b4", code)?);
    }
    let (mut big_c, mut small_c) = (vec![], vec![]);
    for _ in 0..c.n(300) {
        big_c.push(auth_once(c, "b4-100k", "tapb-b4cheap", code)?);
        small_c.push(auth_once(c, "b4-10", "tapb-b4cheap", code)?);
    }
    Ok((median(&big), median(&small), median(&big_c), median(&small_c)))
}

/// The argon2id sizing table: time per hash at candidate costs, and memory for N parallel logins.
fn sizing(c: &Ctx, per_login_overhead_kib: f64) -> R<String> {
    let mut s = String::new();
    writeln!(
        s,
        "argon2id cost vs time and memory (this machine; a login holds m plus ~{:.1} MiB of process):",
        per_login_overhead_kib / 1024.0
    )
    .unwrap();
    writeln!(s).unwrap();
    let par = [1usize, 8, 32, 64, 100, 256];
    let mut head = "| m (MiB) | t | hash ms | logins/s/core |".to_string();
    for p in par {
        write!(head, " {p} parallel |").unwrap();
    }
    writeln!(s, "{head}").unwrap();
    writeln!(s, "|{}", "---|".repeat(4 + par.len())).unwrap();
    for (m, t) in [
        (19_456u32, 2u32),
        (12_288, 3),
        (47_104, 1),
        (19_456, 3),
        (32_768, 2),
        (47_104, 2),
        (65_536, 2),
        (65_536, 3),
    ] {
        let p = KdfParams {
            memory_kib: m,
            iterations: t,
            parallelism: 1,
        };
        let mut v = vec![];
        for _ in 0..c.n(7) {
            let t0 = Instant::now();
            hash::hash("ABCDEFGHJK", &p).map_err(|e| e.to_string())?;
            v.push(ms(t0));
        }
        let h = median(&v);
        let mut line = format!(
            "| {:>5.0}{} | {t} | {h:>6.1} | {:>5.0} |",
            m as f64 / 1024.0,
            if (m, t) == (c.policy.kdf.memory_kib, c.policy.kdf.iterations) {
                " (default)"
            } else {
                ""
            },
            1000.0 / h
        );
        for n in par {
            let mem = n as f64 * (m as f64 + per_login_overhead_kib) * 1024.0 / MIB / 1024.0;
            let wall = n as f64 * h / c.cores.min(n) as f64 / 1000.0;
            write!(line, " {mem:.2} GiB, {wall:.2} s |").unwrap();
        }
        writeln!(s, "{line}").unwrap();
    }
    writeln!(s).unwrap();
    writeln!(
        s,
        "N parallel: memory N × (m + process) and the time for {} cores to verify N logins (N × hash ÷ cores).",
        c.cores
    )
    .unwrap();
    Ok(s)
}
