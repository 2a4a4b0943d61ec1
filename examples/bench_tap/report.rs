//! The results table, its notes and the argon2id sizing table.

use super::*;

/// One row of the results table.
pub struct Row {
    pub id: &'static str,
    pub what: String,
    pub measured: String,
    pub goal: String,
    pub pass: Option<bool>,
}

pub fn verdict(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "pass",
        Some(false) => "MISS",
        None => "info",
    }
}

/// The argon2id sizing table: time per hash at candidate costs, and memory for N parallel logins.
pub fn sizing(c: &Ctx, per_login_overhead_kib: f64) -> R<String> {
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

/// What the machine was doing, its argon2id figures, the table, the notes and the sizing table.
pub struct Measured<'a> {
    pub load0: String,
    pub load1: String,
    pub hash_ms: f64,
    pub verify_ms: f64,
    pub sizing: &'a str,
}

/// The report as `make bench` prints it and writes it to target/bench.txt.
pub fn render(c: &Ctx, out: &Out, m: &Measured) -> String {
    let Measured {
        load0,
        load1,
        hash_ms,
        verify_ms,
        sizing,
    } = m;
    let kdf = c.policy.kdf;
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
        out.started.elapsed().as_secs_f64()
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
    let wi = out.rows.iter().map(|r| r.id.chars().count()).max().unwrap_or(3).max(3);
    let w = out.rows.iter().map(|r| r.what.chars().count()).max().unwrap_or(10);
    let wm = out.rows.iter().map(|r| r.measured.chars().count()).max().unwrap_or(10);
    let wg = out.rows.iter().map(|r| r.goal.chars().count()).max().unwrap_or(10);
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())));
    writeln!(
        rep,
        "| {} | {} | {} | {} | result |",
        pad("#", wi),
        pad("what", w),
        pad("measured", wm),
        pad("goal", wg)
    )
    .unwrap();
    writeln!(
        rep,
        "|-{}-|-{}-|-{}-|-{}-|--------|",
        "-".repeat(wi),
        "-".repeat(w),
        "-".repeat(wm),
        "-".repeat(wg)
    )
    .unwrap();
    for r in &out.rows {
        writeln!(
            rep,
            "| {} | {} | {} | {} | {} |",
            pad(r.id, wi),
            pad(&r.what, w),
            pad(&r.measured, wm),
            pad(&r.goal, wg),
            pad(verdict(r.pass), 6)
        )
        .unwrap();
    }
    writeln!(rep).unwrap();
    for n in &out.notes {
        writeln!(rep, "- {n}").unwrap();
    }
    writeln!(rep).unwrap();
    rep.push_str(sizing);
    rep
}
