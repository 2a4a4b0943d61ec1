//! Timing equalisation: with `equalize_timing`, every pass-shaped answer that does not log in takes
//! one argon2id run plus a fixed budget from the moment it arrives, whether the user exists, holds a
//! pass or not: the database work (open, look-up, failure count) hides inside the budget. Answers
//! that cannot concern pam_tap never get here (`answer_shape.rs`).

use std::time::{Duration, Instant};

use crate::config::Policy;
use pam_tap_base::hash;

pub const PACE_BUDGET: Duration = Duration::from_millis(15);

pub(super) struct Pace {
    answered: Instant,
    kdf: Duration,
    on: bool,
}

impl Pace {
    /// Starts the window when the answer arrives.
    pub(super) fn start(on: bool) -> Self {
        Pace {
            answered: Instant::now(),
            kdf: Duration::ZERO,
            on,
        }
    }

    /// Runs one key derivation, counting its time into the window.
    pub(super) fn kdf<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.kdf += t.elapsed();
        r
    }

    /// The argon2id run a real pass would have cost, for an answer that meets none.
    pub(super) fn decoy(&mut self, answer: &[u8], policy: &Policy) {
        if policy.equalize_timing {
            self.kdf(|| hash::decoy(answer, &policy.kdf));
        }
    }

    pub(super) fn wait(&self) {
        if self.on {
            let until = self.answered + self.kdf + PACE_BUDGET;
            if let Some(left) = until.checked_duration_since(Instant::now()) {
                std::thread::sleep(left);
            }
        }
    }
}
