//! The one command table through the real binary. Every command tapctl defines runs as each of
//! root, a privileged issuer, an issuer, a viewer and a user with no role (operators as sudo leaves
//! them), under strace. Where the table refuses, the refusal comes before any side effect: no open,
//! stat or access of anything the operator named or of the store, no connection but to the name
//! service's or syslog's socket, no child process, the store's bytes unchanged and the test's
//! listener never reached. Where it admits, the command runs (its own answer, never the table's).

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use pam_tap_store::operator::Role;

use crate::common::RealSudo;
use crate::support::accounts::Group;
use crate::support::accounts::User;
use crate::support::site::{stderr, Site};

/// tapctl's command line and table, the very ones the binary runs.
use tapctl::{cli, table};

/// The least role each command needs, pinned here apart from the table: who may run a command
/// changes only when both change.
const PINNED: &[(&str, Role)] = &[
    ("init", Role::Root),
    ("issue", Role::Issuer),
    ("list", Role::Viewer),
    ("show", Role::Viewer),
    ("revoke", Role::Issuer),
    ("unlock", Role::Issuer),
    ("purge", Role::PrivilegedIssuer),
    ("log", Role::Viewer),
    ("migrate", Role::Root),
    ("hosts list", Role::Viewer),
    ("hosts bind", Role::Root),
    ("hosts unbind", Role::Root),
    ("policy", Role::Viewer),
    ("doctor", Role::Root),
];

/// Phrases only the command table's refusals use.
const TABLE_REFUSALS: [&str; 2] = ["root's only", "role or above"];

fn clap_leaves() -> Vec<String> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<String>) {
        let subs: Vec<_> = cmd.get_subcommands().filter(|s| s.get_name() != "help").collect();
        if subs.is_empty() {
            out.push(path.join(" "));
        }
        for s in subs {
            path.push(s.get_name().into());
            walk(s, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(
        &<cli::Cli as clap::CommandFactory>::command(),
        &mut Vec::new(),
        &mut out,
    );
    out
}

#[test]
fn the_table_is_the_pinned_one_and_names_every_command() {
    let mut leaves = clap_leaves();
    leaves.sort();
    let mut pinned: Vec<String> = PINNED.iter().map(|(p, _)| p.to_string()).collect();
    pinned.sort();
    assert_eq!(
        leaves, pinned,
        "a command was added or removed: pin its least role here"
    );
    for (path, least) in PINNED {
        let words: Vec<String> = path.split(' ').map(String::from).collect();
        assert_eq!(
            pam_tap_store::admin::least_role(table::COMMAND_TABLE, &words),
            *least,
            "tapctl {path}"
        );
    }
}

/// Who runs a command in this test.
struct Caller {
    label: &'static str,
    role: Role,
    /// `None`: root itself.
    user: Option<User>,
}

/// What a refused run must not have touched.
struct Sentinels {
    _dir: tempfile::TempDir,
    csv: PathBuf,
    tree: PathBuf,
    config: PathBuf,
    listener: TcpListener,
}

impl Sentinels {
    fn new() -> Sentinels {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let csv = dir.path().join("sentinel-rows.csv");
        std::fs::write(&csv, "nobody\n").unwrap();
        std::fs::set_permissions(&csv, std::fs::Permissions::from_mode(0o644)).unwrap();
        let tree = dir.path().join("sentinel-tree");
        std::fs::create_dir(&tree).unwrap();
        let config = dir.path().join("sentinel-config.toml");
        std::fs::write(&config, "enabled = true\n").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Sentinels {
            _dir: dir,
            csv,
            tree,
            config,
            listener,
        }
    }

    /// Connections made to the listener since the last call.
    fn connections(&self) -> usize {
        let mut n = 0;
        while self.listener.accept().is_ok() {
            n += 1;
        }
        n
    }

    fn uri(&self) -> String {
        let port = self.listener.local_addr().unwrap().port();
        format!("postgresql://sentinel@127.0.0.1:{port}/sentinel?connect_timeout=1")
    }
}

/// A sample command line for each command, with arguments that name the sentinels.
fn samples(s: &Sentinels, target: &str) -> Vec<(&'static str, Vec<String>)> {
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (csv, tree) = (s.csv.to_str().unwrap(), s.tree.to_str().unwrap());
    vec![
        ("init", v(&["init"])),
        ("issue", v(&["issue", target, "--keep-password"])),
        ("issue", v(&["issue", "--csv", csv])),
        ("list", v(&["list"])),
        ("show", v(&["show", target])),
        ("revoke", v(&["revoke", target])),
        ("unlock", v(&["unlock", target])),
        ("purge", v(&["purge"])),
        ("log", v(&["log"])),
        ("migrate", v(&["migrate", "--to", &s.uri()])),
        ("hosts list", v(&["hosts", "list"])),
        ("hosts bind", v(&["hosts", "bind", "sentinel_role", "sentinel-host"])),
        ("hosts unbind", v(&["hosts", "unbind", "sentinel_role"])),
        ("policy", v(&["policy", "--json"])),
        ("doctor", v(&["doctor", "--root", tree])),
    ]
}

/// The store's files and their bytes.
fn store_bytes(site: &Site) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = site.db.parent().unwrap();
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let mut b = Vec::new();
            std::fs::File::open(&p).unwrap().read_to_end(&mut b).unwrap();
            (p, b)
        })
        .collect();
    files.sort();
    files
}

