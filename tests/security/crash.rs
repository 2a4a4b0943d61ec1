//! A login killed with SIGKILL at any instant leaves the database whole and consistent.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::accounts::User;
use crate::support::figures::figure;
use crate::support::site::Site;
use crate::support::XorShift;
use crate::{site, user};

const KILLS: usize = 200;

#[test]
fn sigkill_at_random_points_never_corrupts_or_half_consumes() {
    require_root!();
    let _g = crate::support::figures::serial();
    let user = user().create();
    let f = site("crash_sigkill", "");
    f.stack_only("crash", "");
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap();
    let seed = u64::from_ne_bytes(seed) | 1;
    let mut rng = XorShift(seed);
    let span = login_span(&f, &user);
    let mut t = Tally::default();
    for i in 0..KILLS {
        kill_a_login(&f, &user, i, rng.next() % span, &mut t);
    }
    figure(
        "crash",
        &format!(
            "sigkills={KILLS} killed_mid_login={} (after_commit={} before_commit={}) \
             finished_before_kill={} integrity_ok={}/{KILLS} inconsistencies={}",
            t.killed,
            t.killed_used,
            t.killed_unused,
            t.completed,
            t.integrity_ok,
            t.bad.len()
        ),
    );
    f.check_no_secrets();
    assert!(t.bad.is_empty(), "{:#?}", t.bad);
    assert!(t.killed >= KILLS / 2, "most kills should land mid-login: {}", t.killed);
}

/// What the kills found.
#[derive(Default)]
struct Tally {
    killed: usize,
    completed: usize,
    killed_used: usize,
    killed_unused: usize,
    integrity_ok: usize,
    bad: Vec<String>,
}

/// How long one whole login takes here, to spread the kills over all of it: the median of five
/// after a first one (a cold first login is slower, and a span set by it lets most kills land
/// after the login ended), plus a fifth.
fn login_span(f: &Site, user: &User) -> u64 {
    let mut took = vec![];
    for _ in 0..6 {
        let pass = f.issue_keeping(&user.name, &["--one-time", "--replace"]).pass;
        let t = Instant::now();
        let r = f.drive("crash", &user.name, &["authenticate"], pass.as_bytes());
        assert_eq!(r.auth(), "PAM_SUCCESS", "{r:?}");
        took.push(t.elapsed().as_micros() as u64);
    }
    let mut warm = took.split_off(1);
    warm.sort_unstable();
    warm[warm.len() / 2] * 12 / 10
}

/// Round `i`: a login with a fresh one-time pass, killed after `delay_us`. The database must be
/// whole, the pass row and its audit row written together, and a killed login's pass either
/// consumed (refused from then on) or whole (it works).
fn kill_a_login(f: &Site, user: &User, i: usize, delay_us: u64, t: &mut Tally) {
    let pass = f.issue_keeping(&user.name, &["--one-time", "--replace"]).pass;
    let id: i64 = f
        .sqlite()
        .query_row("SELECT max(id) FROM passes", [], |r| r.get(0))
        .unwrap();
    let mut child = f
        .drive_cmd("crash", &user.name, &["authenticate"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = writeln!(stdin, "{pass}");
    drop(stdin);
    std::thread::sleep(Duration::from_micros(delay_us));
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let out = child.wait_with_output().unwrap();
    let run = crate::support::drive::Run::from_output(out);
    let integrity = f.integrity();
    if integrity == "ok" {
        t.integrity_ok += 1;
    } else {
        t.bad.push(format!("round {i}: integrity {integrity}"));
    }
    let (used_at, use_count): (Option<i64>, i64) = f
        .sqlite()
        .query_row("SELECT used_at, use_count FROM passes WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let used_rows: i64 = f
        .sqlite()
        .query_row(
            "SELECT count(*) FROM audit WHERE event = 'used' AND pass_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    // The pass row and its audit row are written in one transaction: both or neither.
    if used_at.is_some() != (used_rows == 1) || use_count != used_rows {
        t.bad.push(format!(
            "round {i}: used_at={used_at:?} use_count={use_count} used_rows={used_rows}"
        ));
    }
    match run.get("authenticate") {
        Some("PAM_SUCCESS") => {
            t.completed += 1;
            if used_at.is_none() {
                t.bad.push(format!("round {i}: success reported, pass still unused"));
            }
        }
        Some(other) => {
            t.completed += 1;
            t.bad.push(format!("round {i}: the right pass gave {other}"));
        }
        None => {
            t.killed += 1;
            // Killed: the pass is either consumed (and refused from now on) or whole (and works).
            let again = f.drive("crash", &user.name, &["authenticate"], pass.as_bytes());
            match (used_at.is_some(), again.auth()) {
                (true, "PAM_AUTH_ERR") => t.killed_used += 1,
                (false, "PAM_SUCCESS") => t.killed_unused += 1,
                (u, code) => t.bad.push(format!("round {i}: killed, used={u}, retry gave {code}")),
            }
        }
    }
}

#[test]
fn the_secrets_scan_finds_what_it_should() {
    let passes = vec!["ABCD2345EF".to_string()];
    let hit = |t: &str| !crate::support::site::leaked(&passes, [t.to_string()].iter()).is_empty();
    assert!(hit("auth user=x pass ABCD-2345-EF"));
    assert!(hit("reason: ...D234..."));
    assert!(hit("x 2345EF y"));
    assert!(!hit("pam_tap[2345]: auth service=crash user=ts2345x1 outcome=wrong"));
    assert!(!hit("abcd2345ef in lower case is not the pass's form"));
}
