//! K1, K1f and K2: key-only servers with pam_tap's key enrollment, measured as whole `ssh` runs
//! against private sshds (examples/bench_tap/keys_sshd.rs): the shipped key-only configuration
//! (packaging/key-only/pam_tap_enroll.conf: `AuthenticationMethods publickey,keyboard-interactive:pam`,
//! the keys command; `pam_tap.so enroll` as the auth stack) beside a key-only sshd with a plain authorized_keys file (K1) and
//! beside a password login through pam_unix (K2). The runs of the things compared alternate run by
//! run; the figures are medians. The servers, the keys command's directory and (K1f) the
//! PostgreSQL cluster are stopped and removed when this returns, on an error too.

use super::*;
use crate::keys_sshd::*;
use crate::support::pg_cluster::PgCluster;

/// The sshd copies: a copy's name is its PAM service. One binary (/usr/sbin/sshd's bytes) and one
/// host key for all.
const SSHD: &str = "tapbench-sshd";
const SSHD_FLEET: &str = "tapbench-sshd-fleet";
const SSHD_UNIX: &str = "tapbench-sshd-unix";
/// K1's two accounts (the same key: enrolled with a pass, and in the plain authorized_keys file),
/// K2's enrolling account and its password account.
const K1_ENROLLED: &str = "tapbench-k1e";
const K1_PLAIN: &str = "tapbench-k1p";
const K2_ENROLL: &str = "tapbench-k2e";
const K2_PASSWORD: &str = "tapbench-k2p";

const K_POLICY: &str = "services = [\"tapbench-sshd\", \"tapbench-sshd-fleet\"]\n[users]\nmax_uid = 64000\n";

const KEY_ONLY: &str = "KbdInteractiveAuthentication no\nPasswordAuthentication no\nPubkeyAuthentication yes\n\
                        AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\n";

fn pam_service(name: &str, auth: &str) -> R<()> {
    let p = PathBuf::from("/etc/pam.d").join(name);
    std::fs::write(&p, format!("{auth}\n{ACCOUNT_SESSION}")).map_err(|e| format!("{}: {e}", p.display()))
}

fn enroll_auth(c: &Ctx, conf: &str) -> String {
    format!(
        "auth     required   {} config={} log_socket={} enroll",
        c.lib().display(),
        c.conf(conf).display(),
        c.log_socket().display()
    )
}

/// Enrolls `key` for `user` through `sshd` with a fresh pass from `conf`'s store (the answer from
/// the askpass file), then checks the store lists it: the login K1 then repeats with the key alone.
fn enroll(c: &Ctx, run: &KeyRun, sshd: &Sshd, conf: &str, user: &str, key: &Path) -> R<f64> {
    let pass = issue(c, conf, user, &["--enroll-key"])?;
    write_private(&run.answer_file(), &format!("{pass}\n"))?;
    let askpass = run.askpass()?;
    let ms = ssh_true(
        sshd,
        user,
        &Client::Key {
            key,
            askpass: Some(&askpass),
        },
    )?;
    let fp = fingerprint(key)?;
    let listed = tapctl(c, conf, &["keys", "list", user, "--json"])?;
    if !listed.contains(&fp) {
        return Err(format!(
            "{user}'s key {fp} is not enrolled after the pass login: {listed}"
        ));
    }
    Ok(ms)
}

/// The store configs of the fleet: tapctl's, host-a's (the module) and its keys command's.
fn fleet_setup(c: &Ctx, run: &KeyRun, pg: &PgCluster) -> R<PathBuf> {
    let db = pg.new_database();
    let enroll = run.enroll_table("dbf");
    write_private(
        &c.conf("keys-fleet-admin"),
        &format!(
            "enabled = true\ndatabase = \"{}\"\n{K_POLICY}",
            pg.uri("tapctl_admin", &db)
        ),
    )?;
    tapctl(c, "keys-fleet-admin", &["init"])?;
    tapctl(c, "keys-fleet-admin", &["hosts", "bind", "host_a", "host-a"])?;
    mkdir_private(&c.work.join("dbkf"))?;
    write_private(
        &c.conf("keys-fleet-host"),
        &format!(
            "enabled = true\ndatabase = \"{}\"\nhost_store = \"{}\"\nhost_name = \"host-a\"\n{K_POLICY}{enroll}",
            pg.uri("host_a", &db),
            c.work.join("dbkf/host.db").display()
        ),
    )?;
    run.keys_config(
        "keys-fleet",
        &format!(
            "enabled = true\ndatabase = \"{}\"\nhost_name = \"host-a\"\n{K_POLICY}{enroll}",
            pg.uri("tapkeys", &db)
        ),
    )
}

