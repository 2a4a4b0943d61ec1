//! Which process holds a pending change: "pid:start time", so a reused pid never passes for the
//! process that marked a change and died.

/// The start time of process `pid` (clock ticks since boot, field 22 of /proc/PID/stat).
fn start_time(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// This process, as a pending mark names it: "pid:start time" (a reused pid does not match).
pub fn owner() -> String {
    let pid = std::process::id().to_string();
    let start = start_time(&pid).unwrap_or_default();
    format!("{pid}:{start}")
}

/// Whether the process named by a pending mark still runs.
pub fn owner_alive(owner: &str) -> bool {
    match owner.split_once(':') {
        Some((pid, start)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
            start_time(pid).is_some_and(|s| s == start)
        }
        _ => false,
    }
}
