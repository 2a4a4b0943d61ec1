//! Every pam.d line the project prints works: each one in a code block or code span of README.md,
//! docs/ (the guide and the man pages' sources) and packaging/ (Markdown), and in doctor's advice, is
//! loaded by the real libpam through pam_start_confdir.
//!
//! How a line libpam rejects is caught: libpam parses a bad control (`success=end`, a typo) into
//! "every result is a failure" and only says so in syslog. So each snippet is loaded once with
//! every module replaced by pam_permit: all modules succeed, and the stack succeeds exactly when
//! libpam accepted every control. Module names must exist in libpam's module directory (the few
//! that only Fedora ships are named below). Debian stacks that hold pam_tap and pam_unix also run
//! for real: a password login and a pass login must both succeed through them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::accounts::User;
use crate::support::drive;
use crate::support::site::Site;
use tapctl::pamd::{rule, Rule, TYPES};

/// Debian modules the tests unpack without installing them (`make deps`: libpam-gnome-keyring,
/// whose installation would edit the host's pam.d).
fn unpacked_module_dir() -> std::path::PathBuf {
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let arch = std::env::consts::ARCH;
    target.join(format!("greeter-pam/root/lib/{arch}-linux-gnu/security"))
}

/// Modules that only Fedora/RHEL ship, named by the authselect recipe.
const FEDORA_ONLY: [&str; 2] = ["pam_sss.so", "pam_pwquality.so"];

/// A snippet: where it is and its pam.d lines.
type Snippet = (String, Vec<Rule>);

/// The pam.d lines of one Markdown (or source) text: each fenced block is one snippet, each code
/// span that is a pam.d line another. Spans with a `{placeholder}` are format strings, not lines.
fn snippets_of(name: &str, text: &str, blocks: bool) -> Vec<Snippet> {
    let mut out = Vec::new();
    let mut block: Option<(usize, Vec<Rule>)> = None;
    for (i, line) in text.lines().enumerate() {
        if blocks && line.trim_start().starts_with("```") {
            match block.take() {
                Some((start, lines)) if !lines.is_empty() => out.push((format!("{name}:{start}"), lines)),
                Some(_) => {}
                None => block = Some((i + 1, Vec::new())),
            }
            continue;
        }
        if let Some((_, lines)) = block.as_mut() {
            lines.extend(rule(line));
            continue;
        }
        for span in line.split('`').skip(1).step_by(2) {
            if let Some(l) = rule(span).filter(|_| !span.contains('{')) {
                out.push((format!("{name}:{} `{span}`", i + 1), vec![l]));
            }
        }
    }
    out
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// Every pam.d snippet the project prints.
fn all_snippets() -> Vec<Snippet> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![repo.join("README.md")];
    markdown_files(&repo.join("docs"), &mut files);
    markdown_files(&repo.join("packaging"), &mut files);
    let mut out = Vec::new();
    for f in files {
        let name = f.strip_prefix(repo).unwrap().display().to_string();
        out.extend(snippets_of(&name, &std::fs::read_to_string(&f).unwrap(), true));
    }
    // doctor's advice: the code spans of its messages (the tests below it are fixtures).
    let doctor = std::fs::read_to_string(repo.join("crates/tapctl/src/doctor/pam_stack.rs")).unwrap();
    let advice = doctor.split("#[cfg(test)]").next().unwrap();
    out.extend(snippets_of("crates/tapctl/src/doctor/pam_stack.rs", advice, false));
    out
}

/// libpam's module directory: where pam_permit.so is.
fn module_dir() -> PathBuf {
    [
        "/usr/lib/x86_64-linux-gnu/security",
        "/lib/x86_64-linux-gnu/security",
        "/usr/lib/security",
        "/lib/security",
        "/usr/lib64/security",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|d| d.join("pam_permit.so").exists())
    .expect("no libpam module directory with pam_permit.so")
}

