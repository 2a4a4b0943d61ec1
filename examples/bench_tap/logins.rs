//! The bench's PAM services and logins as separate processes (pamtester, pam_drive).

use super::*;

/// The bench's own PAM services, where a pass must count, and a max_uid above its accounts' ids
/// (UID_BASE and up to the bulk accounts at UID_BASE + 1000 + 999, clear of the machine's own
/// users). Whole tables follow it.
pub const BENCH_POLICY: &str = "services = [\"tapbench\", \"tapbench-tap\", \"tapbench-tapnoeq\", \
                              \"tapbench-taponly\", \"tapbench-taponly-tmpfs\", \"tapbench-tap-nodelay\", \
                              \"tapbench-fleet\", \"tapbench-fleet-sock\", \"tapbench-fleet-stall\", \
                              \"tapbench-fleetonly-a\", \"tapbench-fleetonly-b\", \"tapbench-fleetonly-c\", \
                              \"tapbench-fleetbare-a\", \"tapbench-fleetbare-stall\", \"tapbench-fleetburst-a\", \
                              \"tapbench-fleetburst-b\", \"tapbench-fleetburst-c\"]\n\
                              [users]\nmax_uid = 64000\n";

/// pam_unix after pam_tap in the bench's full stacks, and alone in the reference ones.
pub const UNIX_STACK: &str = "auth     [success=ignore default=die] pam_unix.so try_first_pass\n\
                              auth     required   pam_permit.so\naccount  required   pam_unix.so\n";

pub fn pamtester(service: &str, user: &str, answer: &str) -> R<Ran> {
    let r = run(
        Command::new("pamtester").args([service, user, "authenticate"]),
        &format!("{answer}\n"),
    )?;
    if !r.ok {
        return Err(format!("pamtester {service} {user} failed: {}", r.stdout.trim()));
    }
    Ok(r)
}

/// `pamtester SERVICE USER authenticate` that must fail (a wrong password).
pub fn pamtester_refused(service: &str, user: &str, answer: &str) -> R<Ran> {
    let r = run(
        Command::new("pamtester").args([service, user, "authenticate"]),
        &format!("{answer}\n"),
    )?;
    if r.ok {
        return Err(format!("pamtester {service} {user} accepted a wrong password"));
    }
    Ok(r)
}

pub fn setup(c: &Ctx) -> R<()> {
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
                "enabled = true\ndatabase = \"{}\"\n{BENCH_POLICY}{extra}",
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
    let unix = UNIX_STACK;
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
        // B7w: a wrong password, with pam_unix's 2 s (±25 %) fail delay off in both stacks so the
        // random delay does not drown what pam_tap adds.
        (
            "tapbench-tap-nodelay",
            format!(
                "auth     [success=1 default=ignore] {lib} config={on} log_socket={log}\n{}",
                unix.replace("try_first_pass", "try_first_pass nodelay")
            ),
        ),
        (
            "tapbench-unix-nodelay",
            unix.replace("try_first_pass", "try_first_pass nodelay"),
        ),
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

/// B3: 64 pam_drive processes started together, each logging one user in. Wall ms, errors and
/// CPU ms per login.
pub fn parallel_logins(c: &Ctx, service: &str, passes: &[(String, String)]) -> R<(f64, usize, f64)> {
    let logins: Vec<(&str, &str, &str)> = passes.iter().map(|(u, p)| (service, u.as_str(), p.as_str())).collect();
    let (wall, failed, cpu) = parallel_logins_on(c, &logins)?;
    if let Some(first) = failed.first() {
        // What the first failed login said, so that an error count can be looked into.
        eprintln!("{service}: a parallel login failed {first}");
    }
    Ok((wall, failed.len(), cpu))
}

/// Logins (service, user, pass) as pam_drive processes started together. Wall ms, what each
/// failed login printed, and CPU ms per login.
pub fn parallel_logins_on(c: &Ctx, logins: &[(&str, &str, &str)]) -> R<(f64, Vec<String>, f64)> {
    let cpu0 = children_cpu_ms();
    let t = Instant::now();
    let mut kids = vec![];
    for (service, u, _) in logins {
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
    for (k, (_, _, p)) in kids.iter_mut().zip(logins) {
        k.stdin.take().unwrap().write_all(format!("{p}\n").as_bytes()).ok();
    }
    let outs: Vec<_> = kids.into_iter().map(|k| k.wait_with_output()).collect();
    let wall = ms(t);
    let cpu = (children_cpu_ms() - cpu0) / logins.len() as f64;
    let mut failed = vec![];
    for o in outs {
        let o = o.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&o.stdout);
        if !text.contains("result authenticate=PAM_SUCCESS") {
            failed.push(format!("({}) {}", o.status, text.trim()));
        }
    }
    Ok((wall, failed, cpu))
}

/// One login alone: a pam_drive process authenticating one user. Wall ms and CPU ms.
pub fn one_login(c: &Ctx, service: &str, user: &str, pass: &str) -> R<(f64, f64)> {
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
pub fn maxrss_kib(service: &str, user: &str, answer: &str) -> R<f64> {
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
