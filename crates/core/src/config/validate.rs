//! The policy's own rules for its values: which services and groups it names by default, the
//! lockout's range, and the uid ceiling login.defs gives (read when the policy is loaded, so no
//! decision reads a file).

use std::path::Path;
use std::time::Duration;

use pam_tap_base::error::{Error, Result};
use pam_tap_base::safefile::Trust;

/// Where shadow's tools keep UID_MAX.
pub const LOGIN_DEFS: &str = "/etc/login.defs";

/// Groups whose members are root in all but name on Debian or Fedora, or can become root without
/// sudo's say. `sudo`/`wheel`/`admin`: sudo's own groups (Debian, Fedora, old Ubuntu). `docker`,
/// `lxd`, `incus`, `incus-admin`: start a container with the host's / mounted. `libvirt`: a VM with
/// a host disk attached. `disk`: raw block devices, so the filesystems under /etc/shadow.
/// `shadow`: reads every password hash. `adm`: reads every log, including authentication logs.
/// `kvm`: not root, but raw VM access; `systemd-journal`: every log too.
pub const DEFAULT_ADMIN_GROUPS: &[&str] = &[
    "sudo",
    "wheel",
    "admin",
    "docker",
    "lxd",
    "incus",
    "incus-admin",
    "libvirt",
    "disk",
    "shadow",
    "adm",
    "systemd-journal",
    "kvm",
];

/// The PAM services where a pass counts by default: console and remote logins, `su`, the display
/// managers' password services, and `passwd` for the handoff's grace prompt. Not `sudo`, `polkit-1`,
/// `cron` or anything else that authorises an act rather than a login.
pub const DEFAULT_SERVICES: &[&str] = &[
    "login",
    "sshd",
    "su",
    "su-l",
    "gdm-password",
    "lightdm",
    "sddm",
    "xdm",
    "lxdm",
    "passwd",
];

/// Fallback when login.defs gives no UID_MAX: shadow's own default.
pub const FALLBACK_MAX_UID: u32 = 60000;

/// A login.defs larger than this is not read (the fallback applies).
const MAX_LOGIN_DEFS: u64 = 256 * 1024;

fn service_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// Resolves the `services` key.
pub fn services(key: &str, v: Option<Vec<String>>) -> Result<Vec<String>> {
    let list = v.unwrap_or_else(|| DEFAULT_SERVICES.iter().map(|s| s.to_string()).collect());
    for s in &list {
        if !service_name(s) {
            return Err(Error::Config(format!("{key}: `{s}` is not a PAM service name")));
        }
    }
    Ok(list)
}

/// Resolves `pass.lockout`: 1s ..= 24h, default 15m.
pub fn lockout(key: &str, v: Option<String>) -> Result<Duration> {
    let d = match v {
        None => return Ok(Duration::from_secs(15 * 60)),
        Some(s) => super::parse_duration(&s).map_err(|e| Error::Config(format!("{key}: {e}")))?,
    };
    if d < Duration::from_secs(1) || d > Duration::from_secs(24 * 3600) {
        return Err(Error::Config(format!("{key}: must be within 1s ..= 24h")));
    }
    Ok(d)
}

/// UID_MAX from a login.defs, or [`FALLBACK_MAX_UID`] when it is missing, unsafe or says nothing.
pub fn login_defs_uid_max(path: &Path) -> u32 {
    login_defs_uid_max_trusting(path, Trust::ROOT)
}

/// [`login_defs_uid_max`] with the files of `trust`'s owner trusted (root's but in tests).
pub fn login_defs_uid_max_trusting(path: &Path, trust: Trust) -> u32 {
    let Ok((text, _)) = trust.read(path, MAX_LOGIN_DEFS) else {
        return FALLBACK_MAX_UID;
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("UID_MAX")).then(|| w.next()?.parse::<u32>().ok())?
        })
        .next_back()
        .unwrap_or(FALLBACK_MAX_UID)
}
