//! Timing: a wrong answer costs the same whether the user holds a pass, holds none, or does not
//! exist. Clock: setting the clock back cannot revive a pass (faketime).

use std::ffi::OsStr;
use std::process::Command;

use crate::support_sec::{figure, line, median, Fixture, TempUser};

const PER_USER: usize = 200;
const BATCH: usize = 50;

#[test]
fn wrong_answers_take_the_same_time_for_every_kind_of_user() {
    require_root!();
    let _g = crate::support_sec::serial();
    let holder = TempUser::new();
    let nopass = TempUser::new();
    let unknown = format!("tsnone{}", std::process::id());
    let mut f = Fixture::new("timing", "[pass]\nmax_failures = 100");
    f.stack_only("only", "");
    let pass = f.issue(&holder.name, &["--reusable"]);
    let wrong = if pass.starts_with('A') {
        "BBBB-BBBB-BB"
    } else {
        "AAAA-AAAA-AA"
    };
    let mut samples: Vec<Vec<f64>> = vec![vec![], vec![], vec![]];
    let mut codes = vec![];
    // Warm-up: page cache, dynamic loader, database pages.
    f.probe(
        "time",
        "only",
        OsStr::new(&holder.name),
        &["5", &nopass.name, &unknown],
        &line(wrong),
    );
    for _ in 0..PER_USER / BATCH {
        // Stay below the lockout: the holder's failures go back to 0 between batches.
        f.sql().execute("UPDATE passes SET failures = 0", []).unwrap();
        let n = BATCH.to_string();
        let r = f.probe(
            "time",
            "only",
            OsStr::new(&holder.name),
            &[&n, &nopass.name, &unknown],
            &line(wrong),
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
    let m: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    let (lo, hi) = (
        m.iter().cloned().fold(f64::MAX, f64::min),
        m.iter().cloned().fold(0.0, f64::max),
    );
    let spread = (hi - lo) / lo * 100.0;
    figure(
        "timing",
        &format!(
            "attempts_each={} median_ms holder={:.2} no_pass={:.2} unknown_user={:.2} spread={spread:.2}% (limit 5%) codes={:?}",
            samples[0].len(),
            m[0] / 1000.0,
            m[1] / 1000.0,
            m[2] / 1000.0,
            &codes[..3.min(codes.len())]
        ),
    );
    f.check_no_secrets();
    assert!(samples.iter().all(|s| s.len() >= PER_USER));
    assert!(spread < 5.0, "median spread {spread:.2}% >= 5%: {m:?}");
}

fn faked(f: &Fixture, offset: &str, user: &str, answer: &str) -> String {
    let mut cmd = Command::new("faketime");
    cmd.arg("-f").arg(offset).arg(crate::support_sec::pam_drive());
    cmd.arg("--confdir")
        .arg(&f.pamd)
        .arg("only")
        .arg(user)
        .arg("authenticate");
    crate::support_sec::Run::from_output(crate::support_sec::feed(cmd, &line(answer)))
        .auth()
        .to_string()
}

#[test]
fn setting_the_clock_back_does_not_revive_a_pass() {
    require_root!();
    let _g = crate::support_sec::serial();
    if Command::new("faketime")
        .arg("-f")
        .arg("+0")
        .arg("true")
        .output()
        .is_err()
    {
        panic!("faketime is not installed (apt-get install faketime)");
    }
    let user = TempUser::new();
    let mut f = Fixture::new("clock", "");
    f.stack_only("only", "");
    let pass = f.issue(&user.name, &["--reusable", "--lifetime", "10m"]);
    // The real clock on purpose: the module under test reads it too (faketime shifts only the driver).
    #[allow(clippy::disallowed_methods)]
    let now = chrono::Utc::now().timestamp();
    // faketime reaches the module's clock: two hours on, the pass is expired.
    let later = faked(&f, "+2h", &user.name, &pass);
    let high_water: i64 = f
        .sql()
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
    let pass2 = f.issue(&user.name, &["--reusable", "--replace", "--lifetime", "3h"]);
    let fresh = faked(&f, "+0", &user.name, &pass2);
    // The stated limit: a wrong answer for a pass that is already expired writes nothing, so a
    // clock that went forward and back with only such answers in between leaves no mark.
    let pass3 = f.issue(&user.name, &["--reusable", "--replace", "--lifetime", "10m"]);
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
