//! sshd: whether its settings let a pass reach PAM (UsePAM, keyboard-interactive).

use super::*;

/// sshd's effective `usepam`, `kbdinteractiveauthentication`, `passwordauthentication`,
/// `authenticationmethods`, lower-case, or None when sshd is not there at all.
pub(super) fn sshd_settings(opts: &Options) -> Option<(String, Vec<(String, String)>)> {
    if matches!(opts.sshd, Sshd::Ask) && opts.is_system_root() {
        for sshd in ["/usr/sbin/sshd", "/sbin/sshd"] {
            if !Path::new(sshd).exists() {
                continue;
            }
            if let Ok(o) = std::process::Command::new(sshd).arg("-T").output() {
                if o.status.success() {
                    let text = String::from_utf8_lossy(&o.stdout);
                    let kv = text
                        .lines()
                        .filter_map(|l| l.split_once(' '))
                        .map(|(k, v)| (k.to_lowercase(), v.trim().to_owned()))
                        .collect();
                    return Some((format!("{sshd} -T"), kv));
                }
            }
        }
    }
    let main = opts.path("/etc/ssh/sshd_config");
    if !main.exists() {
        return None;
    }
    let mut kv = Vec::new();
    read_sshd_config(opts, &main, &mut kv, 0);
    // sshd's compiled-in defaults (OpenSSH 9.x) where the files are silent.
    for (k, v) in [
        ("usepam", "no"),
        ("kbdinteractiveauthentication", "yes"),
        ("passwordauthentication", "yes"),
        ("authenticationmethods", "any"),
    ] {
        if !kv.iter().any(|(key, _)| key == k) {
            kv.push((k.to_owned(), v.to_owned()));
        }
    }
    Some((main.display().to_string(), kv))
}

/// First value wins, as in sshd; `Match` blocks are conditional and skipped.
pub(super) fn read_sshd_config(opts: &Options, path: &Path, kv: &mut Vec<(String, String)>, depth: u32) {
    if depth > 4 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for line in text.lines() {
        let (k, v) = match sshd_line(line) {
            None => continue,
            Some(SshdLine::Match) => break,
            Some(SshdLine::Setting(k, v)) => (k, v),
        };
        if k == "include" {
            for pattern in v.split_whitespace() {
                let abs = if pattern.starts_with('/') {
                    pattern.to_owned()
                } else {
                    format!("/etc/ssh/{pattern}")
                };
                let full = opts.path(&abs);
                let mut matches = glob_simple(&full);
                matches.sort();
                for m in matches {
                    read_sshd_config(opts, &m, kv, depth + 1);
                }
            }
            continue;
        }
        if !kv.iter().any(|(key, _)| *key == k) {
            kv.push((k, v.to_lowercase()));
        }
    }
}

/// One line of sshd_config, read as sshd reads it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SshdLine {
    /// A keyword (lower-case; the old `ChallengeResponseAuthentication` under its new name) and
    /// its value (`Include`'s is its patterns).
    Setting(String, String),
    /// A `Match` block: conditional, so doctor reads no further.
    Match,
}

/// Parses one line of sshd_config: None for a blank line or a comment.
pub(super) fn sshd_line(line: &str) -> Option<SshdLine> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (k, v) = line
        .split_once(|c: char| c.is_whitespace() || c == '=')
        .map(|(k, v)| {
            (
                k.to_lowercase(),
                v.trim_start_matches(['=', ' ', '\t']).trim().to_owned(),
            )
        })
        .unwrap_or((line.to_lowercase(), String::new()));
    Some(match k.as_str() {
        "match" => SshdLine::Match,
        "challengeresponseauthentication" => SshdLine::Setting("kbdinteractiveauthentication".into(), v),
        _ => SshdLine::Setting(k, v),
    })
}

/// `dir/*.conf`-style patterns: a `*` in the last component only, which is what sshd_config uses.
pub(super) fn glob_simple(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(dir) = pattern.parent() else {
        return Vec::new();
    };
    match name.split_once('*') {
        None => vec![pattern.to_path_buf()].into_iter().filter(|p| p.exists()).collect(),
        Some((pre, suf)) => std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with(pre) && n.ends_with(suf) && n.len() >= pre.len() + suf.len())
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub(super) fn check_sshd(opts: &Options, out: &mut Vec<Check>) {
    const C: &str = "sshd";
    let Some((source, kv)) = sshd_settings(opts) else {
        out.push(Check::ok(C, "sshd is not installed"));
        return;
    };
    out.push(judge_sshd(&source, &kv));
}

/// What sshd's effective settings (from [`sshd_settings`]) mean for a pass; `source` says where
/// they were read.
pub(super) fn judge_sshd(source: &str, kv: &[(String, String)]) -> Check {
    const C: &str = "sshd";
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let use_pam = get("usepam") == "yes";
    let kbd = get("kbdinteractiveauthentication") == "yes";
    let password = get("passwordauthentication") == "yes";
    let methods = get("authenticationmethods");
    if !use_pam {
        return Check::warn(
            C,
            format!("UsePAM no ({source}): passes cannot log in over ssh"),
            "set `UsePAM yes` in /etc/ssh/sshd_config and reload sshd",
        );
    }
    if !methods.is_empty()
        && methods != "any"
        && !methods.contains("keyboard-interactive")
        && !methods.contains("password")
    {
        return Check::warn(
            C,
            format!("AuthenticationMethods {methods} ({source}): no password method, passes cannot log in over ssh"),
            "allow keyboard-interactive in AuthenticationMethods, or log in with the pass on the console",
        );
    }
    if kbd {
        Check::ok(
            C,
            format!("UsePAM yes, KbdInteractiveAuthentication yes ({source}): a first login over ssh sets the new password inside the login"),
        )
    } else if password {
        Check::warn(
            C,
            format!("UsePAM yes, KbdInteractiveAuthentication no, PasswordAuthentication yes ({source}): a first login over ssh needs a terminal (sshd then runs passwd); `ssh host cmd`, scp and sftp fail until the password is changed"),
            "set `KbdInteractiveAuthentication yes` in /etc/ssh/sshd_config and reload sshd",
        )
    } else {
        Check::warn(
            C,
            format!("KbdInteractiveAuthentication no and PasswordAuthentication no ({source}): passes cannot log in over ssh"),
            "set `KbdInteractiveAuthentication yes` in /etc/ssh/sshd_config and reload sshd",
        )
    }
}
