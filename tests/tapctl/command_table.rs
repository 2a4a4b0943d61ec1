//! The one command table through the real binary. Every command tapctl defines runs as each of
//! root, a privileged issuer, an issuer, a viewer and a user with no role (operators as sudo leaves
//! them), under strace. Where the table refuses, the refusal comes before any side effect: no open,
//! stat or access of anything the operator named or of the store, no connection but to the name
//! service's or syslog's socket, no child process, the store's bytes unchanged and the test's
//! listener never reached. Where it admits, the command runs (its own answer, never the table's).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pam_tap_store::operator::Role;

use crate::operators::RealSudo;
use crate::support::accounts::Group;
use crate::support::accounts::User;
use crate::support::site::{stderr, Site};

/// Every command as every role, under strace.
#[path = "command_table/matrix.rs"]
mod matrix;

/// tapctl's command line and table, the very ones the binary runs.
use tapctl::{cli, table};

/// The least role each command needs, pinned here apart from the table: who may run a command
/// changes only when both change.
const PINNED: &[(&str, Role)] = &[
    ("init", Role::Root),
    ("issue", Role::Issuer),
    ("list", Role::Viewer),
    ("show", Role::Viewer),
    ("status", Role::Viewer),
    ("revoke", Role::Issuer),
    ("unlock", Role::Issuer),
    ("purge", Role::PrivilegedIssuer),
    ("log", Role::Viewer),
    ("migrate", Role::Root),
    ("hosts list", Role::Viewer),
    ("hosts bind", Role::Root),
    ("hosts unbind", Role::Root),
    ("keys list", Role::Viewer),
    ("keys revoke", Role::Issuer),
    ("policy", Role::Viewer),
    ("vocabulary", Role::Viewer),
    ("doctor", Role::Root),
    ("approve", Role::Issuer),
    ("deny", Role::Issuer),
    ("collect", Role::Issuer),
    ("requests", Role::Viewer),
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

/// The guide's "Helpdesk boundary" page shows the command table between its markers;
/// `BLESS=1 cargo test --test tapctl the_guide_shows_the_command_table_generated_from_the_code` rewrites it.
#[test]
fn the_guide_shows_the_command_table_generated_from_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide/src/helpdesk-boundary.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- command-table:begin -->\n", "<!-- command-table:end -->");
    let start = page
        .find(begin)
        .expect("helpdesk-boundary.md has the command-table markers")
        + begin.len();
    let stop = page[start..]
        .find(end)
        .expect("helpdesk-boundary.md closes the command-table markers")
        + start;
    let want = pam_tap_store::admin::table_markdown(table::COMMAND_TABLE, table::GLOBAL_ROOT_ARGS);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, format!("{}{want}{}", &page[..start], &page[stop..])).unwrap();
        return;
    }
    assert!(
        page[start..stop] == want,
        "docs/guide/src/helpdesk-boundary.md's command table is not the code's: put this between the markers\n{want}"
    );
}
