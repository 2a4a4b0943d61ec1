//! The errors every part of pam_tap reports; the module maps each to a failing PAM code.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config is unreadable or invalid.
    #[error("config: {0}")]
    Config(String),
    /// A file or directory that must be trusted is not (symlink, owner, mode).
    #[error("unsafe file: {0}")]
    Unsafe(String),
    /// A connection to the store that could be forged or redirected: not a Unix socket or loopback
    /// without verified TLS, or the caller's environment would choose part of it.
    #[error("unsafe database connection: {0}")]
    UnsafeConnection(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The database failed or holds something it must not.
    #[error("database: {0}")]
    Store(String),
    /// A stored hash is malformed or asks for out-of-bounds work.
    #[error("stored hash: {0}")]
    Hash(String),
    /// A user/group lookup failed.
    #[error("account lookup: {0}")]
    Lookup(String),
    /// An operator request that policy or roles refuse, with the reason for the operator.
    #[error("{0}")]
    Refused(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
