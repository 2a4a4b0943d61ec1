//! Processes, files and accounts for the bench: timed runs, private files, tapctl.

use super::*;

/// The bench is a front end: it reads the clock for the module's core, as the PAM shell does.
#[allow(clippy::disallowed_methods)]
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn median(v: &[f64]) -> f64 {
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

pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// A finished child: stdout, exit status and wall time.
pub struct Ran {
    pub stdout: String,
    pub ok: bool,
    pub wall_ms: f64,
}

/// Runs `cmd` with `stdin`, measuring wall time.
pub fn run(cmd: &mut Command, stdin: &str) -> R<Ran> {
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

pub fn sh(cmd: &mut Command, stdin: Option<&str>) -> R<String> {
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

pub fn write_private(path: &Path, text: &str) -> R<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

pub fn mkdir_private(path: &Path) -> R<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn append(path: &str, text: &str) -> R<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{path}: {e}"))
}

/// Adds accounts to the sandbox's private /etc (passwd, shadow, group), locked, no home.
pub fn add_users(names: &[String], first_uid: u32) -> R<()> {
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

pub fn shadow_hash(user: &str) -> R<String> {
    let text = std::fs::read_to_string("/etc/shadow").map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{user}:")))
        .and_then(|rest| rest.split(':').next())
        .map(str::to_string)
        .ok_or_else(|| format!("{user} not in /etc/shadow"))
}

pub fn tapctl(c: &Ctx, conf: &str, args: &[&str]) -> R<String> {
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
pub fn issue(c: &Ctx, conf: &str, user: &str, extra: &[&str]) -> R<String> {
    let mut args = vec!["issue", user, "--json"];
    args.extend_from_slice(extra);
    let out = tapctl(c, conf, &args)?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    v["pass"].as_str().map(str::to_string).ok_or("no pass in output".into())
}

/// Issues passes to the users of the CSV at `csv` in one `tapctl issue --csv`; (user, pass) pairs.
pub fn bulk_issue(c: &Ctx, conf: &str, csv: &Path, extra: &[&str]) -> R<Vec<(String, String)>> {
    let mut args = vec![
        "issue",
        "--csv",
        csv.to_str().ok_or("a CSV path that is not UTF-8")?,
        "--json",
    ];
    args.extend_from_slice(extra);
    let issued: Vec<serde_json::Value> = serde_json::from_str(&tapctl(c, conf, &args)?).map_err(|e| e.to_string())?;
    issued
        .iter()
        .map(|v| match (v["user"].as_str(), v["pass"].as_str()) {
            (Some(u), Some(p)) => Ok((u.to_string(), p.to_string())),
            _ => Err(format!("tapctl issue --csv: no user or pass in {v}")),
        })
        .collect()
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Median latency of a 4 KiB write + fsync in `dir`.
pub fn fsync_ms(dir: &Path) -> R<f64> {
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

pub fn children_cpu_ms() -> f64 {
    // SAFETY: rusage is plain data filled by getrusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Minor page faults of all waited-for children so far (B3: argon2id's first touch of its memory).
pub fn children_minor_faults() -> f64 {
    // SAFETY: rusage is plain data filled by getrusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_minflt as f64
}
