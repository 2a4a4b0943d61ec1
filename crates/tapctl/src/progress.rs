//! The progress line of a bulk issue: hashing 1,000 passes takes about 20 s, so an operator at a
//! terminal sees the rows hashed so far and an estimate of the time left, on stderr, rewritten in
//! place a few times a second. Nothing is written when stderr is not a terminal (a script, the
//! console), and stdout, which carries the passes, never sees it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the line is rewritten at most.
const EVERY: Duration = Duration::from_millis(250);

pub struct Progress {
    total: usize,
    started: Instant,
    /// `None` when stderr is not a terminal.
    state: Option<Mutex<State>>,
}

struct State {
    done: usize,
    shown: Option<Instant>,
}

impl Progress {
    /// A progress line for `total` rows, shown only when stderr is a terminal.
    pub fn on_terminal(total: usize) -> Self {
        let on = total > 0 && std::io::stderr().is_terminal();
        Progress {
            total,
            started: Instant::now(),
            state: on.then(|| Mutex::new(State { done: 0, shown: None })),
        }
    }

    /// One more row hashed (called from the hashing threads).
    pub fn step(&self) {
        let Some(state) = &self.state else { return };
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.done += 1;
        if s.shown.is_none_or(|t| t.elapsed() >= EVERY) {
            s.shown = Some(Instant::now());
            show(&line(s.done, self.total, self.started.elapsed()));
        }
    }

    /// Ends the line (hashing finished or stopped at an error).
    pub fn finish(&self) {
        let Some(state) = &self.state else { return };
        let s = state.lock().unwrap_or_else(|p| p.into_inner());
        if s.shown.is_some() {
            let secs = self.started.elapsed().as_secs_f64();
            show(&format!(
                "tapctl: hashed {}/{} passes in {secs:.0} s",
                s.done, self.total
            ));
            eprintln!();
        }
    }
}

/// Rewrites the terminal line: back to its start, the text, the rest of the line cleared.
fn show(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r{text}\x1b[K");
    let _ = err.flush();
}

/// "tapctl: hashed 120/1000 passes, about 18 s left": the time left from the rate so far.
fn line(done: usize, total: usize, elapsed: Duration) -> String {
    let left = elapsed.as_secs_f64() / done.max(1) as f64 * total.saturating_sub(done) as f64;
    format!("tapctl: hashed {done}/{total} passes, about {left:.0} s left")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_rate_so_far_times_the_rows_left() {
        assert_eq!(
            line(100, 1000, Duration::from_secs(2)),
            "tapctl: hashed 100/1000 passes, about 18 s left"
        );
        assert_eq!(
            line(1000, 1000, Duration::from_secs(20)),
            "tapctl: hashed 1000/1000 passes, about 0 s left"
        );
    }
}
