//! tapctl killed with SIGKILL at random points of `issue`, `issue --csv` and `revoke`, or stopped
//! with SIGTERM/SIGINT: every account stays explained.

use super::*;

#[test]
fn sigkill_during_issue_bulk_issue_and_revoke_leaves_every_account_explained() {
    require_root!();
    const ROUNDS: usize = 120;
    let site = Site::new("");
    let users: Vec<User> = (0..3).map(|_| User::with_password(ORIGINAL)).collect();
    let originals: Vec<String> = users.iter().map(|u| shadow(u).0).collect();
    let csv = site.dir.path().join("batch.csv");
    std::fs::write(&csv, users.iter().map(|u| format!("{}\n", u.name)).collect::<String>()).unwrap();
    let csv = csv.to_str().unwrap().to_string();
    let one = users[0].name.clone();
    let issue_args = ["issue", one.as_str(), "--replace", "--json"];
    let bulk_args = ["issue", "--csv", csv.as_str(), "--replace", "--json"];
    let revoke_args = ["revoke", one.as_str()];

    // How long each command takes here, to spread the kills over all of it.
    // (The machine's load varies: each span then adapts, shrinking after a kill that came too late.)
    let mut spans = [timed(&site, &issue_args), timed(&site, &bulk_args), {
        timed(&site, &issue_args);
        timed(&site, &revoke_args)
    }];
    let first_spans = spans;
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap();
    let mut rng = XorShift(u64::from_ne_bytes(seed) | 1);

    let mut bad = vec![];
    let (mut killed, mut finished) = (0, 0);
    for round in 0..ROUNDS {
        let op = round % 3;
        let span = spans[op] * 12 / 10;
        let args: &[&str] = match op {
            0 => &issue_args,
            1 => &bulk_args,
            _ => {
                if tapctl_cmd(&site, &issue_args).status().unwrap().success() {
                    &revoke_args
                } else {
                    bad.push(format!("round {round}: could not issue before the revoke"));
                    continue;
                }
            }
        };
        let mut child = tapctl_cmd(&site, args).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % span.max(1)));
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let st = child.wait().unwrap();
        if st.code().is_some() {
            finished += 1;
            spans[op] = spans[op] * 8 / 10;
        } else {
            killed += 1;
            spans[op] = spans[op] * 102 / 100;
        }
        for (u, orig) in users.iter().zip(&originals) {
            if let Err(e) = explained_now(&site, u, orig) {
                bad.push(format!("round {round} {args:?}, right after the kill: {e}"));
            }
            // The next touch: any tapctl command on the user.
            let _ = tapctl_cmd(&site, &["show", &u.name]).status();
            if let Err(e) = settled(&site, u, orig) {
                bad.push(format!("round {round} {args:?}, after the next touch: {e}"));
            }
        }
        if bad.len() > 20 {
            break;
        }
    }
    eprintln!(
        "figure reset_crash: sigkills={ROUNDS} killed_mid_command={killed} finished_before_kill={finished} \
         first_spans_us(issue,bulk,revoke)={first_spans:?} inconsistencies={}",
        bad.len()
    );
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(killed >= ROUNDS / 2, "most kills should land mid-command: {killed}");
}

#[test]
fn sigterm_or_sigint_mid_command_waits_for_the_last_commit() {
    require_root!();
    const ROUNDS: usize = 60;
    let site = Site::new("");
    let users: Vec<User> = (0..2).map(|_| User::with_password(ORIGINAL)).collect();
    let originals: Vec<String> = users.iter().map(|u| shadow(u).0).collect();
    let csv = site.dir.path().join("batch.csv");
    std::fs::write(&csv, users.iter().map(|u| format!("{}\n", u.name)).collect::<String>()).unwrap();
    let csv = csv.to_str().unwrap().to_string();
    let one = users[0].name.clone();
    let issue_args = ["issue", one.as_str(), "--replace", "--json"];
    let bulk_args = ["issue", "--csv", csv.as_str(), "--replace", "--json"];
    let revoke_args = ["revoke", one.as_str()];
    let mut spans = [timed(&site, &issue_args), timed(&site, &bulk_args), {
        timed(&site, &issue_args);
        timed(&site, &revoke_args)
    }];
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap();
    let mut rng = XorShift(u64::from_ne_bytes(seed) | 1);
    let (mut bad, mut by_signal) = (vec![], 0);
    for round in 0..ROUNDS {
        let op = round % 3;
        let args: &[&str] = match op {
            0 => &issue_args,
            1 => &bulk_args,
            _ => {
                assert!(tapctl_cmd(&site, &issue_args).status().unwrap().success());
                &revoke_args
            }
        };
        let sig = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP][(round / 3) % 3];
        let mut child = tapctl_cmd(&site, args).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % (spans[op] * 12 / 10).max(1)));
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, sig) };
        let st = child.wait().unwrap();
        if st.code().is_some() {
            spans[op] = spans[op] * 8 / 10;
        } else {
            by_signal += 1;
        }
        // No touch in between: the signal waited until shadow and store agreed.
        for (u, orig) in users.iter().zip(&originals) {
            if let Err(e) = settled(&site, u, orig) {
                bad.push(format!("round {round} {args:?} signal {sig}: {e}"));
            }
        }
        if bad.len() > 10 {
            break;
        }
    }
    eprintln!(
        "figure reset_signals: signals={ROUNDS} died_of_the_signal={by_signal} inconsistencies={}",
        bad.len()
    );
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(
        by_signal >= ROUNDS / 3,
        "most signals should land mid-command: {by_signal}"
    );
}
