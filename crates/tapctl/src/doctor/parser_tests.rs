//! doctor's parsers and judgements over plain text: no files, no root.

use super::*;

#[test]
fn sshd_lines_read_as_sshd_reads_them() {
    let set = |k: &str, v: &str| Some(SshdLine::Setting(k.into(), v.into()));
    assert_eq!(sshd_line("  # UsePAM no"), None);
    assert_eq!(sshd_line("   "), None);
    assert_eq!(sshd_line("UsePAM yes"), set("usepam", "yes"));
    assert_eq!(sshd_line("UsePAM=yes"), set("usepam", "yes"));
    assert_eq!(
        sshd_line("\tKbdInteractiveAuthentication = no"),
        set("kbdinteractiveauthentication", "no")
    );
    assert_eq!(
        sshd_line("ChallengeResponseAuthentication yes"),
        set("kbdinteractiveauthentication", "yes")
    );
    assert_eq!(
        sshd_line("Include /etc/ssh/sshd_config.d/*.conf"),
        set("include", "/etc/ssh/sshd_config.d/*.conf")
    );
    assert_eq!(sshd_line("Match User backup"), Some(SshdLine::Match));
    assert_eq!(sshd_line("mATCH all"), Some(SshdLine::Match));
    // Keywords compare as ASCII, as sshd compares them: a Kelvin sign is not a `k`.
    assert_eq!(
        sshd_line("\u{212a}bdInteractiveAuthentication no"),
        set("\u{212a}bdinteractiveauthentication", "no")
    );
}

#[test]
fn sshd_settings_mean_what_they_say_for_a_pass() {
    let kv = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let c = judge_sshd("test", &kv(&[("usepam", "no")]));
    assert_eq!((c.status, c.message.contains("UsePAM no")), (Level::Warn, true));
    let c = judge_sshd(
        "test",
        &kv(&[("usepam", "yes"), ("kbdinteractiveauthentication", "yes")]),
    );
    assert_eq!(c.status, Level::Ok);
    let c = judge_sshd(
        "test",
        &kv(&[
            ("usepam", "yes"),
            ("kbdinteractiveauthentication", "no"),
            ("passwordauthentication", "yes"),
        ]),
    );
    assert_eq!((c.status, c.message.contains("needs a terminal")), (Level::Warn, true));
    let c = judge_sshd(
        "test",
        &kv(&[
            ("usepam", "yes"),
            ("kbdinteractiveauthentication", "yes"),
            ("authenticationmethods", "publickey"),
        ]),
    );
    assert_eq!(
        (c.status, c.message.contains("no password method")),
        (Level::Warn, true)
    );
}

#[test]
fn pam_stacks_expand_includes_over_plain_text() {
    let files = [
        (
            "sshd",
            "@include common-auth\n-auth optional pam_gnome_keyring.so\naccount include common-account\n",
        ),
        (
            "common-auth",
            "# pam_tap first\nauth [success=2 default=ignore] pam_tap.so \\\n  debug\nauth substack more-auth\n",
        ),
        (
            "more-auth",
            "auth requisite pam_deny.so # the end\npassword requisite pam_tap.so\n",
        ),
        ("common-account", "account required pam_unix.so\n"),
        ("loop", "@include loop\n"),
    ];
    let read = |name: &str| {
        files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| format!("{name}: missing"))
    };
    let auth = stack_of(&read, "sshd", "auth").unwrap();
    let shape: Vec<(&str, &str, Vec<String>)> = auth
        .iter()
        .map(|l| (l.control.as_str(), l.module_name(), l.args.clone()))
        .collect();
    assert_eq!(
        shape,
        [
            ("[success=2 default=ignore]", "pam_tap.so", vec!["debug".to_string()]),
            ("requisite", "pam_deny.so", vec![]),
            ("optional", "pam_gnome_keyring.so", vec![]),
        ]
    );
    assert_eq!(stack_of(&read, "sshd", "account").unwrap()[0].module, "pam_unix.so");
    assert!(stack_of(&read, "loop", "auth").unwrap_err().contains("too deep"));
    assert!(stack_of(&read, "gone", "auth").unwrap_err().contains("missing"));
}

#[test]
fn a_success_jump_past_the_end_skips_without_overflowing() {
    // Added to the line's index, a jump near usize::MAX wrapped (or panicked in a debug build).
    let huge = format!("[success={} default=ignore]", usize::MAX);
    assert!(success_skips(&huge, 1, 2) && success_skips(&huge, 1, 1000));
    assert!(!success_skips("[success=1 default=ignore]", 1, 3));
    let line = |control: &str, module: &str| PamLine {
        control: control.into(),
        module: module.into(),
        args: vec![],
    };
    let lines = [line("required", "pam_tap.so"), line(&huge, "pam_unix.so")];
    assert!(auth_control_fix(&lines, 0, Some(1)).starts_with("give pam_tap a success jump"));
}

#[test]
fn includes_that_fan_out_stop_at_a_bound() {
    // Each level includes the next 16 times: a million lines, had the reader followed them all.
    let names = ["sshd", "a", "b", "c", "d", "e"];
    let read = |name: &str| match names.iter().position(|n| *n == name) {
        Some(5) => Ok("auth required pam_unix.so\n".to_string()),
        Some(i) => Ok(format!("@include {}\n", names[i + 1]).repeat(16)),
        None => Err(format!("{name}: missing")),
    };
    let e = stack_of(&read, "sshd", "auth").unwrap_err();
    assert!(e.contains(&format!("more than {MAX_READS} files")), "{e}");

    let reads = std::cell::Cell::new(0);
    let read = |_: &str| {
        reads.set(reads.get() + 1);
        vec!["Include a a a a a a a a\nPasswordAuthentication no\n".to_string()]
    };
    let kv = settings_of(&read, "Include a a a a a a a a\nUsePAM yes\n");
    assert_eq!(reads.get(), MAX_INCLUDES);
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(
        (get("usepam"), get("passwordauthentication")),
        (Some("yes"), Some("no"))
    );
}
