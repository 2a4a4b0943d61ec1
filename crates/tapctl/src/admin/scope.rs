//! Where a pass works: `--host` names the hosts (their `host_name`) it is scoped to.

use pam_tap_base::error::{Error, Result};

/// `--host`: each a valid host name, kept once, in the order given; `None` for none (any host).
pub fn host_scope(hosts: &[String]) -> Result<Option<String>> {
    let mut kept: Vec<String> = Vec::new();
    for h in hosts {
        let name = pam_tap_core::config::check_host_name(h).map_err(|e| Error::Refused(format!("--host: {e}")))?;
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    Ok((!kept.is_empty()).then(|| kept.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(h: &[&str]) -> Result<Option<String>> {
        host_scope(&h.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn hosts_are_checked_kept_once_and_joined() {
        assert_eq!(scope(&[]).unwrap(), None);
        assert_eq!(scope(&["ws-0421"]).unwrap().as_deref(), Some("ws-0421"));
        assert_eq!(
            scope(&["ws-0421", "db1.example.org", "ws-0421"]).unwrap().as_deref(),
            Some("ws-0421,db1.example.org")
        );
        for bad in ["", "ws_0421", "a,b", "ws 1", "*"] {
            let e = scope(&["ok", bad]).unwrap_err().to_string();
            assert!(e.starts_with("--host: "), "{bad}: {e}");
        }
    }
}
