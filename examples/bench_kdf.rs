//! argon2id throughput at pam_tap's parameters on N threads at once, for sizing:
//! `bench_kdf [THREADS] [MEMORY_KIB] [ITERATIONS] [HASHES_PER_THREAD]` prints hashes per second.

use std::time::Instant;

use pam_tap_base::hash::{self, KdfParams};

fn main() {
    let a: Vec<u32> = std::env::args().skip(1).map(|s| s.parse().expect("a number")).collect();
    let threads = *a.first().unwrap_or(&1) as usize;
    let kdf = KdfParams {
        memory_kib: *a.get(1).unwrap_or(&19_456),
        iterations: *a.get(2).unwrap_or(&2),
        parallelism: 1,
    };
    let k = *a.get(3).unwrap_or(&20) as usize;
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..k {
                    hash::hash("ABCDEFGHJK", &kdf).expect("hash");
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "threads={threads} m={} t={} hashes={} {:.1} hashes/s ({:.1} ms each per thread)",
        kdf.memory_kib,
        kdf.iterations,
        threads * k,
        (threads * k) as f64 / secs,
        secs * 1e3 / k as f64
    );
}
