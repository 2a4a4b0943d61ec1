//! The figures the suites measure (target/security-figures.txt, one line per figure, and the
//! secrets scan's tallies in target/security-logscan.tsv), and `serial()` for the tests that time
//! things, saturate the CPUs or mount.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::paths::target_dir;

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests that hold it run one at a time: they time things, saturate the CPUs, or mount.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn locked_rewrite(file: &Path, key: &str, entry: &str) {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file.with_extension("lock"))
        .unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let old = std::fs::read_to_string(file).unwrap_or_default();
    let mut kept: Vec<&str> = old
        .lines()
        .filter(|l| !l.starts_with(&format!("{key} ")) && !l.starts_with(&format!("{key}\t")))
        .collect();
    kept.push(entry);
    kept.sort();
    std::fs::write(file, kept.join("\n") + "\n").unwrap();
}

/// Prints `FIGURE name: text` and keeps it in target/security-figures.txt (one line per figure).
pub fn figure(name: &str, text: &str) {
    println!("FIGURE {name}: {text}");
    figure_quiet(name, text);
}

/// Keeps the figure in the file only (a running total that every test updates).
pub fn figure_quiet(name: &str, text: &str) {
    let entry = format!("FIGURE {name}: {text}");
    locked_rewrite(
        &target_dir().join("security-figures.txt"),
        &format!("FIGURE {name}:"),
        &entry,
    );
}

/// Keeps one secrets scan's tally under `test`, and the running total as the `logs` figure.
pub fn record_logscan(test: &str, lines: usize, rows: usize, passes: usize, leaks: usize) {
    let file = target_dir().join("security-logscan.tsv");
    locked_rewrite(&file, test, &format!("{test}\t{lines}\t{rows}\t{passes}\t{leaks}"));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let (mut tl, mut tr, mut tp, mut tk, mut n) = (0, 0, 0, 0, 0);
    for l in text.lines() {
        let f: Vec<usize> = l.split('\t').skip(1).filter_map(|x| x.parse().ok()).collect();
        if f.len() == 4 {
            tl += f[0];
            tr += f[1];
            tp += f[2];
            tk += f[3];
            n += 1;
        }
    }
    println!("logscan {test}: syslog_lines={lines} audit_rows={rows} passes={passes} pass_fragments_found={leaks}");
    figure_quiet(
        "logs",
        &format!("fixtures={n} syslog_lines={tl} audit_rows={tr} passes={tp} pass_fragments_found={tk}"),
    );
}

/// Lines of the captured log at ALERT (`<81>`: authpriv.alert).
pub fn alerts(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.starts_with("<81>")).collect()
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
