//! Names and ports unique to this process: throwaway accounts, cluster directories, listeners.
//! Needs nothing else of the kit, so the bench (examples/bench_tap) can use it with pg_cluster.

use std::sync::atomic::{AtomicU32, Ordering};

/// `prefix` plus this process, a few clock bits and a counter: unique among concurrent test
/// binaries and runs. The clock here only salts a name; nothing is judged by it.
#[allow(clippy::disallowed_methods)]
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{:04x}{:x}x{n}", std::process::id() & 0xffff, t & 0xfff)
}

/// A loopback TCP port nobody listens on just now (for a private sshd or cockpit-ws).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
