//! The PAM stacks: where pam_tap sits in each service that matters (the text is read in
//! `pam_text.rs`).

use super::*;

/// The `kind` lines of a service, with `@include`, `include` and `substack` expanded.
pub(super) fn stack(pam_dir: &Path, service: &str, kind: &str) -> Result<Vec<PamLine>, String> {
    let read = |name: &str| {
        let path = pam_dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    stack_of(&read, service, kind)
}

/// Findings for one stack (`auth` or `password`) of one service: (level, text, fix).
pub(super) fn judge_stack(lines: &[PamLine], kind: &str, opts: &Options) -> Vec<(Level, String, Option<String>)> {
    let mut found = Vec::new();
    let tap = lines.iter().position(|l| l.module_name() == "pam_tap.so");
    let unix = lines.iter().position(|l| l.module_name() == "pam_unix.so");
    let Some(t) = tap else {
        return found;
    };
    let line = &lines[t];
    let reads = line.arg_value("config").unwrap_or(DEFAULT_CONFIG);
    if opts.path(reads) != opts.config {
        found.push((
            Level::Warn,
            format!("{kind}: pam_tap reads {reads}, not the file checked here"),
            Some(format!("tapctl --config {reads} doctor")),
        ));
    }
    match unix {
        Some(u) if u < t => found.push((
            Level::Fail,
            format!("{kind}: pam_unix comes before pam_tap, so pam_unix decides alone"),
            Some(
                "put pam_tap before pam_unix: pam-auth-update --enable pam-tap (Debian) or edit the authselect profile"
                    .into(),
            ),
        )),
        Some(u) => {
            let unix_line = &lines[u];
            if kind == "auth" && !(unix_line.has_arg("try_first_pass") || unix_line.has_arg("use_first_pass")) {
                found.push((
                    Level::Warn,
                    "auth: pam_unix lacks try_first_pass: users are asked for their password twice".into(),
                    Some("add try_first_pass to the pam_unix auth line (pam-auth-update does it)".into()),
                ));
            }
            if kind == "password" {
                if !unix_line.has_arg("use_authtok") {
                    found.push((
                        Level::Warn,
                        "password: pam_unix lacks use_authtok: the new password is asked for twice".into(),
                        Some("add use_authtok to the pam_unix password line (pam-auth-update does it)".into()),
                    ));
                }
                if success_skips(&line.control, t, u) {
                    found.push((
                        Level::Fail,
                        format!(
                            "password: pam_tap's control {} skips pam_unix: the new password is never written",
                            line.control
                        ),
                        Some("use `password requisite pam_tap.so`".into()),
                    ));
                }
            }
        }
        None => {}
    }
    if kind == "auth" && matches!(line.control.as_str(), "required" | "requisite") {
        found.push((
            Level::Fail,
            format!(
                "auth: pam_tap is {}: every user without a pass is refused",
                line.control
            ),
            Some(auth_control_fix(lines, t, unix)),
        ));
    }
    if !control_is_valid(&line.control) {
        found.push((
            Level::Fail,
            format!(
                "{kind}: pam_tap's control {} is not valid pam.d syntax: libpam fails every login through it",
                line.control
            ),
            Some(if kind == "auth" {
                auth_control_fix(lines, t, unix)
            } else {
                "use `password requisite pam_tap.so`".into()
            }),
        ));
    }
    found
}

pub(super) fn check_pam(opts: &Options, policy: Option<&Policy>, out: &mut Vec<Check>) {
    let pam_dir = opts.path("/etc/pam.d");
    let mut results = Vec::new();
    let mut wired_anywhere = false;
    for service in SERVICES {
        if !pam_dir.join(service).exists() {
            continue;
        }
        let auth = stack(&pam_dir, service, "auth");
        let password = stack(&pam_dir, service, "password");
        let (auth, password) = match (auth, password) {
            (Ok(a), Ok(p)) => (a, p),
            (Err(e), _) | (_, Err(e)) => {
                results.push(Check::fail(
                    &format!("pam.d/{service}"),
                    e,
                    "repair the file or the include it names",
                ));
                continue;
            }
        };
        let has = |l: &[PamLine]| l.iter().any(|x| x.module_name() == "pam_tap.so");
        let (in_auth, in_password) = (has(&auth), has(&password));
        wired_anywhere |= in_auth || in_password;
        results.push(judge_service(service, &auth, &password, in_auth, in_password, opts));
    }
    // Without a readable policy pam_tap refuses every pass, so an unwired stack is no extra harm.
    let enabled = policy.is_some_and(|p| p.enabled);
    if results.is_empty() {
        out.push(Check::warn(
            "pam.d",
            format!("none of {} exists under {}", SERVICES.join(", "), pam_dir.display()),
            "wire pam_tap by hand before pam_unix in auth and password (man pam_tap)",
        ));
        return;
    }
    if !wired_anywhere {
        let fix = "pam-auth-update --enable pam-tap (Debian) or the authselect recipe (Fedora)";
        out.push(if enabled {
            Check::warn(
                "pam.d",
                "pam_tap is enabled in the config but in no PAM stack: passes are never asked for",
                fix,
            )
        } else {
            Check::ok("pam.d", "pam_tap is in no PAM stack yet (passes are off in any case)")
        });
        return;
    }
    out.extend(results);
}

pub(super) fn judge_service(
    service: &str,
    auth: &[PamLine],
    password: &[PamLine],
    in_auth: bool,
    in_password: bool,
    opts: &Options,
) -> Check {
    let name = format!("pam.d/{service}");
    let mut findings = judge_stack(auth, "auth", opts);
    findings.extend(judge_stack(password, "password", opts));
    if in_auth && !in_password && !password.is_empty() {
        findings.push((
            Level::Fail,
            "password: no pam_tap, so a user who logs in with a pass is asked for a current password they do not have"
                .into(),
            Some("add `password requisite pam_tap.so` before pam_unix (pam-auth-update --enable pam-tap)".into()),
        ));
    }
    if !in_auth && !auth.is_empty() {
        findings.push((
            Level::Warn,
            "auth: no pam_tap: passes do not log in through this service".into(),
            Some("pam-auth-update --enable pam-tap, or add pam_tap before pam_unix in its auth stack".into()),
        ));
    }
    // Worst first; the fix shown is the worst finding's.
    findings.sort_by_key(|f| std::cmp::Reverse(f.0));
    if let Some((worst, _, fix)) = findings.first().cloned() {
        let msg: Vec<String> = findings.into_iter().map(|f| f.1).collect();
        return Check::new(&name, worst, msg.join("; "), fix);
    }
    let mut parts = Vec::new();
    if in_auth {
        parts.push("auth: pam_tap before pam_unix");
    }
    if in_password {
        parts.push("password: pam_tap before pam_unix");
    }
    if in_auth && password.is_empty() && !service.starts_with("common-") {
        parts.push("no password lines of its own");
    }
    Check::ok(&name, parts.join("; "))
}