/// Runs the snippet through libpam, every module replaced by `module(line)`, and returns the
/// results of the operations its types need (`op=PAM_...`).
fn run(lines: &[Rule], user: &str, answers: &[&str], module: &dyn Fn(&Rule) -> String) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut service = String::new();
    let mut ops = Vec::new();
    for l in lines {
        if l.control == "include" || l.control == "substack" {
            continue;
        }
        service.push_str(&format!("{} {} {}\n", l.kind, l.control, module(l)));
        let op = match l.kind.as_str() {
            "auth" => "authenticate",
            "account" => "acct_mgmt",
            "password" => "chauthtok",
            _ => "open_session",
        };
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    std::fs::write(dir.path().join("svc"), service).unwrap();
    drive::run(drive::pam_drive_cmd(dir.path(), "svc", user, &ops), answers)
        .expect_ran()
        .results
}

/// Whether libpam accepts every control of `lines`: with only pam_permit, all must succeed. A
/// snippet may be an excerpt whose jumps land in the rest of the file, so each type gets as many
/// `required pam_permit` lines after it as its longest jump, plus one (a jump alone never makes a
/// stack succeed: Debian's common-auth ends in pam_permit for that).
fn controls_accepted(lines: &[Rule], permit: &Path) -> Result<(), String> {
    let mut padded = lines.to_vec();
    for kind in TYPES {
        if !lines.iter().any(|l| l.kind == kind) {
            continue;
        }
        let jump = lines
            .iter()
            .filter(|l| l.kind == kind)
            .flat_map(|l| {
                l.control
                    .trim_matches(['[', ']'])
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter_map(|kv| kv.split_once('=').and_then(|(_, v)| v.parse::<usize>().ok()))
            .max()
            .unwrap_or(0);
        for _ in 0..=jump {
            padded.push(rule(&format!("{kind} required pam_permit.so")).unwrap());
        }
    }
    let results = run(&padded, "root", &[], &|_| permit.display().to_string());
    match results.iter().find(|(_, r)| r != "PAM_SUCCESS") {
        None if !results.is_empty() => Ok(()),
        None => Err("no operation ran".into()),
        Some((op, r)) => Err(format!("{op}={r} with every module replaced by pam_permit")),
    }
}

#[test]
fn every_pam_d_line_the_project_prints_loads_in_libpam() {
    require_root!();
    let permit = module_dir().join("pam_permit.so");
    // The method catches what it must: libpam's own verdict on `success=end` and a typo.
    for bad in [
        "auth [success=end default=ignore] x",
        "auth [sucess=1 default=ignore] x",
    ] {
        let l = rule(bad).unwrap();
        assert!(controls_accepted(&[l], &permit).is_err(), "{bad} was not caught");
    }
    let good = rule("auth [success=1 default=ignore] x").unwrap();
    controls_accepted(&[good], &permit).unwrap();

    let snippets = all_snippets();
    let mut bad = Vec::new();
    let mut lines = 0;
    for (at, snippet) in &snippets {
        lines += snippet.len();
        if let Err(e) = controls_accepted(snippet, &permit) {
            bad.push(format!("{at}: {e}"));
        }
        for l in snippet
            .iter()
            .filter(|l| l.control != "include" && l.control != "substack")
        {
            let name = l.module.rsplit('/').next().unwrap();
            let known = name == "pam_tap.so"
                || module_dir().join(name).exists()
                || unpacked_module_dir().join(name).exists()
                || FEDORA_ONLY.contains(&name);
            if !known {
                bad.push(format!("{at}: unknown module {}", l.module));
            }
        }
    }
    println!("pam_snippets: {} snippets, {lines} pam.d lines", snippets.len());
    assert!(snippets.len() >= 8, "the extraction found too little: {snippets:?}");
    assert!(bad.is_empty(), "pam.d lines libpam rejects:\n{}", bad.join("\n"));
}

#[test]
fn debian_stacks_in_the_docs_log_in_with_a_password_and_with_a_pass() {
    require_root!();
    let site = Site::new("");
    let user = User::with_password("Snippet-pw-1!");
    let tap = User::new();
    let so = crate::support::paths::module();
    let real = |l: &Rule| -> String {
        let args = l.args.join(" ");
        if l.module.ends_with("pam_tap.so") {
            format!("{} config={} {args}", so.display(), site.config.display())
        } else {
            format!("{} {args}", l.module)
        }
    };
    let mut ran = 0;
    for (at, snippet) in all_snippets() {
        let auth: Vec<Rule> = snippet.iter().filter(|l| l.kind == "auth").cloned().collect();
        let has = |m: &str| auth.iter().any(|l| l.module.ends_with(m));
        if !(has("pam_tap.so") && has("pam_unix.so"))
            || auth.iter().any(|l| FEDORA_ONLY.iter().any(|f| l.module.ends_with(f)))
        {
            continue;
        }
        ran += 1;
        let r = run(&auth, &user.name, &["Snippet-pw-1!"], &real);
        assert_eq!(
            r,
            [("authenticate".to_string(), "PAM_SUCCESS".to_string())],
            "{at}: password login"
        );
        let pass = site.issue(&tap.name, &["--keep-password", "--replace"])["pass"]
            .as_str()
            .unwrap()
            .to_string();
        let r = run(&auth, &tap.name, &[&pass], &real);
        assert_eq!(
            r,
            [("authenticate".to_string(), "PAM_SUCCESS".to_string())],
            "{at}: pass login"
        );
    }
    println!("pam_snippets: {ran} Debian auth stacks logged in for real");
    assert!(
        ran >= 3,
        "expected the guide's Debian stacks (wiring, first login, design), ran {ran}"
    );
}

/// The pam-auth-update profile says `success=end` (its own format); the real pam-auth-update, run
/// on copies of this machine's pam.d, /usr/share/pam-configs, /var/lib/pam and debconf's database
/// in a private mount namespace, must turn it into the stack the guide's "Wiring pam.d on Debian" shows, and that
/// stack must work in libpam.
#[test]
fn pam_auth_update_writes_the_documented_stack_from_the_profile() {
    require_root!();
    if !Path::new("/usr/sbin/pam-auth-update").exists() {
        eprintln!(
            "SKIPPED pam_auth_update_writes_the_documented_stack_from_the_profile: no pam-auth-update (not Debian)"
        );
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = tempfile::tempdir().unwrap();
    pam_auth_update_enables_the_profile(repo, t.path());
    let written: Vec<Rule> = ["common-auth", "common-password"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(t.path().join("pamd").join(f))
                .unwrap()
                .lines()
                .filter_map(rule)
                .collect::<Vec<_>>()
        })
        .collect();
    let key = |l: &Rule| format!("{} {} {} {}", l.kind, l.control, l.module, l.args.join(" "));
    let ours = |l: &&Rule| l.module == "pam_tap.so" || l.module == "pam_unix.so";
    let wiring = std::fs::read_to_string(repo.join("docs/guide/src/wiring.md")).unwrap();
    let (_, documented) = snippets_of("docs/guide/src/wiring.md", &wiring, true)
        .into_iter()
        .find(|(_, s)| s.iter().any(|l| l.module == "pam_tap.so"))
        .unwrap();
    let want: Vec<String> = documented.iter().filter(ours).map(key).collect();
    let got: Vec<String> = written
        .iter()
        .filter(|l| l.kind == "auth" || l.kind == "password")
        .filter(ours)
        .map(key)
        .collect();
    assert_eq!(
        got, want,
        "pam-auth-update wrote another stack than the guide's wiring page shows"
    );
    assert!(got.iter().all(|l| !l.contains("success=end")));
    let permit = module_dir().join("pam_permit.so");
    controls_accepted(&written, &permit).unwrap();
}

/// The real pam-auth-update, on private copies (under `t`) of pam.d, pam-configs, /var/lib/pam and
/// debconf, bind-mounted in a private mount namespace, enables the package's profile.
fn pam_auth_update_enables_the_profile(repo: &Path, t: &Path) {
    let copies = [
        ("/etc/pam.d", "pamd"),
        ("/usr/share/pam-configs", "configs"),
        ("/var/lib/pam", "varlib"),
        ("/var/cache/debconf", "debconf"),
    ];
    for (from, to) in copies {
        let ok = Command::new("cp").args(["-a", from]).arg(t.join(to)).status().unwrap();
        assert!(ok.success(), "cp {from}");
    }
    std::fs::copy(repo.join("packaging/pam-configs/pam-tap"), t.join("configs/pam-tap")).unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            r#"mount --bind "$0/pamd" /etc/pam.d && mount --bind "$0/configs" /usr/share/pam-configs &&
               mount --bind "$0/varlib" /var/lib/pam && mount --bind "$0/debconf" /var/cache/debconf &&
               pam-auth-update --enable pam-tap"#,
        )
        .arg(t)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pam-auth-update: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