/// Median wall ms of the keys command run alone as its user, `n` times, for `user`'s `key`.
fn keys_command_ms(run: &KeyRun, config: &Path, user: &str, key: &Path, n: usize) -> R<f64> {
    let line = std::fs::read_to_string(key.with_extension("pub")).map_err(|e| e.to_string())?;
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return Err(format!("{}: not a public key", key.display()));
    };
    let id = sh(Command::new("id").args(["-u", KEYS_USER]), None)?;
    let id: u32 = id.trim().parse().map_err(|_| format!("id -u {KEYS_USER}: {id}"))?;
    let mut v = vec![];
    for _ in 0..n {
        use std::os::unix::process::CommandExt;
        let t = Instant::now();
        let out = Command::new(run.dir.join("pam_tap_keys"))
            .arg("--config")
            .arg(config)
            .args([user, kind, blob])
            .uid(id)
            .gid(id)
            .output()
            .map_err(|e| e.to_string())?;
        v.push(ms(t));
        if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains(blob) {
            return Err(format!(
                "the keys command alone did not vouch for {user}'s key: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(median(&v))
}

/// K1, K1f and K2, as `--only` asks.
pub fn sections(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    out.progress("K: key-only servers");
    let run = KeyRun::new(c, &[SSHD, SSHD_FLEET, SSHD_UNIX])?;
    add_key_users(&run, &[K1_ENROLLED, K1_PLAIN, K2_ENROLL, K2_PASSWORD])?;
    sh(
        &mut Command::new("chpasswd"),
        Some(&format!("{K2_PASSWORD}:{PASSWORD}\n")),
    )?;
    mkdir_private(&c.work.join("dbk"))?;
    let local = format!(
        "enabled = true\ndatabase = \"{}\"\n{K_POLICY}{}",
        c.work.join("dbk/tap.db").display(),
        run.enroll_table("db")
    );
    write_private(&c.conf("keys-host"), &local)?;
    tapctl(c, "keys-host", &["init"])?;
    let keys_local = run.keys_config("keys-local", &local)?;
    pam_service(SSHD, &enroll_auth(c, "keys-host"))?;
    pam_service(SSHD_FLEET, &enroll_auth(c, "keys-fleet-host"))?;
    pam_service(SSHD_UNIX, "@include common-auth")?;

    let key = run.keypair("k1-key")?;
    run.authorize(K1_PLAIN, &key)?;
    let plain = Sshd::start(&run, SSHD, &format!("{KEY_ONLY}AuthenticationMethods publickey\n"))?;
    let enrolling = Sshd::start(
        &run,
        SSHD,
        &enroll_options(
            &run.dir.join("pam_tap_keys"),
            &keys_local,
            "publickey,keyboard-interactive:pam",
            "yes",
        ),
    )?;
    let first = enroll(c, &run, &enrolling, "keys-host", K1_ENROLLED, &key)?;
    out.progress(&format!("K: {K1_ENROLLED}'s key enrolled on SQLite ({first:.0} ms)"));
    if c.runs("K1") || c.runs("K1f") {
        section_k1(c, &run, &plain, &enrolling, &key, &keys_local, out)?;
    }
    if c.runs("K2") {
        section_k2(c, s, &run, &enrolling, out)?;
    }
    Ok(())
}

/// Whole key logins through each of `sides` (sshd, user), `rounds` timed rounds after one untimed
/// one (page cache, sshd's first fork); each round starts one side further on, so no side always
/// follows the same other. Every login offers `key` alone and must pass with no kbd-int prompt.
fn key_rounds(sides: &[(&Sshd, &str)], key: &Path, rounds: usize) -> R<Vec<Vec<f64>>> {
    let mut ms = vec![vec![]; sides.len()];
    for r in 0..=rounds {
        for j in 0..sides.len() {
            let i = (r + j) % sides.len();
            let t = ssh_true(sides[i].0, sides[i].1, &Client::Key { key, askpass: None })?;
            if r > 0 {
                ms[i].push(t);
            }
        }
    }
    Ok(ms)
}

/// K1 (and K1f): the enrolled key alone through the enrollment configuration ÷ the same key from a
/// plain authorized_keys file; K1k (K1fk): the keys command without the pam step, to split the cost.
fn section_k1(
    c: &Ctx,
    run: &KeyRun,
    plain: &Sshd,
    enrolling: &Sshd,
    key: &Path,
    keys_local: &Path,
    out: &mut Out,
) -> R<()> {
    let command = run.dir.join("pam_tap_keys");
    let keys_only = Sshd::start(run, SSHD, &enroll_options(&command, keys_local, "publickey", "no"))?;
    let timed = TimedKeys::start(run, SSHD, keys_local)?;
    let fleet = if c.runs("K1f") {
        out.progress("K1f: starting a private PostgreSQL cluster");
        let pg = PgCluster::durable(&[]);
        let keys_fleet = fleet_setup(c, run, &pg)?;
        let full = "publickey,keyboard-interactive:pam";
        let sshd = Sshd::start(run, SSHD_FLEET, &enroll_options(&command, &keys_fleet, full, "yes"))?;
        let only = Sshd::start(
            run,
            SSHD_FLEET,
            &enroll_options(&command, &keys_fleet, "publickey", "no"),
        )?;
        enroll(c, run, &sshd, "keys-fleet-admin", K1_ENROLLED, key)?;
        let timed = TimedKeys::start(run, SSHD_FLEET, &keys_fleet)?;
        Some((pg, sshd, only, keys_fleet, timed))
    } else {
        None
    };
    let mut sides = vec![
        (plain, K1_PLAIN),
        (enrolling, K1_ENROLLED),
        (&keys_only, K1_ENROLLED),
        (&timed.sshd, K1_ENROLLED),
    ];
    if let Some((_, sshd, only, _, timed)) = &fleet {
        sides.extend([(sshd, K1_ENROLLED), (only, K1_ENROLLED), (&timed.sshd, K1_ENROLLED)]);
    }
    let ms = key_rounds(&sides, key, c.n(40))?;
    let (pm, em, km) = (median(&ms[0]), median(&ms[1]), median(&ms[2]));
    let exec_ms = keys_command_ms(run, keys_local, K1_ENROLLED, key, c.n(20))?;
    // Every side logged in once more, untimed, before the rounds.
    let logins = ms[0].len() + 1;
    let (runs, in_sshd) = timed.runs(logins)?;
    let ratio = |x: f64| format!("{:.2} ({x:.1} / {pm:.1} ms)", x / pm);
    out.rows.push(Row {
        id: "K1",
        what: "ssh key login: enrollment config (keys command + pam step, SQLite) ÷ plain authorized_keys".into(),
        measured: ratio(em),
        goal: "≤ 1.20".into(),
        pass: Some(em / pm <= 1.20),
    });
    out.rows.push(Row {
        id: "K1k",
        what: "the same with the keys command only (publickey alone, no pam step) ÷ plain".into(),
        measured: ratio(km),
        goal: "(info)".into(),
        pass: None,
    });
    out.notes.push(format!(
        "K1: whole `ssh -i KEY -p PORT USER@127.0.0.1 true` runs, {} per side, the sides alternating, medians; \
         one sshd binary (copies of /usr/sbin/sshd named for their PAM service), one host key, one ed25519 key \
         (in {K1_PLAIN}'s ~/.ssh/authorized_keys for the plain sshd, `AuthenticationMethods publickey`; \
         enrolled with a pass for {K1_ENROLLED} on the enrollment sshd, whose kbd-int step must pass with no \
         prompt: ssh's askpass is /bin/false). K1 − plain = {:.1} ms: the keys command (K1k − plain) {:.1} ms \
         (sshd ran it {runs:.1} times per login, {in_sshd:.1} ms a run as sshd starts it, timed by a wrapper \
         on a copy of K1k's sshd in the same rounds, whose logins took {:.1} ms; one run alone as its user: \
         {exec_ms:.1} ms), the keyboard-interactive round trip and pam_tap's enroll step (K1 − K1k) {:.1} ms",
        ms[0].len(),
        em - pm,
        km - pm,
        median(&ms[3]),
        em - km
    ));
    if let Some((pg, _, _, keys_fleet, timed)) = &fleet {
        let (fm, fk) = (median(&ms[4]), median(&ms[5]));
        let exec_f = keys_command_ms(run, keys_fleet, K1_ENROLLED, key, c.n(20))?;
        let (runs_f, in_sshd_f) = timed.runs(logins)?;
        out.rows.push(Row {
            id: "K1f",
            what: "the same on the fleet store (PostgreSQL: module as host_a, keys command as tapkeys) ÷ plain".into(),
            measured: ratio(fm),
            goal: "≤ 1.50".into(),
            pass: Some(fm / pm <= 1.50),
        });
        out.rows.push(Row {
            id: "K1fk",
            what: "K1f with the keys command only (publickey alone, no pam step) ÷ plain".into(),
            measured: ratio(fk),
            goal: "(info)".into(),
            pass: None,
        });
        out.notes.push(format!(
            "K1f: interleaved with K1's runs, against host-a's sshd (its module connects as host_a, its keys \
             command as tapkeys, each to 127.0.0.1 with TLS verify-full and SCRAM; PostgreSQL with fsync on, \
             started in {} ms). K1f − plain = {:.1} ms: the keys command (K1fk − plain) {:.1} ms (sshd ran it \
             {runs_f:.1} times per login, each run connecting to the store: {in_sshd_f:.1} ms a run as sshd \
             starts it (the timed copy's logins: {:.1} ms), {exec_f:.1} ms a run alone; K1fk − plain less those \
             runs: {:.1} ms), the kbd-int round trip and the enroll step, which connects as host_a (K1f − K1fk) \
             {:.1} ms",
            pg.start_ms.load(std::sync::atomic::Ordering::SeqCst),
            fm - pm,
            fk - pm,
            median(&ms[6]),
            fk - pm - runs_f * in_sshd_f,
            fm - fk
        ));
    }
    out.progress("K1 done");
    Ok(())
}

/// K2: a first login that enrolls a fresh key with a fresh pass ÷ a password login through pam_unix.
fn section_k2(c: &Ctx, s: &Shared, run: &KeyRun, enrolling: &Sshd, out: &mut Out) -> R<()> {
    let unix = Sshd::start(
        run,
        SSHD_UNIX,
        "KbdInteractiveAuthentication yes\nPasswordAuthentication no\nPubkeyAuthentication no\n\
         AuthenticationMethods keyboard-interactive\n",
    )?;
    let askpass = run.askpass()?;
    let n = c.n(30);
    // Keys made before the clock runs; one per enrollment.
    let keys: Vec<PathBuf> = (0..=n).map(|i| run.keypair(&format!("k2-key-{i}"))).collect::<R<_>>()?;
    let (mut e, mut p) = (vec![], vec![]);
    for (i, key) in keys.iter().enumerate() {
        let pass = issue(c, "keys-host", K2_ENROLL, &["--enroll-key"])?;
        write_private(&run.answer_file(), &format!("{pass}\n"))?;
        let em = ssh_true(
            enrolling,
            K2_ENROLL,
            &Client::Key {
                key,
                askpass: Some(&askpass),
            },
        )?;
        write_private(&run.answer_file(), &format!("{PASSWORD}\n"))?;
        let pm = ssh_true(&unix, K2_PASSWORD, &Client::Password { askpass: &askpass })?;
        // The first round warms up, untimed.
        if i > 0 {
            e.push(em);
            p.push(pm);
        }
    }
    let listed = tapctl(c, "keys-host", &["keys", "list", K2_ENROLL, "--json"])?;
    let enrolled = listed.matches("SHA256:").count();
    if enrolled != keys.len() {
        return Err(format!(
            "K2: {enrolled} keys enrolled for {K2_ENROLL} after {} logins",
            keys.len()
        ));
    }
    let (em, pm) = (median(&e), median(&p));
    let (_, verify_ms) = kdf_ms(&c.policy.kdf, c.n(8))?;
    out.rows.push(Row {
        id: "K2",
        what: "ssh first login enrolling a fresh key with a pass (SQLite) ÷ password login via pam_unix".into(),
        measured: format!("{:.2} ({em:.1} / {pm:.1} ms)", em / pm),
        goal: "≤ 1.50".into(),
        pass: Some(em / pm <= 1.50),
    });
    out.notes.push(format!(
        "K2: {} alternating runs, medians; each enrollment run offers a key never seen and answers a pass issued \
         (`tapctl issue {K2_ENROLL} --enroll-key`) before the clock starts, through the K1 enrollment sshd; the \
         password run answers keyboard-interactive through Debian's common-auth (pam_unix, yescrypt set by \
         chpasswd) on a sshd copy with no publickey step; both answers come from an askpass program reading \
         a root-only file. K2 − password = {:.1} ms; where the enrollment login pays one argon2id verify \
         ({verify_ms:.1} ms in one thread here) and durable commits (the pass consumed, the key enrolled; a 4 KiB \
         fsync on this disk: {:.1} ms), the password login pays one yescrypt",
        e.len(),
        em - pm,
        s.fsync
    ));
    out.progress("K2 done");
    Ok(())
}
