//! `tapctl status` and the module agree, cell by cell: every state a pass can be in is built for
//! real (throwaway users and groups, passes issued with tapctl, wrong answers and logins through
//! the module, usermod and chage on the account; only the clock moving past a window and a pass
//! locked for good are written into the store, as the other tests move the clock), then `tapctl
//! status --json` is asked, and then the built module runs with the pass itself under the real
//! libpam (pam_tap alone on the stack, so its own return code is the result). Status usable ⇔ the
//! module accepts; for a refusal, the module's auth line names the outcome this table expects for
//! the reason (a table of its own here, not the code's mapping). A reason no cell reaches fails.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::accounts::{retry, Group, User};
use crate::support::figures::figure;
use crate::support::site::{stderr, Site};

/// The service the module runs at: pam_tap alone, with DEBUG lines (a policy that is off logs
/// only at DEBUG).
const SERVICE: &str = "login";

/// Each reason of `tapctl status`, and the `outcome=` the module's auth line gives the right
/// answer in that state.
const EXPECTED: [(&str, &str); 19] = [
    ("usable", "outcome=accepted"),
    ("usable_in_grace", "outcome=accepted_in_grace"),
    ("policy_off", "outcome=disabled"),
    ("unknown_user", "outcome=unknown_user"),
    ("no_pass", "outcome=no_pass"),
    ("service_out_of_scope", "outcome=refused reason=service"),
    ("host_out_of_scope", "outcome=refused reason=host"),
    ("enroll_only", "outcome=refused reason=enroll_only"),
    ("ineligible", "outcome=not_eligible"),
    ("not_yet_valid", "outcome=not_yet_valid"),
    ("expired", "outcome=expired"),
    ("used", "outcome=used"),
    ("revoked", "outcome=revoked"),
    ("locked", "outcome=locked"),
    ("resting", "outcome=resting"),
    ("uid_changed", "outcome=refused reason=uid"),
    ("account_locked", "outcome=refused reason=locked"),
    ("account_expired", "outcome=refused reason=expired"),
    ("holder_privileged", "outcome=refused reason=role"),
];

/// A pass-shaped answer for cells with no pass of their own.
const ANY_PASS: &str = "ABCDEFGHJK";

/// One cell: the state it builds (named by the reason it should come to), the user and the answer
/// the module gets (the pass itself where there is one).
struct Cell {
    state: &'static str,
    user: String,
    answer: String,
    /// `--service` for `status`, where the cell is about one.
    service: Option<&'static str>,
    /// When the pass was last used: a grace login waits out the module's relogin gap.
    used_at: Option<Instant>,
}

struct Matrix {
    site: Site,
    issuers: Group,
    admins: Group,
    excluded: Group,
    /// Kept alive for the cells' lifetime.
    users: Vec<User>,
    cells: Vec<Cell>,
}

impl Matrix {
    fn new() -> Matrix {
        let (issuers, admins, excluded) = (Group::new(), Group::new(), Group::new());
        let policy = format!(
            "[roles]\nissuers = [\"{}\"]\nadmin_groups = [\"{}\"]\n\
             [users]\nexclude_groups = [\"{}\"]\n\
             [pass]\nmax_failures = 2\nlockout = \"10m\"\n\
             [handoff]\nrelogin = true\ngrace = \"15m\"\n",
            issuers.name, admins.name, excluded.name
        );
        let site = Site::new(&policy);
        site.stack_only(SERVICE, "debug");
        Matrix {
            site,
            issuers,
            admins,
            excluded,
            users: Vec::new(),
            cells: Vec::new(),
        }
    }

    fn user(&mut self, with_password: bool) -> String {
        let u = match with_password {
            true => User::with_password("Old-password-42x"),
            false => User::new(),
        };
        let name = u.name.clone();
        self.users.push(u);
        name
    }

    fn cell(&mut self, state: &'static str, user: String, answer: String) {
        self.cells.push(Cell {
            state,
            user,
            answer,
            service: None,
            used_at: None,
        });
    }

    /// A fresh user with a pass issued by root (`extra` to `tapctl issue`); returns both.
    fn issued(&mut self, extra: &[&str]) -> (String, String) {
        let user = self.user(true);
        let mut args = vec!["--keep-password"];
        args.extend_from_slice(extra);
        let pass = self.site.issue(&user, &args).pass.clone();
        (user, pass)
    }

