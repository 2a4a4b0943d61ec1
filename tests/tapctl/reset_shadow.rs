//! The shadow side of a reset pass, through the real tapctl, chpasswd, chage, libpam and pam_unix:
//! shadow and store agree even when tapctl is killed (SIGKILL at random points of `issue`,
//! `issue --csv` and `revoke`), and a reset pass that ended leaves no working shadow secret.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Site, User};
use crate::support::XorShift;
use pam_tap::hash;
use pam_tap::passcode::normalize;

const ORIGINAL: &str = "Orig-Pass-4821";
const FRESH: &str = "Fresh-Pass-9173x";

/// (hash, last-change field) of the user's /etc/shadow line.
fn shadow(u: &User) -> (String, String) {
    let line = u.shadow();
    let f: Vec<&str> = line.split(':').collect();
    (f[1].to_string(), f[2].to_string())
}

fn db(site: &Site) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(&site.db).unwrap();
    c.busy_timeout(Duration::from_secs(30)).unwrap();
    c
}

fn pass_of(v: &serde_json::Value) -> String {
    v["pass"].as_str().unwrap().to_string()
}

/// The secret the reset put into /etc/shadow, as someone holding the pass and a copy of the
/// database computes it.
fn derived(site: &Site, pass: &str) -> String {
    let key: Vec<u8> = db(site)
        .query_row("SELECT derive_key FROM passes ORDER BY id DESC LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(key.len(), 32, "the live pass keeps its derive key");
    let code = normalize(pass.as_bytes()).unwrap();
    hash::derive(&key, &code).to_string()
}

fn key_len(site: &Site, user: &str) -> usize {
    db(site)
        .query_row(
            "SELECT length(derive_key) FROM passes WHERE user = ?1 ORDER BY id DESC LIMIT 1",
            [user],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as usize
}

#[test]
fn a_reusable_reset_pass_ends_when_the_user_sets_a_password() {
    require_root!();
    let site = Site::new("");
    let u = User::with_password(ORIGINAL);
    let pass = pass_of(&site.issue(&u.name, &["--reusable"]));
    let d = site.pam(
        &u.name,
        &["authenticate", "acct_mgmt", "chauthtok_expired"],
        &[&pass, FRESH, FRESH],
    );
    assert_eq!(d.result("chauthtok_expired"), "PAM_SUCCESS", "{}", d.stdout);
    let d = site.pam(&u.name, &["authenticate"], &[&pass]);
    assert_eq!(
        d.result("authenticate"),
        "PAM_AUTH_ERR",
        "the reusable pass is dead once the user set a password: {}",
        d.stdout
    );
    assert_eq!(site.show(&u.name)["status"], "revoked");
    assert_eq!(key_len(&site, &u.name), 0, "derive key wiped");
    let d = site.pam(&u.name, &["authenticate", "acct_mgmt"], &[FRESH]);
    assert_eq!(
        (d.result("authenticate"), d.result("acct_mgmt")),
        ("PAM_SUCCESS", "PAM_SUCCESS"),
        "{}",
        d.stdout
    );
}

/// How each way a reset pass can end is brought about, and which touch settles it.
enum End {
    Revoke,
    ExpireThenLogin,
    LockThenShow,
    ExpireThenPurge,
    UsedWithoutHandoffThenLogin,
}

#[test]
fn a_dead_reset_pass_leaves_no_working_shadow_secret() {
    require_root!();
    let site = Site::new("");
    let mut failures = vec![];
    for (label, end) in [
        ("revoked", End::Revoke),
        ("expired, next login", End::ExpireThenLogin),
        ("locked, next tapctl command", End::LockThenShow),
        ("expired, purge", End::ExpireThenPurge),
        ("used, handoff never done, next login", End::UsedWithoutHandoffThenLogin),
    ] {
        let u = User::with_password(ORIGINAL);
        let before = shadow(&u);
        let pass = pass_of(&site.issue(&u.name, &[]));
        let secret = derived(&site, &pass);
        // While the pass lives, the derived secret is the account's password: that is the reset.
        assert_ne!(shadow(&u).0, before.0, "{label}: the issue reset the password");
        // The clock moves on: the pass's end, as the database records it.
        let sql = |q: &str| {
            db(&site).execute(q, [&u.name]).unwrap();
        };
        match end {
            End::Revoke => {
                let out = site.tapctl(&["revoke", &u.name]);
                assert!(out.status.success(), "{}", crate::common::stderr(&out));
            }
            End::ExpireThenLogin | End::ExpireThenPurge => {
                sql("UPDATE passes SET starts_at = starts_at - 7200, expires_at = created_at - 60 WHERE user = ?1")
            }
            End::LockThenShow => sql("UPDATE passes SET locked_at = created_at WHERE user = ?1"),
            End::UsedWithoutHandoffThenLogin => sql(
                "UPDATE passes SET used_at = created_at - 86400, use_count = 1, starts_at = created_at - 90000
                 WHERE user = ?1",
            ),
        }
        match end {
            End::LockThenShow => {
                let _ = site.tapctl(&["show", &u.name]);
            }
            End::ExpireThenPurge => {
                let out = site.tapctl(&["purge"]);
                assert!(out.status.success(), "{}", crate::common::stderr(&out));
            }
            _ => {}
        }
        // The side door: the derived secret typed at a login prompt, straight into pam_unix.
        let d = site.pam(&u.name, &["authenticate"], &[&secret]);
        if d.result("authenticate") != "PAM_AUTH_ERR" {
            failures.push(format!(
                "{label}: the derived secret still logs in: {}",
                d.result("authenticate")
            ));
        }
        let after = shadow(&u);
        match end {
            End::Revoke => {
                if after != before {
                    failures.push(format!("{label}: previous password not restored: {after:?}"));
                }
            }
            _ => {
                if after.0 != "!" {
                    failures.push(format!("{label}: account not locked: {after:?}"));
                }
            }
        }
        if key_len(&site, &u.name) != 0 {
            failures.push(format!("{label}: derive key kept"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[derive(Debug)]
struct Row {
    id: i64,
    revoked: bool,
    set: Option<String>,
    prev: Option<String>,
    key: usize,
    issued_audits: i64,
}

fn rows(c: &rusqlite::Connection, user: &str) -> Vec<Row> {
    let mut st = c
        .prepare(
            "SELECT id, revoked_at IS NOT NULL, shadow_set, shadow_prev, length(derive_key),
                (SELECT count(*) FROM audit a WHERE a.pass_id = p.id AND a.event = 'issued')
             FROM passes p WHERE user = ?1 ORDER BY id",
        )
        .unwrap();
    st.query_map([user], |r| {
        Ok(Row {
            id: r.get(0)?,
            revoked: r.get(1)?,
            set: r.get(2)?,
            prev: r.get(3)?,
            key: r.get::<_, i64>(4)? as usize,
            issued_audits: r.get(5)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Right after a kill: the account is untouched, or one of its pass rows (with its `issued` audit
/// row) names the hash it holds, as the one that pass set or the one from before it.
fn explained_now(site: &Site, u: &User, original: &str) -> Result<(), String> {
    let (hash, _) = shadow(u);
    let rows = rows(&db(site), &u.name);
    if let Some(r) = rows.iter().find(|r| r.issued_audits != 1) {
        return Err(format!("{}: pass {} has {} issued rows", u.name, r.id, r.issued_audits));
    }
    if hash == original
        || rows
            .iter()
            .any(|r| Some(&hash) == r.set.as_ref() || Some(&hash) == r.prev.as_ref())
    {
        Ok(())
    } else {
        Err(format!("{}: shadow hash explained by no pass row ({rows:?})", u.name))
    }
}

/// After the next tapctl command on the user: nothing pending, the newest pass live with its
/// reset in place, or revoked with the original password back and its derive key gone.
fn settled(site: &Site, u: &User, original: &str) -> Result<(), String> {
    let c = db(site);
    let has_pending: i64 = c
        .query_row(
            "SELECT count(*) FROM pragma_table_info('passes') WHERE name = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if has_pending == 1 {
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM passes WHERE pending IS NOT NULL AND user = ?1",
                [&u.name],
                |r| r.get(0),
            )
            .unwrap();
        if n != 0 {
            return Err(format!("{n} pending rows after a touch"));
        }
    }
    let (hash, lastchg) = shadow(u);
    let rows = rows(&c, &u.name);
    if let Some(r) = rows.iter().find(|r| r.issued_audits != 1) {
        return Err(format!("{}: pass {} has {} issued rows", u.name, r.id, r.issued_audits));
    }
    match rows.last() {
        None if hash == original => Ok(()),
        Some(l) if !l.revoked && l.set.as_ref() == Some(&hash) && lastchg == "0" && l.key == 32 => Ok(()),
        Some(l) if l.revoked && hash == original && l.key == 0 => Ok(()),
        l => Err(format!(
            "{}: shadow ({}, lastchg {lastchg}) does not match the newest pass {l:?}",
            u.name,
            if hash == original { "original" } else { "other" }
        )),
    }
}

fn tapctl_cmd(site: &Site, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tapctl"));
    c.arg("--config")
        .arg(&site.config)
        .args(args)
        .env_remove("SUDO_USER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn timed(site: &Site, args: &[&str]) -> u64 {
    let t = Instant::now();
    let st = tapctl_cmd(site, args).status().unwrap();
    assert!(st.success(), "{args:?}");
    t.elapsed().as_micros() as u64
}

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
fn the_login_time_check_costs_little_and_settling_runs_once() {
    require_root!();
    use pam_tap::config::Policy;
    use pam_tap::reset;
    use pam_tap::store::{Context, Store};
    use pam_tap::users::System;
    let site = Site::new("");
    let u = User::with_password(ORIGINAL);
    site.issue(&u.name, &["--reusable"]);
    let policy = Policy::load(&site.config).unwrap();
    let mut store = Store::open(&site.db).unwrap();
    let rec = store.latest_for(&u.name).unwrap().unwrap();
    // A moment after the issue.
    let now = rec.created_at + 1;
    let ctx = Context::default();
    const N: u32 = 2000;
    let t = Instant::now();
    for _ in 0..N {
        let r = reset::at_login(&mut store, &System, &policy, rec.clone(), now, &ctx).unwrap();
        assert_eq!((r.id, r.revoked_at), (rec.id, None));
    }
    let live = t.elapsed() / N;
    // The pass ends: the next login attempt locks the account, once.
    let t = Instant::now();
    let r = reset::at_login(&mut store, &System, &policy, rec.clone(), rec.expires_at, &ctx).unwrap();
    let settle = t.elapsed();
    assert!(r.derive_key.is_empty(), "settled");
    assert_eq!(shadow(&u).0, reset::LOCKED);
    let t = Instant::now();
    for _ in 0..N {
        reset::at_login(&mut store, &System, &policy, r.clone(), rec.expires_at, &ctx).unwrap();
    }
    let settled = t.elapsed() / N;
    eprintln!(
        "figure reset_login: live reset pass check {live:?}/login, settled pass {settled:?}/login, \
         settling a dead pass (lock via chpasswd+chage) {settle:?} once"
    );
    assert!(live < Duration::from_millis(5), "{live:?}");
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
