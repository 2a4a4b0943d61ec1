//! What a login through the module leaves in its host: descriptors, threads, signal handlers, and
//! memory (valgrind over 100 PAM handles in one process).

use std::ffi::OsStr;
use std::process::Command;

use crate::support::drive::line;
use crate::support::figures::figure;
use crate::support::site::Site;
use crate::{site, user};
use pam_tap_base::hash::{self, KdfParams};

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|rest| rest.trim_start_matches('=').to_string())
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

fn count(out: &str, key: &str) -> usize {
    field(out, key).split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_login_leaves_no_descriptor_thread_or_signal_handler() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("leaks_fds", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    let mut rows = vec![];
    let mut bad = vec![];
    // "accepted_issuer": the pass as an issuer's, so the module asks sudo (one child process)
    // whether the user may act as root before accepting it.
    for (label, answer) in [
        ("accepted", pass.clone()),
        ("accepted_issuer", pass.clone()),
        ("wrong", "AAAA-BBBB-CC".to_string()),
    ] {
        if label == "accepted_issuer" {
            f.sqlite()
                .execute("UPDATE passes SET issuer_role = 'issuer'", [])
                .unwrap();
        }
        let (row, leaked) = what_one_login_left(&f, &user.name, label, &answer);
        rows.push(row);
        bad.extend(leaked);
    }
    figure("leaks_session", &rows.join(" | "));
    f.check_no_secrets();
    assert!(bad.is_empty(), "{bad:#?}");
}

/// sec_probe's `leaks` run answering `answer`: its row of the figure, and its whole output if it
/// got the wrong result or left a descriptor, a thread or a signal handler.
fn what_one_login_left(f: &Site, user: &str, label: &str, answer: &str) -> (String, Option<String>) {
    let r = f.probe("leaks", "only", OsStr::new(user), &[], &line(answer));
    let o = &r.stdout;
    let fds_auth = count(o, "new_fds_after_auth");
    let fds_end = count(o, "new_fds_after_end");
    let th = [
        count(o, "threads_before"),
        field(o, "threads_before")
            .split("threads_started=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
        field(o, "threads_before")
            .split("threads_after_auth=")
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
        count(o, "threads_after_end"),
    ];
    let sig_auth = count(o, "sig_changed_after_auth");
    let sig_end = count(o, "sig_changed_after_end");
    let no_cloexec = count(o, "new_fds_without_cloexec");
    let row = format!(
        "{label}:auth={} new_fds_after_auth={fds_auth} new_fds_after_end={fds_end} threads={th:?} \
         sig_changed={sig_auth}/{sig_end}",
        r.auth()
    );
    let expected = if label.starts_with("accepted") {
        "PAM_SUCCESS"
    } else {
        "PAM_AUTH_ERR"
    };
    let leaked = r.auth() != expected
        || fds_auth + fds_end + sig_auth + sig_end + no_cloexec != 0
        || th.iter().any(|&t| t != th[0]);
    (row, leaked.then(|| r.stdout.clone()))
}

#[test]
fn valgrind_finds_no_definite_leak_over_100_handles() {
    require_root!();
    let _g = crate::support::figures::serial();
    if Command::new("valgrind").arg("--version").output().is_err() {
        panic!("valgrind is not installed (apt-get install valgrind)");
    }
    let user = user().create();
    // equalize_timing off and a cheap stored hash: argon2 at 19 MiB under valgrind would take minutes,
    // and neither changes which code paths allocate.
    let f = site(
        "leaks_valgrind",
        "[pass]\nmax_failures = 100\n[hash]\nequalize_timing = false",
    );
    stack_with_a_module_without_debug_info(&f, "only");
    let pass = f.issue_keeping(&user.name, &["--reusable"]).pass;
    a_cheap_stored_hash(&f, &pass);
    let out = a_hundred_handles_under_valgrind(&f, &user.name, &pass);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let grab = |key: &str| {
        stderr
            .lines()
            .find(|l| l.contains(key))
            .and_then(|l| l.split(key).nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "0 bytes in 0 blocks".into())
    };
    let definite = grab("definitely lost:");
    let errors = grab("ERROR SUMMARY:");
    figure(
        "valgrind",
        &format!(
            "cycles=100 {} definitely_lost=[{definite}] indirectly_lost=[{}] error_summary=[{errors}] exit={:?}",
            stdout.trim(),
            grab("indirectly lost:"),
            out.status.code()
        ),
    );
    f.check_no_secrets();
    assert!(stdout.contains("PAM_SUCCESS"), "{stdout}");
    assert!(definite.starts_with("0 bytes"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// pam_tap alone as `service`, loaded from a copy without DWARF: valgrind reads a module's debug
/// info at every dlopen, 100 times here.
fn stack_with_a_module_without_debug_info(f: &Site, service: &str) {
    let so = f.dir.join("pam_tap_nodebug.so");
    std::fs::copy(crate::support::paths::module(), &so).unwrap();
    assert!(Command::new("strip")
        .arg("--strip-debug")
        .arg(&so)
        .status()
        .unwrap()
        .success());
    f.stack_only(service, "");
    let stack = std::fs::read_to_string(f.pamd.join(service)).unwrap().replace(
        &crate::support::paths::module().display().to_string(),
        &so.display().to_string(),
    );
    crate::support::site::write_file(&f.pamd.join(service), stack.as_bytes(), 0o644);
}

/// The stored hash of `pass` remade with argon2id's cheapest parameters.
fn a_cheap_stored_hash(f: &Site, pass: &str) {
    let cheap = hash::hash(
        &pass.replace('-', ""),
        &KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
    )
    .unwrap();
    f.sqlite().execute("UPDATE passes SET hash = ?1", [&cheap]).unwrap();
}

/// sec_probe's 100 cycles of one handle each under valgrind, answering in turn: accepted, wrong,
/// not a pass, empty, NULL reply (each allocation path, 20 times).
fn a_hundred_handles_under_valgrind(f: &Site, user: &str, pass: &str) -> std::process::Output {
    let answers = format!("{pass}\nAAAA-BBBB-CC\nnot a pass!\n\n<null>\n");
    let mut c = Command::new("valgrind");
    c.args([
        "--leak-check=full",
        "--show-leak-kinds=definite",
        "--errors-for-leak-kinds=definite",
        "--error-exitcode=99",
        "--num-callers=30",
    ])
    .arg(crate::support::paths::sec_probe())
    .arg("cycles")
    .arg(&f.pamd)
    .arg("only")
    .arg(user)
    .arg("100");
    crate::support::drive::feed(c, answers.as_bytes())
}

#[test]
fn settling_a_dead_reset_pass_at_login_leaves_nothing_behind() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().password("Leaks-Orig-4821").create();
    let f = site("leaks_settle", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    // A reset pass (the policy's default), then its end as the database records it.
    f.issue_reset(&user.name, &[]);
    f.sqlite()
        .execute(
            "UPDATE passes SET starts_at = starts_at - 7200, expires_at = created_at - 60",
            [],
        )
        .unwrap();
    // The login attempt runs chpasswd and chage from inside the host process.
    let r = f.probe("leaks", "only", OsStr::new(&user.name), &[], &line("AAAA-BBBB-CC"));
    let o = &r.stdout;
    let leaked = count(o, "new_fds_after_auth")
        + count(o, "new_fds_after_end")
        + count(o, "sig_changed_after_auth")
        + count(o, "sig_changed_after_end")
        + count(o, "new_fds_without_cloexec");
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap();
    let hash = shadow
        .lines()
        .find(|l| l.split(':').next() == Some(user.name.as_str()))
        .and_then(|l| l.split(':').nth(1))
        .unwrap()
        .to_string();
    figure(
        "leaks_settle",
        &format!("auth={} leaked={leaked} shadow_after={hash}", r.auth()),
    );
    assert_eq!(hash, "!", "the login attempt locked the account: {o}");
    assert_eq!(r.auth(), "PAM_AUTH_ERR", "{o}");
    assert_eq!(leaked, 0, "{o}");
    f.check_no_secrets();
}