fn traced(site: &Site, caller: &Caller, args: &[String], trace: &Path) -> Output {
    let via = [
        "strace",
        "-f",
        "-qq",
        "-s",
        "256",
        "-e",
        "trace=%file,%network,%process",
        "-o",
        trace.to_str().unwrap(),
    ]
    .map(std::ffi::OsStr::new);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = caller
        .user
        .as_ref()
        .map(|u| vec![("SUDO_USER", u.name.as_str())])
        .unwrap_or_default();
    site.tapctl_cmd_via(&via, &args, &env, None).output().unwrap()
}

/// What the trace of a refused run shows that it must not: anything named, the store, a child, a
/// connection other than the name service's or syslog's.
fn side_effects(trace: &str, forbidden: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut execs = 0;
    for line in trace.lines() {
        let call = line.split_once(' ').map_or(line, |(_, rest)| rest.trim_start());
        // tapctl's own execve carries its arguments, sentinels included: counted, not searched.
        if call.starts_with("execve(") {
            execs += 1;
            continue;
        }
        if let Some(f) = forbidden.iter().find(|f| line.contains(**f)) {
            bad.push(format!("touched {f}: {line}"));
        }
        if ["clone(", "clone3(", "fork(", "vfork("]
            .iter()
            .any(|c| call.starts_with(c))
        {
            bad.push(format!("a child process: {line}"));
        }
        let local_socket = ["/dev/log", "/run/nscd/socket", "/var/run/nscd/socket"]
            .iter()
            .any(|p| line.contains(p));
        if call.starts_with("connect(") && !local_socket {
            bad.push(format!("a connection: {line}"));
        }
    }
    if execs != 1 {
        bad.push(format!("{execs} execve calls (tapctl's own is the only one allowed)"));
    }
    bad
}

#[test]
fn every_command_as_each_role_is_refused_before_any_side_effect_or_runs() {
    require_root!();
    assert!(
        std::process::Command::new("strace").arg("-V").output().is_ok(),
        "strace is not installed (the Makefile's deps install it)"
    );
    let (privileged, issuers, viewers) = (Group::new(), Group::new(), Group::new());
    let site = Site::new(&format!(
        "[roles]\nprivileged_issuers = [\"{}\"]\nissuers = [\"{}\"]\nviewers = [\"{}\"]\n",
        privileged.name, issuers.name, viewers.name
    ));
    let member = |g: &Group| {
        let u = User::new();
        u.add_group(&g.name);
        Some(u)
    };
    let callers = [
        Caller {
            label: "root",
            role: Role::Root,
            user: None,
        },
        Caller {
            label: "privileged_issuer",
            role: Role::PrivilegedIssuer,
            user: member(&privileged),
        },
        Caller {
            label: "issuer",
            role: Role::Issuer,
            user: member(&issuers),
        },
        Caller {
            label: "viewer",
            role: Role::Viewer,
            user: member(&viewers),
        },
        Caller {
            label: "no role",
            role: Role::Viewer,
            user: Some(User::new()),
        },
    ];
    let target = User::with_password("Target-old-pw-1");
    let s = Sentinels::new();
    let mut cases = samples(&s, &target.name);
    // The root-only argument every command has: another policy file.
    let config = s.config.to_str().unwrap().to_string();
    cases.push(("list", vec!["--config".into(), config.clone(), "list".into()]));
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|(p, _)| *p).collect();
    assert_eq!(covered.len(), PINNED.len(), "every command has a sample");

    let work = tempfile::tempdir().unwrap();
    let db_dir = site.db.parent().unwrap().to_str().unwrap().to_string();
    let forbidden = [
        s.csv.to_str().unwrap(),
        s.tree.to_str().unwrap(),
        config.as_str(),
        db_dir.as_str(),
    ];
    let (mut refusals, mut runs, mut matrix) = (0, 0, Vec::new());
    for (n, (path, args)) in cases.iter().enumerate() {
        let least = PINNED.iter().find(|(p, _)| p == path).unwrap().1;
        let names_config = args.first().is_some_and(|a| a == "--config");
        let shown = match names_config {
            true => "list --config FILE".to_string(),
            false => args[..args.len().min(2)].join(" ").replace(&target.name, "USER"),
        };
        let mut row = format!("{shown:<20}");
        for (i, c) in callers.iter().enumerate() {
            if c.user.is_none() && names_config {
                row.push_str(&format!(" {:>17}", "-"));
                continue;
            }
            let no_role = c.label == "no role";
            let admitted = c.user.is_none() || (!no_role && !names_config && c.role >= least);
            let trace = work.path().join(format!("trace-{n}-{i}"));
            let before = store_bytes(&site);
            let out = traced(&site, c, args, &trace);
            let err = stderr(&out);
            if admitted {
                assert!(
                    !TABLE_REFUSALS.iter().any(|p| err.contains(p)),
                    "tapctl {args:?} as {}: refused by the table: {err}",
                    c.label
                );
                runs += 1;
                s.connections();
                row.push_str(&format!(" {:>17}", "runs"));
                continue;
            }
            assert_eq!(out.status.code(), Some(1), "tapctl {args:?} as {}: {err}", c.label);
            assert_eq!(err.lines().count(), 1, "{err}");
            let why = if no_role { "holds no tapctl role" } else { "" };
            assert!(
                TABLE_REFUSALS.iter().any(|p| err.contains(p)) || (no_role && err.contains(why)),
                "tapctl {args:?} as {}: {err}",
                c.label
            );
            let text = std::fs::read_to_string(&trace).unwrap();
            let bad = side_effects(&text, &forbidden);
            assert!(bad.is_empty(), "tapctl {args:?} as {}: {bad:#?}", c.label);
            assert_eq!(s.connections(), 0, "tapctl {args:?} as {} connected", c.label);
            assert!(
                store_bytes(&site) == before,
                "tapctl {args:?} as {} wrote the store",
                c.label
            );
            refusals += 1;
            row.push_str(&format!(" {:>17}", "refused"));
        }
        matrix.push(row);
    }
    let header = format!(
        "{:<20}{}",
        "command",
        callers.iter().map(|c| format!(" {:>17}", c.label)).collect::<String>()
    );
    let table = format!("{header}\n{}\n", matrix.join("\n"));
    let figures = crate::support::paths::target_dir().join("command-table.txt");
    std::fs::write(&figures, &table).unwrap();
    println!("{table}");
    println!(
        "FIGURE command_table: commands={} cases={} roles={} refused_before_side_effects={refusals} ran={runs}",
        PINNED.len(),
        cases.len(),
        callers.len()
    );
}

