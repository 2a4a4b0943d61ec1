//! tapctl killed with SIGKILL at random points of `issue`, `issue --csv` and `revoke`, or stopped
//! with SIGTERM/SIGINT: every account stays explained.

use super::*;

#[test]
fn sigkill_during_issue_bulk_issue_and_revoke_leaves_every_account_explained() {
    require_root!();
    const ROUNDS: usize = 120;
    let site = Site::new("");
    let b = Batch::new(&site, 3);
    // How long each command takes here, to spread the kills over all of it.
    // (The machine's load varies: each span then adapts, shrinking after a kill that came too late.)
    let mut spans = b.spans(&site);
    let first_spans = spans;
    let mut rng = seeded();
    let mut bad = vec![];
    let (mut killed, mut finished) = (0, 0);
    for round in 0..ROUNDS {
        let op = round % 3;
        let span = spans[op] * 12 / 10;
        let args = match b.command(&site, op) {
            Ok(args) => args,
            Err(e) => {
                bad.push(format!("round {round}: {e}"));
                continue;
            }
        };
        if signalled(&site, &args, libc::SIGKILL, &mut rng, span) {
            killed += 1;
            spans[op] = spans[op] * 102 / 100;
        } else {
            finished += 1;
            spans[op] = spans[op] * 8 / 10;
        }
        bad.extend(explained_then_settled(&site, &b, &format!("round {round} {args:?}")));
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
    let b = Batch::new(&site, 2);
    let mut spans = b.spans(&site);
    let mut rng = seeded();
    let (mut bad, mut by_signal) = (vec![], 0);
    for round in 0..ROUNDS {
        let op = round % 3;
        let args = b.command(&site, op).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let sig = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP][(round / 3) % 3];
        if signalled(&site, &args, sig, &mut rng, spans[op] * 12 / 10) {
            by_signal += 1;
        } else {
            spans[op] = spans[op] * 8 / 10;
        }
        // No touch in between: the signal waited until shadow and store agreed.
        for (u, orig) in b.users.iter().zip(&b.originals) {
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

/// Users with their original password, a CSV naming them all, and the three commands these tests
/// interrupt: `issue` for the first user, `issue --csv` for all, `revoke` of the first.
struct Batch {
    users: Vec<User>,
    originals: Vec<String>,
    csv: String,
}

impl Batch {
    fn new(site: &Site, n: usize) -> Batch {
        let users: Vec<User> = (0..n).map(|_| User::with_password(ORIGINAL)).collect();
        let originals = users.iter().map(|u| shadow(u).0).collect();
        let csv = site.dir.path().join("batch.csv");
        std::fs::write(&csv, users.iter().map(|u| format!("{}\n", u.name)).collect::<String>()).unwrap();
        let csv = csv.to_str().unwrap().to_string();
        Batch { users, originals, csv }
    }

    /// The arguments of command `op`: 0 issue, 1 bulk issue, 2 revoke.
    fn args(&self, op: usize) -> Vec<&str> {
        let one = self.users[0].name.as_str();
        match op {
            0 => vec!["issue", one, "--replace", "--json"],
            1 => vec!["issue", "--csv", self.csv.as_str(), "--replace", "--json"],
            _ => vec!["revoke", one],
        }
    }

    /// Command `op`, ready to run: before a revoke, a pass to revoke is issued (what that issue
    /// said when it fails).
    fn command(&self, site: &Site, op: usize) -> Result<Vec<&str>, String> {
        if op == 2 {
            let out = tapctl_cmd(site, &self.args(0)).output().unwrap();
            if !out.status.success() {
                return Err(format!(
                    "could not issue before the revoke: {:?} {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Ok(self.args(op))
    }

    /// How long issue, bulk issue and revoke (after an issue) take here, in microseconds.
    fn spans(&self, site: &Site) -> [u64; 3] {
        [timed(site, &self.args(0)), timed(site, &self.args(1)), {
            timed(site, &self.args(0));
            timed(site, &self.args(2))
        }]
    }
}

/// A generator seeded from getrandom: where the signals strike.
fn seeded() -> XorShift {
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap();
    XorShift(u64::from_ne_bytes(seed) | 1)
}

/// tapctl `args`, sent `sig` at a random point of its first `span` microseconds: whether it died
/// of the signal (rather than finishing first).
fn signalled(site: &Site, args: &[&str], sig: i32, rng: &mut XorShift, span: u64) -> bool {
    let mut child = tapctl_cmd(site, args).spawn().unwrap();
    std::thread::sleep(Duration::from_micros(rng.next() % span.max(1)));
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, sig) };
    child.wait().unwrap().code().is_none()
}

/// Right after a kill every account of the batch is explained, and after the next touch (any
/// tapctl command on the user) settled; what is not, prefixed with `when`.
fn explained_then_settled(site: &Site, b: &Batch, when: &str) -> Vec<String> {
    let mut bad = vec![];
    for (u, orig) in b.users.iter().zip(&b.originals) {
        if let Err(e) = explained_now(site, u, orig) {
            bad.push(format!("{when}, right after the kill: {e}"));
        }
        // The next touch settles what the kill left. A touch that itself fails (the shadow files
        // held by another test's useradd past its wait) leaves the mark for the touch after it, as
        // the product promises; a touch that succeeds must leave nothing pending.
        let mut failed = vec![];
        for _ in 0..5 {
            let touch = tapctl_cmd(site, &["show", &u.name]).output().unwrap();
            if touch.status.success() {
                break;
            }
            failed.push(String::from_utf8_lossy(&touch.stderr).trim().to_string());
            std::thread::sleep(Duration::from_millis(200));
        }
        if failed.len() == 5 {
            bad.push(format!("{when}: five touches failed: {failed:?}"));
        } else if let Err(e) = settled(site, u, orig) {
            bad.push(format!(
                "{when}, after the next touch (failed touches before it: {failed:?}): {e}"
            ));
        } else if !failed.is_empty() {
            eprintln!(
                "{when}: {} touch(es) failed before one settled: {failed:?}",
                failed.len()
            );
        }
    }
    bad
}
