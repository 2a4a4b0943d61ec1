//! pam.d stacks read as libpam reads them, over plain text: a service's lines with its includes
//! and substacks expanded, and what a control does on success.
//!
//! This file uses only std and `pam_tap`: the fuzz target `pamd_line` compiles this very file
//! (`#[path]`), so the reader it tries is doctor's own and the library never links it.

use crate::pamd::{rule, split_fields};

#[derive(Clone, Debug)]
pub struct PamLine {
    pub control: String,
    pub module: String,
    pub args: Vec<String>,
}

impl PamLine {
    pub fn module_name(&self) -> &str {
        self.module.rsplit('/').next().unwrap_or(&self.module)
    }
    pub fn has_arg(&self, a: &str) -> bool {
        self.args.iter().any(|x| x == a)
    }
    pub fn arg_value(&self, key: &str) -> Option<&str> {
        self.args.iter().find_map(|x| x.strip_prefix(key)?.strip_prefix('='))
    }
}

/// Most pam.d files one stack may read, a file included twice counted twice: a real stack reads
/// a handful, and files that include the next several times over, level after level, would
/// otherwise take time and memory exponential in the nesting.
pub const MAX_READS: usize = 64;

/// The `kind` lines of `service` with its includes and substacks expanded, as libpam reads them;
/// `read` gives the text of a pam.d file by name, so this runs over plain text.
pub fn stack_of(
    read: &dyn Fn(&str) -> Result<String, String>,
    service: &str,
    kind: &str,
) -> Result<Vec<PamLine>, String> {
    expand(read, service, kind, 0, &mut 0)
}

fn expand(
    read: &dyn Fn(&str) -> Result<String, String>,
    service: &str,
    kind: &str,
    depth: u32,
    reads: &mut usize,
) -> Result<Vec<PamLine>, String> {
    if depth > 8 {
        return Err(format!("{service}: includes nest too deep"));
    }
    if *reads == MAX_READS {
        return Err(format!("{service}: the includes read more than {MAX_READS} files"));
    }
    *reads += 1;
    let text = read(service)?.replace("\\\n", " ");
    let mut lines = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f = split_fields(line);
        if f[0] == "@include" {
            if let Some(inc) = f.get(1) {
                lines.extend(expand(read, inc, kind, depth + 1, reads)?);
            }
            continue;
        }
        let Some(rule) = rule(line).filter(|r| r.kind == kind) else {
            continue;
        };
        if rule.control == "include" || rule.control == "substack" {
            lines.extend(expand(read, &rule.module, kind, depth + 1, reads)?);
            continue;
        }
        lines.push(PamLine {
            control: rule.control,
            module: rule.module,
            args: rule.args,
        });
    }
    Ok(lines)
}

/// How far a `[success=N ...]` jump goes, if the control jumps on success.
pub fn success_jump(control: &str) -> Option<usize> {
    let inner = control.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("success="))
        .and_then(|v| v.parse().ok())
}

/// Whether a success of line `t` (its control `control`) passes over the later line `u` without
/// running it: `sufficient` and `success=done` end the stack, `success=N` skips the next N lines.
/// Measured from `t` to `u`, never `t + N`: N may be any number the file holds.
pub fn success_skips(control: &str, t: usize, u: usize) -> bool {
    u > t
        && (control == "sufficient"
            || control.contains("success=done")
            || success_jump(control).is_some_and(|n| n >= u - t))
}

/// The auth control pam_tap needs at line `t`: a good pass lands where pam_unix's own success
/// lands, so whatever follows in the stack (pam_permit, a second factor in the including file)
/// still runs. On Debian that is `[success=N ...]` counted to pam_unix's jump target (what
/// pam-auth-update writes from the profile's `success=end`); where pam_unix is `sufficient`
/// (authselect) it is `done`, which ends the stack exactly as pam_unix's own success does.
pub fn auth_control_fix(lines: &[PamLine], t: usize, unix: Option<usize>) -> String {
    let control = match unix.filter(|&u| u > t).map(|u| (u, &lines[u].control)) {
        Some((u, c)) => match success_jump(c) {
            // No advice to count to a line past usize::MAX.
            Some(n) => (u - t).checked_add(n).map(|j| format!("[success={j} default=ignore]")),
            None if c == "sufficient" || c.contains("success=done") => Some("[success=done default=ignore]".into()),
            None => None,
        },
        None => None,
    };
    match control {
        Some(c) => format!("use `auth {c} pam_tap.so` (pam-auth-update --enable pam-tap writes it on Debian)"),
        None => "give pam_tap a success jump that lands where pam_unix's success lands (pam-auth-update --enable pam-tap counts it)".into(),
    }
}

/// Whether libpam accepts `control`: a keyword, or `[value=action ...]` with libpam's return-code
/// names and actions (`end` is pam-auth-update's profile syntax, never valid in pam.d itself).
pub fn control_is_valid(control: &str) -> bool {
    const VALUES: &[&str] = &[
        "success",
        "open_err",
        "symbol_err",
        "service_err",
        "system_err",
        "buf_err",
        "perm_denied",
        "auth_err",
        "cred_insufficient",
        "authinfo_unavail",
        "user_unknown",
        "maxtries",
        "new_authtok_reqd",
        "acct_expired",
        "session_err",
        "cred_unavail",
        "cred_expired",
        "cred_err",
        "no_module_data",
        "conv_err",
        "authtok_err",
        "authtok_recover_err",
        "authtok_lock_busy",
        "authtok_disable_aging",
        "try_again",
        "ignore",
        "abort",
        "authtok_expired",
        "module_unknown",
        "bad_item",
        "conv_again",
        "incomplete",
        "default",
    ];
    const ACTIONS: &[&str] = &["ignore", "bad", "die", "ok", "done", "reset"];
    let Some(inner) = control.strip_prefix('[').and_then(|c| c.strip_suffix(']')) else {
        return matches!(
            control,
            "required" | "requisite" | "sufficient" | "optional" | "include" | "substack"
        );
    };
    inner.split_whitespace().all(|kv| {
        kv.split_once('=').is_some_and(|(k, v)| {
            VALUES.contains(&k.to_ascii_lowercase().as_str())
                && (ACTIONS.contains(&v.to_ascii_lowercase().as_str()) || v.parse::<u32>().is_ok_and(|n| n > 0))
        })
    })
}
