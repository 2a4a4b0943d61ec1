//! Every decision the module makes, in words of its own: the module's one table turns each into a
//! PAM return code (pam_tap's `codes`), so nothing here knows PAM's numbers.

use crate::handle::HandleError;
use pam_tap_base::error::Error;
use pam_tap_store::Status;

/// What an authentication attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The pass matched and was redeemed.
    Accepted,
    /// The pass matched while its handoff was still pending within the grace window.
    AcceptedInGrace,
    /// Key enrollment step: the key sshd accepted is one the user holds already (enrolled, or in
    /// their own authorized_keys): no prompt.
    KeyKnown,
    /// Key enrollment step: the pass matched and enrolled the key proven in this connection.
    Enrolled,
    /// The user holds no pass.
    NoPass,
    /// The answer cannot be a pass (left to the rest of the stack, not counted).
    NotAPass,
    /// `enabled = false`.
    Disabled,
    /// The user does not exist (or the name cannot be one).
    UnknownUser,
    /// A pass-shaped answer that does not match; counted.
    Wrong,
    /// That wrong answer reached the lockout.
    NowLocked,
    /// The answer matched a pass that cannot be used now.
    Unusable(Status),
    /// The answer matched but the user is outside the policy's users.
    NotEligible,
    /// The answer matched but the helpdesk boundary refuses it: the word says why (service, role,
    /// locked, expired, resting; see [`crate::gate`]).
    Refused(&'static str),
    /// Empty, NULL or over-long answer.
    BadInput,
    /// The conversation failed.
    Conversation,
    /// An error: config, unsafe file, database, hash, lookup.
    Failed(ErrorKind),
}

/// What a password change (`pam_sm_chauthtok`, either pass) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// PRELIM: PAM_OLDAUTHTOK now holds the derived secret of the pass this handle accepted.
    HandedOff,
    /// PRELIM in a fresh process: the pass answered "Current password" within the grace window.
    GraceAnswered,
    /// PRELIM: the answer to the grace prompt is not the pass; it went on unchanged as
    /// PAM_OLDAUTHTOK for pam_unix to judge.
    PassedOn,
    /// PRELIM: no pass in play (root outside an expiry, no store, no pass in its grace window…);
    /// pam_unix asks for the current password itself.
    NothingToAdd,
    /// UPDATE: PAM_AUTHTOK holds the new password.
    NewPasswordSet,
    /// The flags name neither PRELIM nor UPDATE.
    NoPhase,
    /// The user's name could not be read.
    UnknownUser,
    /// An empty or over-long answer to the grace prompt.
    BadAnswer,
    /// The handle failed (the conversation, libpam).
    Handle(HandleError),
    /// An error: config, unsafe file, database, hash, lookup.
    Failed(ErrorKind),
}

/// What `pam_sm_setcred` came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredOutcome {
    /// This handle accepted a pass: pam_tap answers for the credentials it stands behind.
    PassAccepted,
    /// This handle accepted no pass: nothing for pam_tap to do.
    NoPassHere,
    /// The key enrollment step sets no credential of its own; like pam_unix it answers success,
    /// so the stack's credentials come from the session modules (its authentication decided).
    KeyStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Config,
    Unsafe,
    Store,
    Hash,
    Lookup,
}

impl From<&Error> for ErrorKind {
    fn from(e: &Error) -> Self {
        match e {
            Error::Config(_) => ErrorKind::Config,
            Error::Unsafe(_) => ErrorKind::Unsafe,
            Error::Store(_) | Error::UnsafeConnection(_) | Error::Io(_) | Error::Refused(_) => ErrorKind::Store,
            Error::Hash(_) => ErrorKind::Hash,
            Error::Lookup(_) => ErrorKind::Lookup,
        }
    }
}

impl Outcome {
    /// A short word for the log line.
    pub fn word(&self) -> String {
        match self {
            Outcome::Accepted => "accepted".into(),
            Outcome::AcceptedInGrace => "accepted_in_grace".into(),
            Outcome::KeyKnown => "key_known".into(),
            Outcome::Enrolled => "enrolled".into(),
            Outcome::NoPass => "no_pass".into(),
            Outcome::NotAPass => "not_a_pass".into(),
            Outcome::Disabled => "disabled".into(),
            Outcome::UnknownUser => "unknown_user".into(),
            Outcome::Wrong => "wrong".into(),
            Outcome::NowLocked => "now_locked".into(),
            Outcome::Unusable(s) => s.as_str().into(),
            Outcome::NotEligible => "not_eligible".into(),
            Outcome::Refused(why) => format!("refused reason={why}"),
            Outcome::BadInput => "bad_input".into(),
            Outcome::Conversation => "conversation_error".into(),
            Outcome::Failed(k) => format!("error_{k:?}").to_lowercase(),
        }
    }
}
