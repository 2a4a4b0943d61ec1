//! Timing: for each class of answer (pass-shaped, derived-secret-shaped, ordinary password), a
//! wrong answer costs the same whether the user holds a pass, holds none, or does not exist.
//! Clock: setting the clock back cannot revive a pass (faketime).

use std::ffi::OsStr;
use std::process::Command;

use crate::support::drive::line;
use crate::support::figures::figure;
use crate::support::figures::median;
use crate::support::site::Site;
use crate::{site, user};

/// Samples per user for a paced class (each ~40 ms) and for an ordinary password (each ~0.4 ms,
/// where a few microseconds of noise are a percent: it needs many more to settle).
const PER_USER_PACED: usize = 200;
const PER_USER_ORDINARY: usize = 2000;
const BATCH: usize = 50;

/// The classes of answer the module tells apart, each paired with its label: a pass-shaped wrong
/// answer and a reset's derived-secret shape take the paced path; an ordinary password leaves
/// before any look-up. Within each class, every kind of user must cost the same.
fn answer_classes(pass: &str) -> Vec<(&'static str, String, usize)> {
    let wrong = if pass.starts_with('A') {
        "BBBB-BBBB-BB"
    } else {
        "AAAA-AAAA-AA"
    };
    vec![
        ("wrong_pass", wrong.to_string(), PER_USER_PACED),
        (
            "ordinary_password",
            "correct horse battery staple!".to_string(),
            PER_USER_ORDINARY,
        ),
        ("derived_secret_shape", "0123456789abcdef".repeat(4), PER_USER_PACED),
    ]
}

