//! The words of `tapctl status`'s reasons: what each means and what a helpdesk does about it. The
//! `match` is exhaustive, so a reason added to the module's decision does not compile until it
//! has its words here.

use pam_tap_core::usability::Reason;

use super::{ReasonWord, Tone};

pub(super) fn reason_word(r: Reason) -> ReasonWord {
    let (label, tone, meaning, remedy) = match r {
        Reason::Usable => (
            "Would log in",
            Tone::Good,
            "The pass would log the user in now, until it expires",
            "Nothing: the user types the pass at the prompt",
        ),
        Reason::UsableInGrace => (
            "Would log in (grace)",
            Tone::Good,
            "A used reset pass whose forced password change is still pending: it logs in again within the grace window",
            "Have the user finish the password change now",
        ),
        Reason::PolicyOff => (
            "pam_tap off",
            Tone::Warning,
            "The policy says enabled = false: no pass logs anyone in",
            "An administrator turns pam_tap on (enabled = true) if passes are meant to work",
        ),
        Reason::UnknownUser => (
            "No such user",
            Tone::Neutral,
            "The name service knows no such user",
            "Check the spelling; the account may not exist on this host",
        ),
        Reason::NoPass => (
            "No pass",
            Tone::Neutral,
            "The user holds no pass",
            "Issue one (tapctl issue)",
        ),
        Reason::ServiceOutOfScope => (
            "Not at this service",
            Tone::Warning,
            "The pass is no credential at this service (the policy's services, narrowed per pass)",
            "Have the user log in through a service the pass allows, or issue a pass with --service for this one",
        ),
        Reason::HostOutOfScope => (
            "Not on this host",
            Tone::Warning,
            "The pass is scoped to other hosts",
            "Have the user log in on a host the pass names, or issue a pass with --host for this one",
        ),
        Reason::EnrollOnly => (
            "Enrolls a key only",
            Tone::Info,
            "The pass enrolls an SSH key at the key enrollment step; it logs no one in by itself",
            "Have the user log in over SSH with the key the pass enrolls, or issue a login pass instead",
        ),
        Reason::Ineligible => (
            "User not eligible",
            Tone::Danger,
            "The user is outside the policy's users (min_uid, max_uid, exclude_groups, include_groups)",
            "None at the helpdesk: the policy excludes this user",
        ),
        Reason::NotYetValid => (
            "Not yet valid",
            Tone::Info,
            "The pass's validity window has not started",
            "Wait until the time shown, or issue a pass that starts now",
        ),
        Reason::Expired => (
            "Expired",
            Tone::Neutral,
            "The pass's validity window has ended",
            "Issue a new pass",
        ),
        Reason::Used => (
            "Used",
            Tone::Neutral,
            "A one-time pass that has already logged in",
            "Issue a new pass (if the user did not log in, find out who did: tapctl log)",
        ),
        Reason::Revoked => (
            "Revoked",
            Tone::Danger,
            "An operator revoked the pass, or it ended when the account's password changed",
            "Issue a new pass if one is still meant",
        ),
        Reason::Locked => (
            "Locked",
            Tone::Danger,
            "Locked for good after too many wrong answers",
            "Find out who was guessing (tapctl log), then tapctl unlock or issue a new pass",
        ),
        Reason::Resting => (
            "Resting",
            Tone::Warning,
            "Wrong answers in a row: refused until the rest ends",
            "Wait until the time shown, or end the rest now (tapctl unlock) once the wrong answers are explained",
        ),
        Reason::UidChanged => (
            "Another account now",
            Tone::Danger,
            "The account under this name is not the one the pass was issued for (deleted and made again, or given another uid)",
            "Check that the account is the person's; if so, revoke the pass and issue a new one for it",
        ),
        Reason::AccountLocked => (
            "Account locked",
            Tone::Danger,
            "The account itself is locked (usermod -L / passwd -l): a pass does not open it",
            "An administrator unlocks the account (usermod -U) if the lock was not meant",
        ),
        Reason::AccountExpired => (
            "Account expired",
            Tone::Danger,
            "The account itself has expired (chage -E): a pass does not open it",
            "An administrator extends the account (chage -E) if it should still be used",
        ),
        Reason::HolderPrivileged => (
            "Holder is an admin",
            Tone::Danger,
            "An issuer's pass, and its holder is now an admin (uid 0, a tapctl role, an admin group, or sudo to root)",
            "A privileged issuer or root issues the pass instead",
        ),
    };
    ReasonWord {
        reason: r.word(),
        label,
        tone,
        usable: r.usable(),
        meaning,
        remedy,
    }
}
