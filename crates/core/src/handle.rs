//! What the core needs from a PAM handle, and how a handle says it could not do it. The core
//! passes a handle's failure on without reading it; the FFI shell (crates/pam_tap/src/) makes it from the
//! code libpam gave and crates/core/src/outcome.rs turns it back into that very code.

use zeroize::Zeroizing;

pub type Secret = Zeroizing<Vec<u8>>;

/// What a PAM handle keeps after it accepted a pass, for the hooks that follow on it.
#[derive(Clone)]
pub enum Accepted {
    /// A pass that changed nothing on the account.
    Plain,
    /// A reset pass: the derived current password, handed to pam_unix at the forced change.
    Handoff(Zeroizing<String>),
}

/// Why a handle could not do what the core asked: one variant for each failure libpam's own
/// calls report (pam_get_user, pam_get_authtok, pam_get_item, pam_set_item, pam_set_data and
/// the conversation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleError {
    /// The conversation failed, is missing, or gave no answer.
    Conversation,
    /// Out of memory, or a string that cannot cross into C.
    Buffer,
    /// A password could not be obtained or set: the change is aborted.
    Authtok,
    /// `use_first_pass` asked for the password of a module earlier in the stack, and there is none.
    NoEarlierAuthtok,
    /// The two new passwords typed do not match.
    Mismatch,
    /// libpam does not know the item, or will not hand it out.
    BadItem,
    /// libpam lets only a module set that item.
    PermissionDenied,
    /// libpam failed itself (or handed back a name that is not UTF-8, or no data at all).
    System,
    /// A code only an application's conversation function chooses (it may return any): the core
    /// does not read it, the shell gives it back as it came.
    Other(i32),
}

/// What the core needs from a PAM handle.
pub trait Handle {
    /// PAM_USER (may prompt for it).
    fn user(&mut self) -> Result<String, HandleError>;
    fn service(&self) -> Option<String>;
    fn rhost(&self) -> Option<String>;
    /// The answer to the stack's password prompt (`pam_get_authtok`, honouring try_first_pass /
    /// use_first_pass); it becomes PAM_AUTHTOK for the modules after this one.
    fn authtok(&mut self) -> Result<Secret, HandleError>;
    /// One PAM_TEXT_INFO line through the conversation.
    fn info(&mut self, text: &str) -> Result<(), HandleError>;
    /// One echo-off prompt through the conversation.
    fn prompt_secret(&mut self, prompt: &str) -> Result<Secret, HandleError>;
    /// Makes sure PAM_AUTHTOK holds the new password (prompting "New password"/"Retype").
    fn new_authtok(&mut self) -> Result<(), HandleError>;
    /// Whether PAM_AUTHTOK is set already (a module earlier in the stack, such as pam_pwquality,
    /// asked for the new password before pam_tap).
    fn authtok_set(&self) -> bool;
    fn set_old_authtok(&mut self, secret: &[u8]) -> Result<(), HandleError>;
    /// Remembers, for the rest of this PAM handle, that a pass was accepted.
    fn remember(&mut self, accepted: Accepted) -> Result<(), HandleError>;
    /// What `remember` stored: `None` when no pass was accepted on this handle.
    fn remembered(&self) -> Option<Accepted>;
    /// sshd's `SSH_AUTH_INFO_0` from the PAM environment: the methods that succeeded so far in
    /// this connection, with the public key the client proved (sshd's `expose_authinfo`).
    fn auth_info(&self) -> Option<String> {
        None
    }
}
