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
    let mut kv = read_sshd_config(opts, &main);
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

/// sshd_config at `path` and the files it includes, under the root, as [`settings_of`] reads them.
fn read_sshd_config(opts: &Options, path: &Path) -> Vec<(String, String)> {
    let read = |pattern: &str| {
        let mut matches = glob_simple(&opts.path(pattern));
        matches.sort();
        matches.iter().filter_map(|m| std::fs::read_to_string(m).ok()).collect()
    };
    settings_of(&read, &std::fs::read_to_string(path).unwrap_or_default())
}

/// `dir/*.conf`-style patterns: a `*` in the last component only, which is what sshd_config uses.
pub(super) fn glob_simple(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(dir) = pattern.parent() else {
        return Vec::new();
    };
    match name.split_once('*') {
        None => vec![pattern.to_path_buf()].into_iter().filter(|p| p.exists()).collect(),
        Some(_) => std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| name_matches(name, n))
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
