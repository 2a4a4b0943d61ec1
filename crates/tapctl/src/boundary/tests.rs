use super::*;
use crate::cli::Cli;
use clap::CommandFactory;
use pam_tap_store::operator::Role;

/// Every command clap would run (a leaf of its tree), as its path of words.
fn leaves(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| s.get_name() != "help").collect();
    if subs.is_empty() {
        out.push((path.clone(), cmd.clone()));
    }
    for s in subs {
        path.push(s.get_name().to_string());
        leaves(s, path, out);
        path.pop();
    }
}

fn all_leaves() -> Vec<(Vec<String>, clap::Command)> {
    let mut out = Vec::new();
    leaves(&Cli::command(), &mut Vec::new(), &mut out);
    out
}

#[test]
fn every_command_clap_defines_has_exactly_one_row_and_every_row_a_command() {
    let leaves = all_leaves();
    assert!(
        leaves.len() >= 11,
        "{:?}",
        leaves.iter().map(|l| &l.0).collect::<Vec<_>>()
    );
    for (path, cmd) in &leaves {
        let rows = COMMAND_TABLE.iter().filter(|r| r.path == path.as_slice()).count();
        assert_eq!(
            rows,
            1,
            "tapctl {} has {rows} rows in the command table (crates/tapctl/src/table.rs): give it one",
            path.join(" ")
        );
        let rule = admin::rule_for(COMMAND_TABLE, path).unwrap();
        for arg in rule.root_args {
            assert!(
                cmd.get_arguments().any(|a| a.get_id() == *arg),
                "the row of tapctl {} names --{arg}, which it does not take",
                path.join(" ")
            );
        }
        assert!(!rule.why.is_empty());
    }
    for r in COMMAND_TABLE {
        assert!(
            leaves.iter().any(|(p, _)| p == r.path),
            "the command table names tapctl {}, which clap does not define",
            r.path.join(" ")
        );
    }
    let root = Cli::command();
    for arg in GLOBAL_ROOT_ARGS {
        assert!(root.get_arguments().any(|a| a.get_id() == *arg && a.is_global_set()));
    }
}

fn parse(args: &[&str], env_config: bool) -> Request {
    let cmd = Cli::command();
    let m = cmd
        .clone()
        .try_get_matches_from(std::iter::once("tapctl").chain(args.iter().copied()))
        .unwrap();
    request(&cmd, &m, env_config)
}

#[test]
fn the_request_is_the_path_and_what_the_caller_supplied_not_defaults() {
    let r = parse(&["purge"], false);
    assert_eq!(r.path, ["purge"]);
    // --older-than has a default: not supplied.
    assert!(r.supplied.is_empty(), "{:?}", r.supplied);
    let r = parse(&["purge", "--older-than", "2d", "--config", "/x"], false);
    assert_eq!(r.supplied, ["config", "older_than"]);
    let r = parse(&["--config", "/x", "doctor", "--root", "/"], false);
    assert_eq!(r.path, ["doctor"]);
    assert!(r.supplied.contains(&"root".to_string()) && r.supplied.contains(&"config".to_string()));
    assert_eq!(parse(&["list"], true).supplied, ["config"]);
}

fn alice() -> Invoker {
    Invoker::Operator {
        name: "alice".into(),
        source: "SUDO_USER".into(),
    }
}

fn as_alice(args: &[&str], env: bool, role: Role) -> Result<Admission> {
    admit(&parse(args, env), &alice(), |name| {
        Ok(Operator {
            name: name.into(),
            role,
        })
    })
}

#[test]
fn operators_get_the_system_policy_and_no_init_migrate_or_doctor() {
    let refused = |args: &[&str], env: bool| as_alice(args, env, Role::PrivilegedIssuer).unwrap_err().to_string();
    assert!(refused(&["--config", "/etc/nologin", "init"], false).contains("root's only"));
    assert!(refused(&["list"], true).contains("PAM_TAP_CONFIG"));
    assert!(refused(&["list", "--config", "/x"], false).contains("--config"));
    assert!(refused(&["init"], false).contains("init is root's only"));
    assert!(refused(&["doctor", "--root", "/"], false).contains("root's only"));
    assert!(refused(&["migrate", "--to", "postgresql://x@127.0.0.1:1/x"], false).contains("root's only"));
    as_alice(&["list"], false, Role::Viewer).unwrap();
    as_alice(&["issue", "bob"], false, Role::Issuer).unwrap();
    let e = as_alice(&["policy"], false, Role::Viewer);
    assert!(e.is_ok());
    let e = as_alice(&["purge"], false, Role::Issuer).unwrap_err().to_string();
    assert!(e.contains("privileged_issuer"), "{e}");
}

#[test]
fn root_may_name_any_config_and_run_anything() {
    for args in [
        &["--config", "/x", "init"][..],
        &["doctor", "--root", "/"],
        &["migrate", "--to", "x"],
    ] {
        let a = admit(&parse(args, true), &Invoker::Root, |_| unreachable!()).unwrap();
        assert_eq!(a.operator().role, Role::Root);
    }
}
