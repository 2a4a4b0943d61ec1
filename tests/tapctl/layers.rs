//! The workspace's crates are its layers: base, store, core, then the module and tapctl on top.
//! sshd loads pam_tap.so, so what the module links is read from cargo itself: no command line
//! parser, no CSV, no tapctl, and the store without its admin side. No crate depends on one above
//! it, and inside each crate no two modules reach into each other (the cycles config <-> gate,
//! core <-> outcome and admin <-> import are gone and stay gone).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Each workspace crate and its layer: a crate may depend only on crates of a lower layer.
/// (crates/soft_sk, a test fixture that links no pam_tap crate, is outside the layers.)
const LAYERS: [(&str, u32); 6] = [
    ("pam-tap-base", 0),
    ("pam-tap-store", 1),
    ("pam-tap-core", 2),
    ("pam-tap-module", 3),
    ("pam-tap-keys", 3),
    ("tapctl", 3),
];

/// What the module crate must not link: tapctl's command line, CSV and the tool itself.
const NOT_IN_THE_MODULE: [&str; 4] = ["clap", "csv", "tapctl", "trycmd"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cargo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .args(["--offline", "--locked"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_module_links_no_admin_code() {
    let packages = links_no_admin_code("pam-tap-module");
    println!("FIGURE module_tree: packages={packages}");
}

/// sshd runs the keys command for every key offered: it links what the module links, no more.
#[test]
fn the_keys_command_links_no_admin_code() {
    let packages = links_no_admin_code("pam-tap-keys");
    println!("FIGURE keys_command_tree: packages={packages}");
}

/// `package` links none of [`NOT_IN_THE_MODULE`] and the store without its admin side; the number
/// of packages it links.
fn links_no_admin_code(package: &str) -> usize {
    // `cargo tree -p` resolves features for the package alone, as its own build does.
    let tree = cargo(&[
        "tree",
        "-p",
        package,
        "-e",
        "normal,build",
        "--prefix",
        "none",
        "--format",
        "{p} [{f}]",
    ]);
    let mut store_seen = false;
    for line in tree.lines() {
        let name = line.split(' ').next().unwrap_or("");
        assert!(!NOT_IN_THE_MODULE.contains(&name), "{package} links {line}");
        if name == "pam-tap-store" {
            store_seen = true;
            let features = line.rsplit_once('[').map_or("", |(_, f)| f);
            assert!(
                !features.contains("admin"),
                "{package}'s store has its admin side: {line}"
            );
        }
    }
    assert!(store_seen, "{package} links the store:\n{tree}");
    tree.lines().collect::<BTreeSet<_>>().len()
}

#[test]
fn no_crate_depends_on_one_above_it() {
    let meta: serde_json::Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps"])).unwrap();
    let layer = |name: &str| LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l);
    let mut edges = Vec::new();
    for package in meta["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let Some(mine) = layer(name) else { continue };
        for dep in package["dependencies"].as_array().unwrap() {
            let (dep_name, kind) = (dep["name"].as_str().unwrap(), dep["kind"].as_str());
            // A crate's own dev-dependency on itself turns a feature on for its tests.
            if kind == Some("dev") || dep_name == name {
                continue;
            }
            if let Some(theirs) = layer(dep_name) {
                assert!(
                    theirs < mine,
                    "{name} (layer {mine}) depends on {dep_name} (layer {theirs})"
                );
                edges.push(format!("{name} -> {dep_name}"));
            }
        }
    }
    assert!(!edges.is_empty(), "cargo metadata names the workspace's crates");
    println!("FIGURE crate_edges: {} ({})", edges.len(), edges.join(", "));
}

#[test]
fn no_two_modules_of_a_crate_reach_into_each_other() {
    let crates = root().join("crates");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        let graph = module_graph(&src);
        assert!(!graph.is_empty() || src.join("lib.rs").exists(), "{}", src.display());
        found.extend(
            cycles(&graph)
                .into_iter()
                .map(|c| format!("{}: {}", src.display(), c.join(" <-> "))),
        );
    }
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

/// A module's name at the depth cycles are judged: `gate`, `postgres::admin`.
fn node(path: &[String]) -> String {
    path[..path.len().min(2)].join("::")
}

/// Which module (at [`node`] depth) refers to which, from `crate::` and `super::` paths in the
/// code outside tests and comments.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(src);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let me = module_path(src, file);
        if me.is_empty() || me.iter().any(|p| p == "tests") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for mut target in references(&code, &me) {
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            let (a, b) = (node(&me), node(&target));
            if target.is_empty() || a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::")) {
                continue;
            }
            graph.entry(a).or_default().insert(b);
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// `src/postgres/admin.rs` -> [postgres, admin]; lib.rs, main.rs and mod.rs name their directory.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code without line comments and without a trailing `#[cfg(test)] mod tests { ... }`.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths `code` (in module `me`) refers to: `crate::a::b::C`, `crate::{a, b::c}`,
/// `super::x`.
fn references(code: &str, me: &[String]) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", me[..me.len().saturating_sub(1)].to_vec()),
    ] {
        for (i, _) in code.match_indices(prefix) {
            let rest = &code[i + prefix.len()..];
            let items: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                None => vec![rest.split(|c: char| !ident(c)).next().unwrap_or("")],
            };
            for item in items {
                let path: Vec<String> = item
                    .trim()
                    .split("::")
                    .take_while(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'))
                    .map(str::to_string)
                    .collect();
                let mut full = base.clone();
                full.extend(path);
                out.push(full);
            }
        }
    }
    out
}

/// The strongly connected groups of more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(w: &mut Walk<'g>, v: &'g str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        for t in w.graph.get(v).into_iter().flatten() {
            if !w.index.contains_key(t.as_str()) {
                visit(w, t);
                let l = w.low[v].min(w.low[t.as_str()]);
                w.low.insert(v, l);
            } else if w.stack.contains(&t.as_str()) {
                let l = w.low[v].min(w.index[t.as_str()]);
                w.low.insert(v, l);
            }
        }
        if w.low[v] == w.index[v] {
            let at = w.stack.iter().rposition(|x| *x == v).unwrap();
            let group: Vec<String> = w.stack.drain(at..).map(str::to_string).collect();
            if group.len() > 1 {
                w.found.push(group);
            }
        }
    }
    let mut w = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("config".into()).or_default().insert("gate".into());
    g.entry("gate".into()).or_default().insert("config".into());
    g.entry("login".into()).or_default().insert("gate".into());
    assert_eq!(cycles(&g), vec![vec!["config".to_string(), "gate".to_string()]]);
    let refs = references(
        "use crate::{config::Policy, gate};\nsuper::sql_text::X",
        &["postgres".into(), "admin".into()],
    );
    assert!(refs.contains(&vec!["config".to_string(), "Policy".to_string()]));
    assert!(refs.contains(&vec!["postgres".to_string(), "sql_text".to_string(), "X".to_string()]));
}