#[test]
fn wrong_answers_take_the_same_time_for_every_kind_of_user() {
    require_root!();
    let _g = crate::support::figures::serial();
    let holder = user().create();
    let nopass = user().create();
    let unknown = format!("tsnone{}", std::process::id());
    let f = site("timing", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    let pass = f.issue_keeping(&holder.name, &["--reusable"]).pass;
    let mut spreads = vec![];
    for (label, answer, per_user) in answer_classes(&pass) {
        let (samples, codes) = sample(&f, [&holder.name, &nopass.name, &unknown], &answer, per_user);
        let n = samples.iter().map(Vec::len).min().unwrap_or(0);
        let m: Vec<f64> = samples.iter().map(|s| median(&mut s.clone())).collect();
        let spread = paired_spread(&samples);
        figure(
            &format!("timing_{label}"),
            &format!(
                "attempts_each={n} median_ms holder={:.3} no_pass={:.3} unknown_user={:.3} paired_spread={spread:.2}% (limit 5%) codes={:?}",
                m[0] / 1000.0,
                m[1] / 1000.0,
                m[2] / 1000.0,
                &codes[..3.min(codes.len())]
            ),
        );
        assert!(n >= per_user, "{label}: only {n} samples");
        spreads.push((label, spread, m));
    }
    f.check_no_secrets();
    for (label, spread, m) in &spreads {
        assert!(*spread < 5.0, "{label}: paired median spread {spread:.2}% >= 5%: {m:?}");
    }
}

/// How far apart two kinds of user are, in percent of the fastest median: the largest median of
/// their per-round differences. The probe runs the three users back to back in every round (in
/// rotating order), so a round's differences cancel whatever slowed the whole machine during that
/// round (another process, a frequency change); a cost that one kind of user alone pays stays.
fn paired_spread(samples: &[Vec<f64>]) -> f64 {
    let rounds = samples.iter().map(Vec::len).min().unwrap_or(0);
    let fastest = samples.iter().map(|s| median(&mut s.clone())).fold(f64::MAX, f64::min);
    let mut worst: f64 = 0.0;
    for i in 0..samples.len() {
        for j in i + 1..samples.len() {
            let mut d: Vec<f64> = (0..rounds).map(|r| samples[i][r] - samples[j][r]).collect();
            worst = worst.max(median(&mut d).abs());
        }
    }
    worst / fastest * 100.0
}

/// `per_user` timings (µs) of `answer` for each of the three users, in round order, and the PAM
/// codes of the first batches.
fn sample(f: &Site, users: [&str; 3], answer: &str, per_user: usize) -> (Vec<Vec<f64>>, Vec<String>) {
    let mut samples: Vec<Vec<f64>> = vec![vec![], vec![], vec![]];
    let mut codes = vec![];
    let [holder, nopass, unknown] = users;
    // Warm-up: page cache, dynamic loader, database pages.
    f.probe(
        "time",
        "only",
        OsStr::new(holder),
        &["5", nopass, unknown],
        &line(answer),
    );
    for _ in 0..per_user / BATCH {
        // Stay below the lockout: the holder's failures go back to 0 between batches.
        f.sqlite().execute("UPDATE passes SET failures = 0", []).unwrap();
        let n = BATCH.to_string();
        let r = f.probe(
            "time",
            "only",
            OsStr::new(holder),
            &[&n, nopass, unknown],
            &line(answer),
        );
        for l in r.stdout.lines() {
            if let Some(rest) = l.strip_prefix("sample ") {
                let (i, us) = rest.split_once(' ').unwrap();
                samples[i.parse::<usize>().unwrap()].push(us.parse().unwrap());
            } else if l.starts_with("timing ") {
                codes.push(l.split("codes=").nth(1).unwrap_or("").to_string());
            }
        }
    }
    (samples, codes)
}

fn faked(f: &Site, offset: &str, user: &str, answer: &str) -> String {
    let mut cmd = Command::new("faketime");
    cmd.arg("-f").arg(offset).arg(crate::support::paths::pam_drive());
    cmd.arg("--confdir")
        .arg(&f.pamd)
        .arg("only")
        .arg(user)
        .arg("authenticate");
    crate::support::drive::Run::from_output(crate::support::drive::feed(cmd, &line(answer)))
        .auth()
        .to_string()
}

#[test]
fn setting_the_clock_back_does_not_revive_a_pass() {
    require_root!();
    let _g = crate::support::figures::serial();
    if Command::new("faketime")
        .arg("-f")
        .arg("+0")
        .arg("true")
        .output()
        .is_err()
    {
        panic!("faketime is not installed (apt-get install faketime)");
    }
    let user = user().create();
    let f = site("clock", "");
    f.stack_only("only", "");
    let pass = f.issue_keeping(&user.name, &["--reusable", "--lifetime", "10m"]).pass;
    // The real clock on purpose: the module under test reads it too (faketime shifts only the driver).
    #[allow(clippy::disallowed_methods)]
    let now = chrono::Utc::now().timestamp();
    // faketime reaches the module's clock: two hours on, the pass is expired.
    let later = faked(&f, "+2h", &user.name, &pass);
    let high_water: i64 = f
        .sqlite()
        .query_row("SELECT value FROM meta WHERE key = 'clock'", [], |r| r.get(0))
        .unwrap();
    // Back to the real time, then earlier still: the store's high-water mark keeps it expired.
    let back = faked(&f, "+0", &user.name, &pass);
    let earlier = faked(&f, "-1h", &user.name, &pass);
    let status = f.show(&user.name)["status"].clone();
    let log = f.log.settled_lines();
    let expired_lines = log.iter().filter(|l| l.contains("outcome=expired")).count();
    // A fresh pass on the same store is usable at the real time (the mark is not in the future
    // any more than the two hours the clock really reached).
    let pass2 = f
        .issue_keeping(&user.name, &["--reusable", "--replace", "--lifetime", "3h"])
        .pass;
    let fresh = faked(&f, "+0", &user.name, &pass2);
    // The stated limit: a wrong answer for a pass that is already expired writes nothing, so a
    // clock that went forward and back with only such answers in between leaves no mark.
    let pass3 = f
        .issue_keeping(&user.name, &["--reusable", "--replace", "--lifetime", "10m"])
        .pass;
    let wrong: String = pass3.chars().map(|c| if c == 'A' { 'B' } else { 'A' }).collect();
    let wrong_ahead = faked(&f, "+5h", &user.name, &wrong);
    let right_back = faked(&f, "+0", &user.name, &pass3);
    figure(
        "clock",
        &format!(
            "at_+2h={later} high_water_ahead_s={} back_at_real_time={back} at_-1h={earlier} status={status} \
             expired_log_lines={expired_lines} new_3h_pass_now={fresh} \
             limit(only_a_wrong_answer_at_+5h={wrong_ahead},_then_right_pass_now={right_back})",
            high_water - now
        ),
    );
    f.check_no_secrets();
    assert_eq!(later, "PAM_AUTH_ERR");
    assert!(high_water >= now + 7000, "high-water {high_water} vs now {now}");
    assert_eq!((back.as_str(), earlier.as_str()), ("PAM_AUTH_ERR", "PAM_AUTH_ERR"));
    assert_eq!(fresh, "PAM_SUCCESS");
}
