use super::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// sshd's settings from the shipped block alone, with the pam.d include shipped beside it.
fn shipped() -> (Vec<(String, String)>, Vec<PamLine>) {
    let block = std::fs::read_to_string(root().join("packaging/key-only/pam_tap_enroll.conf")).unwrap();
    let kv = settings_of(&|_| vec![], &block);
    let include = std::fs::read_to_string(root().join("packaging/key-only/pam-tap-enroll")).unwrap();
    let sshd = "@include pam-tap-enroll\naccount required pam_nologin.so\n@include common-account\n";
    let read = |name: &str| match name {
        "sshd" => Ok(sshd.to_string()),
        "pam-tap-enroll" => Ok(include.clone()),
        _ => Ok(String::new()),
    };
    (kv, stack_of(&read, "sshd", "auth").unwrap())
}

fn set(kv: &mut Vec<(String, String)>, k: &str, v: &str) {
    kv.retain(|(key, _)| key != k);
    kv.push((k.into(), v.into()));
}

fn levels(found: &[Check]) -> Vec<Level> {
    found.iter().map(|c| c.status).collect()
}

#[test]
fn the_shipped_block_and_include_are_what_doctor_wants() {
    let (kv, auth) = shipped();
    let found = judge_key_only("shipped", &kv, &auth);
    assert_eq!(levels(&found), [Level::Ok], "{found:?}");
    assert!(found[0].message.contains("_pam_tap_keys"), "{found:?}");
}

#[test]
fn a_server_without_key_enrollment_gets_one_quiet_line() {
    let kv = vec![("usepam".to_string(), "yes".to_string())];
    let found = judge_key_only("x", &kv, &[]);
    assert_eq!(levels(&found), [Level::Ok]);
    assert!(found[0].message.contains("not set up"));
}

#[test]
fn a_method_list_without_keyboard_interactive_fails_it_lets_offered_keys_in() {
    let (mut kv, auth) = shipped();
    for methods in ["publickey publickey,keyboard-interactive:pam", "any", "publickey"] {
        set(&mut kv, "authenticationmethods", methods);
        let found = judge_key_only("x", &kv, &auth);
        assert!(
            found
                .iter()
                .any(|c| c.status == Level::Fail && c.message.contains("without the pass")),
            "{methods}: {found:?}"
        );
    }
}

#[test]
fn a_password_module_in_the_stack_the_root_keys_user_and_a_missing_command_fail() {
    let (kv, mut auth) = shipped();
    auth.push(PamLine {
        control: "[success=1 default=ignore]".into(),
        module: "pam_unix.so".into(),
        args: vec![],
    });
    let found = judge_key_only("x", &kv, &auth);
    assert!(
        found
            .iter()
            .any(|c| c.status == Level::Fail && c.message.contains("pam_unix.so")),
        "{found:?}"
    );

    let (mut kv, auth) = shipped();
    set(&mut kv, "authorizedkeyscommanduser", "root");
    let found = judge_key_only("x", &kv, &auth);
    assert!(
        found
            .iter()
            .any(|c| c.status == Level::Fail && c.message.contains("not run as root")),
        "{found:?}"
    );

    let (mut kv, auth) = shipped();
    set(&mut kv, "authorizedkeyscommand", "none");
    let found = judge_key_only("x", &kv, &auth);
    assert!(
        found
            .iter()
            .any(|c| c.status == Level::Fail && c.message.contains("never log in")),
        "{found:?}"
    );

    let (mut kv, _) = shipped();
    set(&mut kv, "passwordauthentication", "yes");
    let found = judge_key_only("x", &kv, &[]);
    assert!(
        found
            .iter()
            .any(|c| c.status == Level::Warn && c.message.contains("not key-only")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|c| c.status == Level::Fail && c.message.contains("does not run")),
        "{found:?}"
    );
}
