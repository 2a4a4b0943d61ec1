//! The shadow side of a reset pass, through the real tapctl, chpasswd, chage, libpam and pam_unix:
//! shadow and store agree even when tapctl is killed (SIGKILL at random points of `issue`,
//! `issue --csv` and `revoke`), and a reset pass that ended leaves no working shadow secret.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::accounts::User;
use crate::support::site::Site;
use crate::support::XorShift;
use pam_tap_base::hash;
use pam_tap_base::passcode::normalize;

/// How a reset pass ends, and what settling it costs.
mod ending;
/// tapctl killed or interrupted mid-command.
mod interrupted;

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
            let rows: Vec<String> = c
                .prepare(
                    "SELECT id, pending, pending_owner, reset_password, length(derive_key), revoked_at, used_at
                       FROM passes WHERE pending IS NOT NULL AND user = ?1",
                )
                .unwrap()
                .query_map([&u.name], |r| {
                    Ok(format!(
                        "pass {} pending={:?} owner={:?} reset={} key={} revoked={:?} used={:?}",
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<i64>>(6)?
                    ))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            return Err(format!("{n} pending rows after a touch: {rows:?}"));
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

/// tapctl itself as the child: the signals these tests send must reach it, not a shell before it.
fn tapctl_cmd(site: &Site, args: &[&str]) -> Command {
    site.tapctl_direct(args)
}

fn timed(site: &Site, args: &[&str]) -> u64 {
    let t = Instant::now();
    let st = tapctl_cmd(site, args).status().unwrap();
    assert!(st.success(), "{args:?}");
    t.elapsed().as_micros() as u64
}