    /// The module under libpam: its code, and its auth line for this run.
    fn module(&self, user: &str, answer: &str) -> (String, String) {
        self.site.log.clear();
        let run = self.site.auth(SERVICE, user, answer);
        let lines = self.site.log.settled_lines();
        let line = lines
            .iter()
            .find(|l| {
                l.contains("auth service=") && (l.contains(&format!("user={user} ")) || l.contains("user=(unknown)"))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no auth line for {user}: {lines:?}"));
        (run.auth().to_string(), line)
    }

    fn sql(&self, update: &str, user: &str) {
        let n = self.site.sqlite().execute(update, [user]).unwrap();
        assert_eq!(n, 1, "{update} for {user}");
    }
}

/// The states, each built for real.
fn build(m: &mut Matrix) {
    let (u, p) = m.issued(&[]);
    m.cell("usable", u, p);

    // A reset pass used once, its forced change not done: within the grace window, with relogin.
    let u = m.user(true);
    let p = m.site.issue_reset(&u, &[]).pass.clone();
    assert_eq!(m.module(&u, &p).0, "PAM_SUCCESS");
    m.cell("usable_in_grace", u, p);
    m.cells.last_mut().unwrap().used_at = Some(Instant::now());

    m.cell("unknown_user", "taptnosuchuser".into(), ANY_PASS.into());
    let u = m.user(false);
    m.cell("no_pass", u, ANY_PASS.into());

    let (u, p) = m.issued(&["--service", "sshd"]);
    m.cell("service_out_of_scope", u, p);
    m.cells.last_mut().unwrap().service = Some(SERVICE);
    let (u, p) = m.issued(&["--host", "elsewhere.example"]);
    m.cell("host_out_of_scope", u, p);
    // A pass that enrolls an SSH key: a credential at the key enrollment step only.
    let (u, p) = m.issued(&["--enroll-key"]);
    m.cell("enroll_only", u, p);

    let (u, p) = m.issued(&[]);
    let excluded = m.excluded.name.clone();
    m.users.last().unwrap().add_group(&excluded);
    m.cell("ineligible", u, p);

    let (u, p) = m.issued(&["--start", "+10m"]);
    m.cell("not_yet_valid", u, p);
    let (u, p) = m.issued(&[]);
    // The clock past the window.
    m.sql(
        "UPDATE passes SET expires_at = CAST(strftime('%s','now') AS INTEGER) - 1 WHERE user = ?1",
        &u,
    );
    m.cell("expired", u, p);
    let (u, p) = m.issued(&["--one-time"]);
    assert_eq!(m.module(&u, &p).0, "PAM_SUCCESS");
    m.cell("used", u, p);
    let (u, p) = m.issued(&[]);
    assert!(m.site.tapctl(&["revoke", &u]).status.success());
    m.cell("revoked", u, p);
    // A reusable reset pass whose user has set a password since: the next touch ends it, and
    // status, which settles nothing, says so from the same decision.
    let u = m.user(true);
    let p = m.site.issue_reset(&u, &["--reusable"]).pass.clone();
    m.users.last().unwrap().set_password("Own-new-password-7q");
    m.cell("revoked", u, p);
    let (u, p) = m.issued(&[]);
    m.sql(
        "UPDATE passes SET locked_at = CAST(strftime('%s','now') AS INTEGER) WHERE user = ?1",
        &u,
    );
    m.cell("locked", u, p);
    let (u, p) = m.issued(&["--reusable"]);
    for wrong in ["ABCDEFGHJK", "ABCDEFGHJM"] {
        assert_ne!(m.module(&u, wrong).0, "PAM_SUCCESS");
    }
    m.cell("resting", u, p);

    // The account deleted and made again under its name, with another uid: someone else now.
    let (u, p) = m.issued(&[]);
    m.users.last().unwrap().remake();
    m.users.last().unwrap().set_password("Old-password-42x");
    m.cell("uid_changed", u, p);

    let (u, p) = m.issued(&[]);
    retry(usermod(&["-L", &u]));
    m.cell("account_locked", u, p);
    let (u, p) = m.issued(&[]);
    let mut chage = Command::new("chage");
    chage.args(["-E", "1", &u]);
    retry(chage);
    m.cell("account_expired", u, p);

    // An issuer's pass, and its holder has joined an admin group since.
    let ivy = m.user(false);
    m.users.last().unwrap().add_group(&m.issuers.name.clone());
    let u = m.user(true);
    let out = m
        .site
        .tapctl_env(&["issue", &u, "--keep-password", "--json"], &[("SUDO_USER", &ivy)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["pass"]
        .as_str()
        .unwrap()
        .to_string();
    let admins = m.admins.name.clone();
    m.users.last().unwrap().add_group(&admins);
    m.cell("holder_privileged", u, p);
}

fn usermod(args: &[&str]) -> Command {
    let mut c = Command::new("usermod");
    c.args(args);
    c
}

/// `tapctl status --json` for a cell.
fn status(m: &Matrix, c: &Cell) -> serde_json::Value {
    let mut args = vec!["status", c.user.as_str(), "--json"];
    if let Some(s) = c.service {
        args.extend(["--service", s]);
    }
    let out = m.site.tapctl(&args);
    assert!(out.status.success(), "{}: {}", c.state, stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Asks `status`, then the module, and checks they agree; returns the reason status gave.
fn judge(m: &Matrix, c: &Cell) -> String {
    if let Some(t) = c.used_at {
        // The module refuses a grace login within 10 s of the pass's last use (a race guard
        // status does not model): wait it out.
        std::thread::sleep(Duration::from_secs(11).saturating_sub(t.elapsed()));
    }
    let s = status(m, c);
    let reason = s["reason"].as_str().unwrap().to_string();
    let mut text = vec!["status", c.user.as_str()];
    text.extend(c.service.iter().flat_map(|s| ["--service", s]));
    eprint!("$ tapctl {}\n{}", text.join(" "), m.site.tapctl_ok(&text));
    let (code, line) = m.module(&c.user, &c.answer);
    let accepted = code == "PAM_SUCCESS";
    eprintln!("cell {:<20} status {:<20} module {code:<13} {line}", c.state, reason);
    assert_eq!(reason, c.state, "the cell's state is not what status says: {s}");
    assert_eq!(
        s["usable"] == true,
        accepted,
        "{}: status {s} but the module said {code}: {line}",
        c.state
    );
    let want = EXPECTED.iter().find(|(r, _)| *r == reason).map(|(_, o)| *o);
    let want = want.unwrap_or_else(|| panic!("{reason} has no expected outcome"));
    assert!(
        line.contains(&format!("{want} ")) || line.ends_with(want),
        "{}: status says {reason}, the module's line is not {want}: {line}",
        c.state
    );
    assert_eq!(s["log_outcome"], want.trim_start_matches("outcome="), "{s}");
    reason
}

#[test]
fn status_and_the_module_agree_on_every_state() {
    require_root!();
    let mut m = Matrix::new();
    build(&mut m);
    let mut seen: Vec<String> = m.cells.iter().map(|c| judge(&m, c)).collect();

    // Last, the whole policy off: a usable pass is refused, and status says why.
    let (u, p) = m.issued(&[]);
    let text = std::fs::read_to_string(&m.site.config).unwrap();
    let off = text.replacen("enabled = true", "enabled = false", 1);
    assert_ne!(text, off);
    crate::support::site::write_file(&m.site.config, off.as_bytes(), 0o600);
    m.cell("policy_off", u, p);
    seen.push(judge(&m, m.cells.last().unwrap()));

    let cells = seen.len();
    seen.sort();
    seen.dedup();
    let mut all: Vec<&str> = EXPECTED.iter().map(|(r, _)| *r).collect();
    all.sort();
    assert_eq!(seen, all, "every reason is reached by a cell");
    let vocab = m.site.tapctl_json(&["vocabulary", "--json"]);
    let mut words: Vec<&str> = vocab["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    words.sort();
    assert_eq!(words, all, "tapctl vocabulary's reasons are the matrix's");
    figure(
        "status_agreement",
        &format!(
            "{cells} cells ({} reasons), tapctl status and the module agree on each",
            seen.len()
        ),
    );
}
