//! tapctl's shadow changes run to their commit: SIGINT, SIGTERM, SIGHUP and SIGPIPE are held off
//! while one is under way. The module never touches its host's signal mask, so this lives here.

use pam_tap_base::error::Result;
use pam_tap_base::users::Directory;
use pam_tap_core::config::Policy;
use pam_tap_core::reset::{self, Settled};
use pam_tap_store::{Context, PassStore};

/// Blocks SIGINT, SIGTERM, SIGHUP and SIGPIPE while alive, so tapctl finishes a shadow change and
/// the commit that records it; a signal that arrives meanwhile is delivered when the guard drops.
/// For tapctl only: a PAM module must not touch its host's signal mask.
pub struct Shield {
    old: libc::sigset_t,
}

impl Shield {
    pub fn hold() -> Self {
        // SAFETY: plain sigset manipulation on stack values; pthread_sigmask only reads `set`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            Shield { old }
        }
    }
}

impl Drop for Shield {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `hold`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// tapctl's form of [`reset::settle_user`]: with SIGINT, SIGTERM and SIGHUP held off.
pub fn settle_user(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    user: &str,
    now: i64,
    ctx: &Context,
) -> Result<Settled> {
    let _shield = Shield::hold();
    reset::settle_user(store, dir, policy, user, now, ctx)
}

/// tapctl's form of [`reset::settle_all`] (`tapctl purge`).
pub fn settle_all(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    now: i64,
    ctx: &Context,
) -> Result<usize> {
    let _shield = Shield::hold();
    reset::settle_all(store, dir, policy, now, ctx)
}
