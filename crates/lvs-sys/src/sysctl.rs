//! `/proc/sys` keys (`net.ipv4.ip_forward` style names) of the calling thread's namespace.
//!
//! The `net.*` tree under `/proc/sys` follows the namespace of the process that opened it, so
//! call these from a thread inside the wanted namespace (see [`crate::NetNs::run`]).

use crate::SysError;

fn path(key: &str) -> Result<String, SysError> {
    if key.is_empty() || key.contains("..") || key.contains('/') {
        return Err(SysError::InvalidName(key.to_owned()));
    }
    Ok(format!("/proc/sys/{}", key.replace('.', "/")))
}

/// Reads a sysctl, trimmed.
pub fn read(key: &str) -> Result<String, SysError> {
    let p = path(key)?;
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_owned())
        .map_err(|e| SysError::Io(p, e))
}

/// Writes a sysctl.
pub fn write(key: &str, value: &str) -> Result<(), SysError> {
    let p = path(key)?;
    std::fs::write(&p, value).map_err(|e| SysError::Io(p, e))
}
