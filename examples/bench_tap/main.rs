//! pam_tap's benchmark suite: B1–B7, F1–F4 (the fleet store) and K1, K2 (key-only servers) of the
//! performance goals and the argon2id sizing table, each a ratio measured in this one run on this one machine (medians of many runs; runs of the things
//! compared are interleaved so that drift on a shared machine hits both sides alike).
//!
//! Run by `scripts/bench.sh` (`make bench`) as root inside a bwrap sandbox whose /etc is a private
//! copy: the suite adds its accounts and PAM services to that copy, never to the host's.
//!
//! ```text
//! bench_tap --bin DIR --work DIR --out FILE [--quick] [--only B1,F2,K1,sizing,...]
//! ```
//! DIR holds the release `libpam_tap.so`, `tapctl`, `pam_tap_keys` and `examples/pam_drive`; WORK
//! is an empty root-owned 0700 directory.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use pam_tap_base::hash::{self, KdfParams};
use pam_tap_base::log::Syslog;
use pam_tap_base::users::System;
use pam_tap_core::config::Policy;
use pam_tap_core::login::{self, Accepted, Env, Handle, HandleError, Secret};
use pam_tap_core::outcome::Outcome;
use zeroize::Zeroizing;

mod inproc;
mod keys_sshd;
mod logins;
mod report;
mod sections_fleet;
mod sections_keys;
mod sections_logins;
mod sections_scale;
mod sections_storm;
mod support;
mod util;

use inproc::*;
use logins::*;
use report::*;
use util::*;

const PASSWORD: &str = "Bench-pw-2718!";
/// B7w: a wrong password of the same shape.
const WRONG_PASSWORD: &str = "Bench-pw-2719?";
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

/// What setup leaves for the sections: the accounts' passes and names, the KDF, the disk's fsync.
pub struct Shared {
    pub tap_one: String,
    pub par: Vec<String>,
    pub bulk: Vec<String>,
    pub kdf: KdfParams,
    pub fsync: f64,
}

/// The rows and notes the sections add to the report, and the clock of the progress lines.
pub struct Out {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    pub started: Instant,
}

impl Out {
    pub fn progress(&self, s: &str) {
        eprintln!("[{:>6.1}s] {s}", self.started.elapsed().as_secs_f64());
    }
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
    let mut out = Out {
        rows: Vec::new(),
        notes: Vec::new(),
        started,
    };

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
    out.notes.push(format!(
        "pam_unix passwords set by chpasswd (Debian default yescrypt): {}",
        &y[..y.match_indices('$').nth(2).map_or(y.len(), |(i, _)| i + 1)]
    ));
    let tap_one = issue(&c, "on", "tapb-one", &["--keep-password", "--reusable"])?;
    let fsync = fsync_ms(&c.work)?;
    out.progress("setup done");

    let (hash_ms, verify_ms) = kdf_ms(&kdf, c.n(15))?;
    out.progress(&format!("one hash {hash_ms:.1} ms, one verify {verify_ms:.1} ms"));
    let s = Shared {
        tap_one,
        par,
        bulk,
        kdf,
        fsync,
    };
    let out = &mut out;
    if c.runs("B1") {
        sections_logins::section_b1(&c, &s, out)?;
    }
    if c.runs("B2") {
        sections_logins::section_b2(&c, &s, out)?;
    }
    if c.runs("B3") {
        sections_logins::section_b3(&c, &s, out)?;
    }
    if c.runs("B4") {
        sections_logins::section_b4(&c, &s, out)?;
    }
    if c.runs("B5") {
        sections_scale::section_b5(&c, &s, out)?;
    }
    let mut per_login_overhead = 0.0;
    if c.runs("B6") {
        per_login_overhead = sections_scale::section_b6(&c, &s, out)?;
    }
    if c.runs("B7") {
        sections_scale::section_b7(&c, &s, out)?;
    }
    if ["F1", "F2", "F3"].iter().any(|f| c.runs(f)) {
        sections_fleet::sections(&c, &s, out)?;
    }
    if c.runs("F4") {
        sections_storm::section_f4(&c, &s, out)?;
    }
    if ["K1", "K1f", "K2"].iter().any(|k| c.runs(k)) {
        sections_keys::sections(&c, &s, out)?;
    }
    let sizing = if c.runs("sizing") {
        let s = sizing(&c, per_login_overhead)?;
        out.progress("sizing done");
        s
    } else {
        String::new()
    };
    let measured = Measured {
        load0,
        load1: loadavg(),
        hash_ms,
        verify_ms,
        sizing: &sizing,
    };
    let rep = render(&c, out, &measured);
    print!("{rep}");
    std::fs::write(&out_path, &rep).map_err(|e| format!("{}: {e}", out_path.display()))?;
    Ok(())
}
