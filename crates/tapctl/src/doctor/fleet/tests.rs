use super::*;

fn host_role() -> RoleFacts {
    RoleFacts {
        name: "host_ws0421".into(),
        schema_version: None,
        ..RoleFacts::default()
    }
}

#[test]
fn transports() {
    let t = |addr: Option<&str>, tls: Option<&str>, mode: Option<&str>| {
        judge_transport(&Transport {
            server_addr: addr.map(String::from),
            tls: tls.map(String::from),
            sslmode: mode.map(String::from),
        })
    };
    assert_eq!(t(None, None, None).status, Level::Ok);
    assert!(t(None, None, None).message.contains("Unix socket"));
    assert_eq!(t(Some("127.0.0.1"), None, None).status, Level::Ok);
    assert_eq!(t(Some("::1"), Some("TLSv1.3"), None).status, Level::Ok);
    let remote = t(Some("10.1.2.3"), Some("TLSv1.3"), Some("verify-full"));
    assert_eq!(remote.status, Level::Ok, "{}", remote.message);
    assert!(remote.message.contains("verified"));
    assert_eq!(
        t(Some("10.1.2.3"), Some("TLSv1.3"), Some("verify-ca")).status,
        Level::Warn
    );
    assert_eq!(t(Some("10.1.2.3"), None, Some("disable")).status, Level::Fail);
}

#[test]
fn a_role_that_can_write_passes_fails_where_the_module_uses_it() {
    assert_eq!(judge_role(&host_role(), true).status, Level::Ok);
    let admin = RoleFacts {
        name: "tapctl".into(),
        admin_member: true,
        table_privileges: vec!["INSERT on passes".into(), "SELECT on passes".into()],
        ..host_role()
    };
    let wired = judge_role(&admin, true);
    assert_eq!(wired.status, Level::Fail);
    assert!(
        wired.message.contains("INSERT on passes (and 1 more") && wired.message.contains("mint"),
        "{}",
        wired.message
    );
    let admin_host = judge_role(&admin, false);
    assert_eq!(admin_host.status, Level::Ok);
    assert!(admin_host.message.contains("admin role"));
    // Any table privilege counts, not only INSERT.
    let reader = RoleFacts {
        table_privileges: vec!["SELECT on audit".into()],
        ..host_role()
    };
    assert_eq!(judge_role(&reader, true).status, Level::Fail);
}

#[test]
fn superusers_missing_functions_and_old_schemas_fail() {
    let su = RoleFacts {
        superuser: true,
        ..host_role()
    };
    assert_eq!(judge_role(&su, false).status, Level::Fail);
    let lost = RoleFacts {
        missing_functions: vec!["pam_tap.host_accept".into()],
        ..host_role()
    };
    let j = judge_role(&lost, true);
    assert_eq!(j.status, Level::Fail);
    assert!(j.fix.unwrap().contains("GRANT pam_tap_host TO host_ws0421"));
    let old = RoleFacts {
        schema_version: Some(0),
        ..host_role()
    };
    let current = RoleFacts {
        schema_version: Some(schema::SCHEMA_VERSION),
        ..host_role()
    };
    assert_eq!(judge_role(&current, true).status, Level::Ok);
    assert!(judge_role(&old, true).fix.unwrap().contains("tapctl init"));
}

#[test]
fn a_host_role_must_be_bound_to_this_hosts_name() {
    let unbound = judge_binding(&host_role(), "ws-0421").unwrap();
    assert_eq!(unbound.status, Level::Fail);
    assert!(unbound.fix.unwrap().contains("tapctl hosts bind host_ws0421 ws-0421"));
    let bound = |h: &str| RoleFacts {
        bound_to: Some(h.into()),
        ..host_role()
    };
    assert_eq!(judge_binding(&bound("WS-0421"), "ws-0421").unwrap().status, Level::Ok);
    let other = judge_binding(&bound("ws-0999"), "ws-0421").unwrap();
    assert_eq!(other.status, Level::Fail);
    assert!(other.message.contains("acts for ws-0999"), "{}", other.message);
    let admin = RoleFacts {
        admin_member: true,
        ..host_role()
    };
    assert!(judge_binding(&admin, "ws-0421").is_none());
}
