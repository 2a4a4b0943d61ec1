//! Key-only servers with pam_tap's key enrollment (the guide's "Key-only servers" page): the sshd block and
//! the sshd pam.d service that make a pass enroll a key and nothing else. Judged only where it is
//! set up: sshd's keys command is pam_tap_keys, or the sshd service runs `pam_tap.so enroll`.

use super::*;

const C: &str = "key-only";

pub(super) fn check_key_only(opts: &Options, out: &mut Vec<Check>) {
    let Some((source, kv)) = sshd_settings(opts) else {
        return;
    };
    let auth = stack(&opts.path("/etc/pam.d"), "sshd", "auth").unwrap_or_default();
    let found = judge_key_only(&source, &kv, &auth);
    let set_up = found.iter().any(|c| !c.message.contains("not set up"));
    out.extend(found);
    if set_up {
        out.extend(keys_config_readable(opts, &kv));
    }
}

/// The keys command reads its config (`--config FILE` on its command line, else the default) as
/// its own user: a file that user cannot read means no enrolled key ever logs in.
fn keys_config_readable(opts: &Options, kv: &[(String, String)]) -> Option<Check> {
    use std::os::unix::fs::MetadataExt;
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let words: Vec<&str> = get("authorizedkeyscommand").split_whitespace().collect();
    let config = words
        .windows(2)
        .find(|w| w[0] == "--config")
        .map_or(DEFAULT_CONFIG, |w| w[1]);
    let user = get("authorizedkeyscommanduser");
    let gid = nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .map(|u| u.gid.as_raw())?;
    let meta = std::fs::metadata(opts.path(config)).ok()?;
    let readable = meta.mode() & 0o004 != 0 || (meta.mode() & 0o040 != 0 && meta.gid() == gid);
    (!readable).then(|| {
        Check::fail(
            C,
            format!("{config} is mode {:04o}, group {}: the keys command ({user}) cannot read it, so no enrolled key logs in", meta.mode() & 0o7777, meta.gid()),
            format!("chgrp {user} {config} && chmod 640 {config} (a fleet host: give the keys command its own config, guide \"Key-only servers\")"),
        )
    })
}

fn enroll_line(l: &PamLine) -> bool {
    l.module_name() == "pam_tap.so" && l.has_arg("enroll")
}

/// The findings for sshd's effective settings `kv` (from `source`) and the sshd service's auth
/// lines; none but one "not set up" line where key enrollment is not in use.
#[cfg(test)]
#[path = "key_only_tests.rs"]
mod tests;

pub(super) fn judge_key_only(source: &str, kv: &[(String, String)], auth: &[PamLine]) -> Vec<Check> {
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let command = get("authorizedkeyscommand");
    let uses_keys_command = command.contains("pam_tap_keys");
    let uses_step = auth.iter().any(enroll_line);
    if !uses_keys_command && !uses_step {
        return vec![Check::ok(
            C,
            "key enrollment is not set up (README \"Key-only servers\")",
        )];
    }
    let mut found = Vec::new();
    let block = "the block in /usr/share/pam-tap/sshd_config.d/pam_tap_enroll.conf";
    let methods = get("authenticationmethods");
    let alone: Vec<&str> = methods
        .split_whitespace()
        .filter(|list| !list.split(',').any(|m| m.starts_with("keyboard-interactive")))
        .collect();
    if methods.is_empty() || !alone.is_empty() {
        found.push(Check::fail(
            C,
            format!(
                "AuthenticationMethods {} ({source}): a key the keys command offers for enrollment logs in without the pass",
                if methods.is_empty() { "any" } else { methods }
            ),
            format!("AuthenticationMethods publickey,keyboard-interactive:pam ({block})"),
        ));
    }
    if get("usepam") != "yes" || get("kbdinteractiveauthentication") != "yes" {
        found.push(Check::fail(
            C,
            format!("UsePAM or KbdInteractiveAuthentication is off ({source}): no login gets past the keyboard-interactive step"),
            format!("UsePAM yes and KbdInteractiveAuthentication yes ({block})"),
        ));
    }
    if get("passwordauthentication") == "yes" {
        found.push(Check::warn(
            C,
            format!("PasswordAuthentication yes ({source}): the server is not key-only"),
            "PasswordAuthentication no",
        ));
    }
    if !uses_keys_command {
        found.push(Check::fail(
            C,
            format!("AuthorizedKeysCommand is {:?} ({source}): enrolled keys never log in, and no key reaches the pass prompt", command),
            format!("AuthorizedKeysCommand /usr/sbin/pam_tap_keys %u %t %k ({block})"),
        ));
    }
    match get("authorizedkeyscommanduser") {
        "" | "none" | "root" => found.push(Check::fail(
            C,
            format!(
                "AuthorizedKeysCommandUser is {:?} ({source}): the keys command must not run as root",
                get("authorizedkeyscommanduser")
            ),
            "AuthorizedKeysCommandUser _pam_tap_keys",
        )),
        _ => {}
    }
    let others: Vec<&str> = auth
        .iter()
        .filter(|l| !enroll_line(l))
        .map(|l| l.module_name())
        .collect();
    let fix = "in /etc/pam.d/sshd, replace `@include common-auth` with `@include pam-tap-enroll`";
    if !uses_step {
        found.push(Check::fail(
            C,
            "the sshd service's auth stack does not run `pam_tap.so enroll`: no pass enrolls a key",
            fix,
        ));
    } else if !others.is_empty() {
        found.push(Check::fail(
            C,
            format!(
                "the sshd service's auth stack runs {} besides pam_tap's enrollment step: a password at the pass prompt reaches it",
                others.join(", ")
            ),
            fix,
        ));
    }
    if found.is_empty() {
        found.push(Check::ok(
            C,
            format!(
                "keys only, a key first, then pam_tap's enrollment step; keys command {command} as {} ({source})",
                get("authorizedkeyscommanduser")
            ),
        ));
    }
    found
}
