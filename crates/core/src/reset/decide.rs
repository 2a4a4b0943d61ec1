//! The settling decision: what a reset pass's shadow entry needs, judged from the pass row, its
//! pending mark and the entry as it is now.

use super::{HANDOFF_MIN, LOCKED};
use crate::config::Policy;
use pam_tap_base::users::ShadowEntry;
use pam_tap_store::{PassRecord, Pending, ISSUE, SETTLE};

/// What settling a reset pass does to the shadow entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Put the state from before the pass back (`shadow_prev`).
    Restore,
    /// Lock the account ([`LOCKED`]).
    Lock,
    /// Nothing to write: the shadow entry no longer holds the reset.
    Close,
}

/// A settling decision: the step, whether the pass ends (is revoked) with it, and why (audited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub step: Step,
    pub revoke: bool,
    pub why: &'static str,
}

fn decision(step: Step, revoke: bool, why: &'static str) -> Option<Decision> {
    Some(Decision { step, revoke, why })
}

/// What to do with reset pass `rec` at `now` given its pending mark (whose owner is gone) and the
/// account's shadow entry; `None` while the pass is alive and its reset rightly in place.
pub fn decide(
    rec: &PassRecord,
    pending: Option<&Pending>,
    shadow: Option<&ShadowEntry>,
    now: i64,
    policy: &Policy,
) -> Option<Decision> {
    let live = rec.is_live(now);
    let issue_cut = pending.is_some_and(|p| p.what == ISSUE);
    let (Some(set), Some(sp)) = (rec.shadow_set.as_deref(), shadow) else {
        return decision(Step::Close, issue_cut, "no reset in place: derive key wiped");
    };
    if sp.hash != set {
        // The entry no longer holds the reset. A settle writes it in two steps: chpasswd -e (the
        // hash, with the day it runs as the last-change day; shadow 4.13 touches no other field),
        // then chage -d (the day). The rule: an entry back at the exact hash from before the pass,
        // on a pass being undone (revoked, its issue cut short, or under a settle's mark), is that
        // restore, whole or cut short between the two steps, never the user's change (pam_unix
        // and passwd write a freshly salted hash). Its day is written again while it holds
        // chpasswd's stamp (a day after 0 that is not the previous one); a 0 or an empty day
        // there is no stamp of chpasswd's but an admin's, and is kept. Likewise the lock under a
        // settle's mark. Only any other hash is someone's change.
        let settling = pending.is_some_and(|p| p.what == SETTLE);
        let undoing = issue_cut || settling || rec.revoked_at.is_some();
        if undoing && rec.shadow_prev.as_deref() == Some(sp.hash.as_str()) {
            let stamped = sp.lastchg.is_some_and(|d| d > 0) && sp.lastchg != rec.shadow_prev_lastchg;
            return match (stamped, issue_cut) {
                (true, _) => decision(
                    Step::Restore,
                    issue_cut,
                    "restoring the previous password (finishing: its last-change day)",
                ),
                (false, true) => decision(
                    Step::Close,
                    true,
                    "issue cut short: pass revoked, the account as before it",
                ),
                (false, false) => decision(Step::Close, false, "previous password restored"),
            };
        }
        if settling && sp.hash == LOCKED {
            return decision(Step::Close, false, "account locked");
        }
        if issue_cut {
            return decision(
                Step::Close,
                true,
                "issue cut short before the shadow change: pass revoked, account untouched",
            );
        }
        return decision(
            Step::Close,
            live,
            "the account's password changed: the handoff is complete and the pass ends",
        );
    }
    if issue_cut {
        return decision(
            Step::Restore,
            true,
            "issue cut short after the shadow change: pass revoked, previous password restored",
        );
    }
    if rec.revoked_at.is_some() {
        return decision(Step::Restore, false, "pass revoked: restoring the previous password");
    }
    let handoff = policy.grace.max(HANDOFF_MIN).as_secs() as i64;
    let unfinished = rec.one_time && rec.used_at.is_some_and(|u| now >= u.saturating_add(handoff));
    // `locked_at` marks a pass locked for good by wrong answers; a lock that only rests the pass
    // for a while must not end it here.
    if rec.locked_at.is_some() {
        return decision(Step::Lock, false, "pass locked: locking the account");
    }
    if now >= rec.expires_at || unfinished {
        return decision(
            Step::Lock,
            false,
            "pass ended without a completed handoff: locking the account",
        );
    }
    None
}
