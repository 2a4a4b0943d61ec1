use super::*;

const TABLE: &[CommandRule] = &[
    CommandRule {
        path: &["list"],
        least: Role::Viewer,
        root_args: &[],
        why: "",
    },
    CommandRule {
        path: &["issue"],
        least: Role::Issuer,
        root_args: &[],
        why: "",
    },
    CommandRule {
        path: &["purge"],
        least: Role::PrivilegedIssuer,
        root_args: &[],
        why: "",
    },
    CommandRule {
        path: &["doctor"],
        least: Role::Root,
        root_args: &["root"],
        why: "",
    },
    CommandRule {
        path: &["hosts", "list"],
        least: Role::Viewer,
        root_args: &["json"],
        why: "",
    },
];

fn req(path: &[&str], supplied: &[&str]) -> Request {
    Request {
        path: path.iter().map(|s| s.to_string()).collect(),
        supplied: supplied.iter().map(|s| s.to_string()).collect(),
    }
}

fn operator(name: &str) -> Option<&str> {
    Some(name)
}

/// `admit` as `name` holding `role`; counts whether the role was looked up.
fn as_role(path: &[&str], supplied: &[&str], role: Option<Role>, asked: &mut bool) -> Result<Admission> {
    admit(TABLE, &["config"], &req(path, supplied), operator("ann"), |name| {
        *asked = true;
        role.map(|role| Operator {
            name: name.into(),
            role,
        })
        .ok_or_else(|| Error::Refused(format!("{name} holds no tapctl role")))
    })
}

#[test]
fn each_role_runs_what_its_rule_allows_and_nothing_above() {
    use Role::*;
    for (path, allowed) in [
        (&["list"][..], &[Viewer, Issuer, PrivilegedIssuer][..]),
        (&["issue"], &[Issuer, PrivilegedIssuer]),
        (&["purge"], &[PrivilegedIssuer]),
        (&["hosts", "list"], &[Viewer, Issuer, PrivilegedIssuer]),
    ] {
        for role in [Viewer, Issuer, PrivilegedIssuer] {
            let mut asked = false;
            let got = as_role(path, &[], Some(role), &mut asked);
            assert_eq!(got.is_ok(), allowed.contains(&role), "{path:?} as {role:?}: {got:?}");
            if let Err(e) = got {
                assert!(e.to_string().contains("needs the"), "{e}");
            }
        }
    }
}

#[test]
fn a_command_the_table_does_not_name_is_roots_alone_and_no_role_is_looked_up() {
    for path in [&["doctor"][..], &["migrate"], &["hosts"], &["hosts", "bind"], &[]] {
        let mut asked = false;
        let e = as_role(path, &[], Some(Role::PrivilegedIssuer), &mut asked).unwrap_err();
        assert!(e.to_string().contains("root's only"), "{path:?}: {e}");
        assert!(
            !asked,
            "{path:?}: the policy was read for a command no operator may run"
        );
        let root = admit(TABLE, &["config"], &req(path, &[]), None, |_| unreachable!()).unwrap();
        assert_eq!(root.operator().role, Role::Root);
        assert_eq!(root.operator().name, "root");
    }
}

#[test]
fn root_only_arguments_are_refused_before_the_role_is_looked_up() {
    for (path, arg) in [
        (&["list"][..], "config"),
        (&["hosts", "list"], "json"),
        (&["hosts", "list"], "config"),
    ] {
        let mut asked = false;
        let e = as_role(path, &[arg], Some(Role::PrivilegedIssuer), &mut asked).unwrap_err();
        assert!(e.to_string().contains("root's only"), "{path:?} {arg}: {e}");
        assert!(!asked);
    }
    // Another command's root-only argument is not this one's.
    let mut asked = false;
    as_role(&["list"], &["json"], Some(Role::Viewer), &mut asked).unwrap();
    let root = admit(
        TABLE,
        &["config"],
        &req(&["list"], &["config"]),
        None,
        |_| unreachable!(),
    );
    assert!(root.is_ok());
}

#[test]
fn no_role_is_refused_with_the_lookups_answer() {
    let mut asked = false;
    let e = as_role(&["list"], &[], None, &mut asked).unwrap_err();
    assert!(asked);
    assert!(e.to_string().contains("holds no tapctl role"), "{e}");
}

#[test]
fn the_admission_names_the_command_and_the_operator() {
    let mut asked = false;
    let a = as_role(&["hosts", "list"], &[], Some(Role::Issuer), &mut asked).unwrap();
    assert_eq!(a.command(), "hosts list");
    assert_eq!(a.operator().name, "ann");
    assert_eq!(a.operator().role, Role::Issuer);
}

#[test]
fn may_run_tells_each_role_what_admit_decides() {
    let paths: &[&[&str]] = &[
        &["list"],
        &["issue"],
        &["purge"],
        &["doctor"],
        &["hosts", "list"],
        &["nope"],
    ];
    for path in paths {
        for role in Role::all().filter(|r| *r != Role::Root) {
            let admitted = as_role(path, &[], Some(role), &mut false).is_ok();
            assert_eq!(may_run(TABLE, path, role), admitted, "{path:?} as {role:?}");
        }
        assert!(may_run(TABLE, path, Role::Root), "root runs {path:?}");
    }
}
