//! Every command tapctl defines, as root, a privileged issuer, an issuer, a viewer and a user with
//! no role (operators as sudo leaves them), under strace: refused by the table before any side
//! effect, or run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::*;

/// Who runs a command in this test.
struct Caller {
    label: &'static str,
    role: Role,
    /// `None`: root itself.
    user: Option<User>,
}

/// A key fingerprint no key has.
const FINGERPRINT: &str = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

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
        ("status", v(&["status", target, "--json"])),
        ("revoke", v(&["revoke", target])),
        ("unlock", v(&["unlock", target])),
        ("purge", v(&["purge"])),
        ("log", v(&["log"])),
        ("migrate", v(&["migrate", "--to", &s.uri()])),
        ("hosts list", v(&["hosts", "list"])),
        ("hosts bind", v(&["hosts", "bind", "sentinel_role", "sentinel-host"])),
        ("hosts unbind", v(&["hosts", "unbind", "sentinel_role"])),
        ("keys list", v(&["keys", "list", "--json"])),
        ("keys revoke", v(&["keys", "revoke", target, FINGERPRINT])),
        ("policy", v(&["policy", "--json"])),
        ("vocabulary", v(&["vocabulary", "--json"])),
        ("doctor", v(&["doctor", "--root", tree])),
        ("approve", v(&["approve", "1"])),
        ("deny", v(&["deny", "1", "--reason", "sentinel"])),
        ("collect", v(&["collect", "1"])),
        ("requests", v(&["requests", "--json"])),
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

/// One run's place in the matrix.
enum Cell {
    /// Not tried: root naming another config is no operator's case.
    Skipped,
    Runs,
    Refused,
}

impl Cell {
    fn shown(&self) -> String {
        let word = match self {
            Cell::Skipped => "-",
            Cell::Runs => "runs",
            Cell::Refused => "refused",
        };
        format!(" {word:>17}")
    }
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
    let callers = callers(&privileged, &issuers, &viewers);
    let target = User::with_password("Target-old-pw-1");
    let s = Sentinels::new();
    let cases = cases(&s, &target.name);
    let work = tempfile::tempdir().unwrap();
    let db_dir = site.db.parent().unwrap().to_str().unwrap().to_string();
    let forbidden = [
        s.csv.to_str().unwrap(),
        s.tree.to_str().unwrap(),
        s.config.to_str().unwrap(),
        db_dir.as_str(),
    ];
    let run = Run {
        site: &site,
        sentinels: &s,
        forbidden: &forbidden,
    };
    let mut matrix = Vec::new();
    let mut cells = vec![];
    for (n, (path, args)) in cases.iter().enumerate() {
        let least = PINNED.iter().find(|(p, _)| p == path).unwrap().1;
        let mut row = format!("{:<20}", shown(args, &target.name));
        for (i, c) in callers.iter().enumerate() {
            let cell = run.as_caller(c, args, least, &work.path().join(format!("trace-{n}-{i}")));
            row.push_str(&cell.shown());
            cells.push(cell);
        }
        matrix.push(row);
    }
    let count = |want: fn(&Cell) -> bool| cells.iter().filter(|c| want(c)).count();
    let (refusals, runs) = (
        count(|c| matches!(c, Cell::Refused)),
        count(|c| matches!(c, Cell::Runs)),
    );
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

/// Root, a member of each role's group, and a user with no role.
fn callers(privileged: &Group, issuers: &Group, viewers: &Group) -> [Caller; 5] {
    let member = |g: &Group| {
        let u = User::new();
        u.add_group(&g.name);
        Some(u)
    };
    [
        Caller {
            label: "root",
            role: Role::Root,
            user: None,
        },
        Caller {
            label: "privileged_issuer",
            role: Role::PrivilegedIssuer,
            user: member(privileged),
        },
        Caller {
            label: "issuer",
            role: Role::Issuer,
            user: member(issuers),
        },
        Caller {
            label: "viewer",
            role: Role::Viewer,
            user: member(viewers),
        },
        Caller {
            label: "no role",
            role: Role::Viewer,
            user: Some(User::new()),
        },
    ]
}

/// Every command's sample, plus the root-only argument every command has (another policy
/// file); every command is covered.
fn cases(s: &Sentinels, target: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut cases = samples(s, target);
    let config = s.config.to_str().unwrap().to_string();
    cases.push(("list", vec!["--config".into(), config, "list".into()]));
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|(p, _)| *p).collect();
    assert_eq!(covered.len(), PINNED.len(), "every command has a sample");
    cases
}

/// A case as the matrix shows it (the target's name as USER).
fn shown(args: &[String], target: &str) -> String {
    match args.first().is_some_and(|a| a == "--config") {
        true => "list --config FILE".to_string(),
        false => args[..args.len().min(2)].join(" ").replace(target, "USER"),
    }
}

/// The runs of the matrix: one site, its sentinels, and what a refused run may not touch.
struct Run<'a> {
    site: &'a Site,
    sentinels: &'a Sentinels,
    forbidden: &'a [&'a str],
}

impl Run<'_> {
    /// `args` as caller `c`, traced into `trace`. Admitted (root, or a role at or above `least`,
    /// naming no config): the table did not refuse it. Otherwise: one refusal line of the table's
    /// (or "holds no tapctl role"), and nothing named, no child, no connection, the store's bytes
    /// unchanged.
    fn as_caller(&self, c: &Caller, args: &[String], least: Role, trace: &Path) -> Cell {
        let names_config = args.first().is_some_and(|a| a == "--config");
        if c.user.is_none() && names_config {
            return Cell::Skipped;
        }
        let no_role = c.label == "no role";
        let admitted = c.user.is_none() || (!no_role && !names_config && c.role >= least);
        let before = store_bytes(self.site);
        let out = traced(self.site, c, args, trace);
        let err = stderr(&out);
        if admitted {
            assert!(
                !TABLE_REFUSALS.iter().any(|p| err.contains(p)),
                "tapctl {args:?} as {}: refused by the table: {err}",
                c.label
            );
            self.sentinels.connections();
            return Cell::Runs;
        }
        assert_eq!(out.status.code(), Some(1), "tapctl {args:?} as {}: {err}", c.label);
        assert_eq!(err.lines().count(), 1, "{err}");
        let why = if no_role { "holds no tapctl role" } else { "" };
        assert!(
            TABLE_REFUSALS.iter().any(|p| err.contains(p)) || (no_role && err.contains(why)),
            "tapctl {args:?} as {}: {err}",
            c.label
        );
        let text = std::fs::read_to_string(trace).unwrap();
        let bad = side_effects(&text, self.forbidden);
        assert!(bad.is_empty(), "tapctl {args:?} as {}: {bad:#?}", c.label);
        assert_eq!(
            self.sentinels.connections(),
            0,
            "tapctl {args:?} as {} connected",
            c.label
        );
        assert!(
            store_bytes(self.site) == before,
            "tapctl {args:?} as {} wrote the store",
            c.label
        );
        Cell::Refused
    }
}
