//! Error kinds of configuration operations, mirroring the errno values the
//! kernel returns so that `lvsadm` can print ipvsadm's exact texts
//! (`libipvs` `ipvs_strerror`).

/// A configuration operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `EEXIST`: the service, destination or daemon already exists.
    #[error("already exists")]
    Exists,
    /// `ESRCH`: no such service (or no daemon running).
    #[error("no such service")]
    NoService,
    /// `ENOENT`: no such destination.
    #[error("no such destination")]
    NoDest,
    /// `ENOENT` on service add/edit: unknown scheduler or persistence engine.
    #[error("scheduler or persistence engine not found: {0}")]
    NoScheduler(String),
    /// `ERANGE`: a value (weight, threshold) out of range.
    #[error("value out of range: {0}")]
    Range(&'static str),
    /// `EINVAL`: the request is invalid.
    #[error("invalid: {0}")]
    Invalid(&'static str),
}

impl Error {
    /// The errno the kernel would have returned.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Exists => 17,                        // EEXIST
            Error::NoService => 3,                      // ESRCH
            Error::NoDest | Error::NoScheduler(_) => 2, // ENOENT
            Error::Range(_) => 34,                      // ERANGE
            Error::Invalid(_) => 22,                    // EINVAL
        }
    }
}

/// Result of a configuration operation.
pub type Result<T> = std::result::Result<T, Error>;