#[test]
fn a_sample_through_the_real_sudo() {
    require_root!();
    let (issuers, viewers) = (Group::new(), Group::new());
    let site = Site::new(&format!(
        "[roles]\nissuers = [\"{}\"]\nviewers = [\"{}\"]\n",
        issuers.name, viewers.name
    ));
    let (issuer, viewer, no_role) = (User::new(), User::new(), User::new());
    issuer.add_group(&issuers.name);
    viewer.add_group(&viewers.name);
    let everyone = Group::new();
    for u in [&issuer, &viewer, &no_role] {
        u.add_group(&everyone.name);
    }
    let Some(sudo) = RealSudo::new(&site, &[everyone.name.as_str()]) else {
        panic!("sudo is not installed (the Makefile's deps install it)");
    };
    let s = Sentinels::new();
    for (who, args, needle) in [
        (&viewer, vec!["migrate", "--to", &s.uri()], "migrate is root's only"),
        (&issuer, vec!["purge"], "needs the privileged_issuer role"),
        (&no_role, vec!["policy", "--json"], "holds no tapctl role"),
        (&viewer, vec!["revoke", "nobody"], "needs the issuer role"),
    ] {
        let o = sudo.tapctl(&who.name, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let lines = RealSudo::tapctl_lines(&o);
        assert_eq!(lines.len(), 1, "{}", stderr(&o));
        assert!(lines[0].contains(needle) && lines[0].contains(&who.name), "{lines:?}");
        assert!(o.stdout.is_empty());
    }
    assert_eq!(s.connections(), 0, "the viewer's migrate reached the listener");
    let o = sudo.tapctl(&viewer.name, &["policy", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn the_readme_shows_the_table_generated_from_the_code() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let (begin, end) = ("<!-- command-table:begin -->\n", "<!-- command-table:end -->");
    let start = readme.find(begin).expect("README.md has the command-table markers") + begin.len();
    let stop = readme[start..]
        .find(end)
        .expect("README.md closes the command-table markers")
        + start;
    let want = pam_tap_store::admin::table_markdown(table::COMMAND_TABLE, table::GLOBAL_ROOT_ARGS);
    if std::env::var_os("BLESS").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        std::fs::write(path, format!("{}{want}{}", &readme[..start], &readme[stop..])).unwrap();
        return;
    }
    assert!(
        readme[start..stop] == want,
        "README.md's command table is not the code's: put this between the markers\n{want}"
    );
}
