//! The fleet's reset: put into the shadow entry of the host that accepts the pass, at that moment
//! (the local store puts it in place at issue, where tapctl runs). The same secret as a local reset
//! pass (derived from the pass and its key), the same forced change (last change 0), the same
//! pending mark before the shadow entry is touched, kept in the host's own store.

use zeroize::Zeroizing;

use super::{settle_user, write_shadow};
use crate::config::Policy;
use pam_tap_base::error::Result;
use pam_tap_base::hash;
use pam_tap_base::users::Directory;
use pam_tap_store::{HostReset, PassRecord, PassStore, Redeemed, Touch};

/// Marks reset pass `rec` used, with its reset put in place on this host first when the account
/// has a shadow entry here and the reset is not in place yet. An account without one (a directory
/// account) keeps its password, as at a local issue. A failure undoes what this call began.
pub fn redeem_at_accept(
    store: &mut dyn PassStore,
    dir: &dyn Directory,
    policy: &Policy,
    rec: &PassRecord,
    code: &Zeroizing<String>,
    at: &Touch<'_>,
) -> Result<Redeemed> {
    let Some(sp) = dir.shadow(&rec.user)? else {
        // Nothing to reset: a plain use (the row comes back without a reset in place).
        return store.redeem(at, policy.enabled);
    };
    if rec.shadow_set.as_deref() == Some(sp.hash.as_str()) {
        // This host's reset of this pass is in place already (a reusable pass again).
        return Ok(match store.redeem(at, policy.enabled)? {
            Redeemed::Ok(used) => Redeemed::Ok(Box::new(PassRecord {
                shadow_set: rec.shadow_set.clone(),
                ..*used
            })),
            refused => refused,
        });
    }
    // The derive key arrives with the database's acceptance, inside the transaction that marks
    // the pass used: the secret's hash is made there.
    let set_for = |key: &[u8]| hash::shadow_crypt(&hash::derive(key, code));
    let reset = HostReset {
        prev: &sp.hash,
        prev_lastchg: sp.lastchg,
        set_for: &set_for,
    };
    let mut put = |used: &PassRecord, set: &str| write_shadow(dir, &used.user, set, Some(0));
    let redeemed = store.redeem_with_reset(at, policy.enabled, &reset, &mut put);
    if redeemed.is_err() {
        // The host row may be left pending (the use was not committed, or not known to be):
        // settling it now restores the account; failing that, the next touch does.
        let _ = settle_user(store, dir, policy, &rec.user, at.now, at.ctx);
    }
    redeemed
}
