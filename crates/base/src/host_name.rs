//! Host names as pam_tap stores them: a host's `host_name`, a pass's host scope, a fleet binding.

/// The longest host name (DNS's limit).
pub const MAX_HOST_NAME: usize = 253;

/// A host name as pam_tap stores it: 1..=253 of `[A-Za-z0-9.-]`.
pub fn check_host_name(name: &str) -> Result<String, String> {
    if name.is_empty()
        || name.len() > MAX_HOST_NAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(format!(
            "`{name}` is not a host name (1 to {MAX_HOST_NAME} letters, digits, dots and hyphens)"
        ));
    }
    Ok(name.to_string())
}

/// The kernel's node name (uname), the default `host_name`. One that is not a valid host name is
/// kept as it is: it matches no host scope, so scoped passes are refused there and others work.
pub fn node_name() -> String {
    // SAFETY: uname fills the zeroed struct; nodename is NUL-terminated within it.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return String::new();
        }
        std::ffi::CStr::from_ptr(u.nodename.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for ok in ["ws-0421", "db1.example.org", "A", &"a".repeat(253)] {
            assert_eq!(check_host_name(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "ws_0421", "a b", "ws,0421", "ws*", &"a".repeat(254), "é"] {
            assert!(check_host_name(bad).is_err(), "{bad}");
        }
        assert!(!node_name().is_empty());
    }
}
