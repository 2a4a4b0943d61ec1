//! The module's core run in this process (B2, B4) and the KDF on its own.

use super::*;

/// A bench Handle over a fixed user and answer, for the module's core run in this process.
pub struct BenchHandle {
    user: String,
    answer: String,
}

impl Handle for BenchHandle {
    fn user(&mut self) -> Result<String, HandleError> {
        Ok(self.user.clone())
    }
    fn service(&self) -> Option<String> {
        Some("tapbench".into())
    }
    fn rhost(&self) -> Option<String> {
        None
    }
    fn authtok(&mut self) -> Result<Secret, HandleError> {
        Ok(Zeroizing::new(self.answer.as_bytes().to_vec()))
    }
    fn info(&mut self, _: &str) -> Result<(), HandleError> {
        Ok(())
    }
    fn prompt_secret(&mut self, _: &str) -> Result<Secret, HandleError> {
        Err(HandleError::Conversation)
    }
    fn new_authtok(&mut self) -> Result<(), HandleError> {
        Ok(())
    }
    fn authtok_set(&self) -> bool {
        false
    }
    fn set_old_authtok(&mut self, _: &[u8]) -> Result<(), HandleError> {
        Ok(())
    }
    fn remember(&mut self, _: Accepted) -> Result<(), HandleError> {
        Ok(())
    }
    fn remembered(&self) -> Option<Accepted> {
        None
    }
}

/// One `pam_sm_authenticate` decision in this process, timed: config load, name service lookup,
/// store open, lookup, verify, consume, audit, syslog line, close.
pub fn auth_once(c: &Ctx, conf: &str, user: &str, answer: &str) -> R<f64> {
    let mut h = BenchHandle {
        user: user.into(),
        answer: answer.into(),
    };
    let t = Instant::now();
    let policy = Policy::load(&c.conf(conf)).map_err(|e| e.to_string())?;
    let mut log = Syslog::new(Some(c.log_socket()), false);
    let mut env = Env {
        now: now(),
        dir: &System,
        log: &mut log,
        debug: false,
        caller_is_root: true,
        sudo: &pam_tap_base::sudo::grants_root,
    };
    let out = login::authenticate(&mut h, &policy, policy.site(), &mut env);
    let took = ms(t);
    if out != Outcome::Accepted {
        return Err(format!("in-process auth of {user} gave {out:?}"));
    }
    Ok(took)
}

/// A PHC string of the cheapest argon2id the verifier accepts (m=8 KiB, t=1): with it, a login
/// costs the module's own work and a few microseconds of KDF.
pub fn cheap_phc(code: &str) -> R<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, Some(32)).map_err(|e| e.to_string())?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"pam_tap-bench-salt").map_err(|e| e.to_string())?;
    Ok(a.hash_password(code.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string())
}

pub fn set_hash(db: &Path, user: &str, phc: &str) -> R<()> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    let n = conn
        .execute(
            "UPDATE passes SET hash = ?2 WHERE id = (SELECT max(id) FROM passes WHERE user = ?1)",
            rusqlite::params![user, phc],
        )
        .map_err(|e| e.to_string())?;
    if n != 1 {
        return Err(format!("no pass of {user} in {}", db.display()));
    }
    Ok(())
}

/// Medians of `n` argon2id hashes and verifies at `kdf`, one thread.
pub fn kdf_ms(kdf: &KdfParams, n: usize) -> R<(f64, f64)> {
    let code = "ABCDEFGHJK";
    let (mut hs, mut vs) = (vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        let phc = hash::hash(code, kdf).map_err(|e| e.to_string())?;
        hs.push(ms(t));
        let t = Instant::now();
        if !hash::verify(code, &phc).map_err(|e| e.to_string())? {
            return Err("verify failed".into());
        }
        vs.push(ms(t));
    }
    Ok((median(&hs), median(&vs)))
}

/// Hashes per second at `kdf` on `threads` threads hashing at once (each `k` hashes).
pub fn kdf_throughput(kdf: &KdfParams, threads: usize, k: usize) -> R<f64> {
    let t = Instant::now();
    let fails = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..k {
                    if hash::hash("ABCDEFGHJK", kdf).is_err() {
                        fails.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if fails.into_inner() > 0 {
        return Err("hash failed".into());
    }
    Ok((threads * k) as f64 / t.elapsed().as_secs_f64())
}

/// B2: median and p90 of one in-process authentication whose stored hash is the cheapest argon2id,
/// minus that KDF's own cost.
pub fn b2(c: &Ctx, conf: &str, db: &Path) -> R<(f64, f64)> {
    let user = if conf == "on" { "tapb-cheap" } else { "tapb-one" };
    let code = issue(c, conf, user, &["--keep-password", "--reusable"])?;
    let norm = pam_tap_base::passcode::normalize(code.as_bytes()).ok_or("code")?;
    let cheap = cheap_phc(&norm)?;
    set_hash(db, user, &cheap)?;
    let mut kv = vec![];
    for _ in 0..200 {
        let t = Instant::now();
        if !hash::verify(&norm, &cheap).map_err(|e| e.to_string())? {
            return Err("cheap verify failed".into());
        }
        kv.push(ms(t));
    }
    let cheap_kdf = median(&kv);
    let mut v = vec![];
    for _ in 0..c.n(300) {
        v.push(auth_once(c, conf, user, &code)? - cheap_kdf);
    }
    let mut sorted = v.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    Ok((median(&v), sorted[sorted.len() * 9 / 10]))
}

/// B4: returns (auth ms at 100k, at 10, overhead-only ms at 100k, at 10).
pub fn b4(c: &Ctx, kdf: &KdfParams) -> R<(f64, f64, f64, f64)> {
    let code = "B4B4B4B4B4";
    let real = hash::hash(code, kdf).map_err(|e| e.to_string())?;
    let cheap = cheap_phc(code)?;
    let filler = hash::hash("ZZZZZZZZZZ", kdf).map_err(|e| e.to_string())?;
    let now = now();
    for (dbdir, total) in [("db10", 10usize), ("db100k", 100_000)] {
        let path = c.work.join(dbdir).join("tap.db");
        let mut conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO passes(user, uid, hash, derive_key, created_at, starts_at, expires_at, one_time,
                        reset_password, issued_by, reason, used_at, use_count)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, 0, 'root', NULL, ?8, ?9)",
                )
                .map_err(|e| e.to_string())?;
            let mut aud = tx
                .prepare("INSERT INTO audit(at, event, user, pass_id, operator, service) VALUES(?1, 'issued', ?2, ?3, 'root', 'tapctl')")
                .map_err(|e| e.to_string())?;
            for i in 0..total - 2 {
                if i == (total - 2) / 2 {
                    for (u, h) in [("tapb-b4", &real), ("tapb-b4cheap", &cheap)] {
                        ins.execute(rusqlite::params![
                            u,
                            UID_BASE + 3,
                            h,
                            vec![7u8; 32],
                            now - 60,
                            now + 3600,
                            false,
                            None::<i64>,
                            0
                        ])
                        .map_err(|e| e.to_string())?;
                        aud.execute(rusqlite::params![now - 60, u, tx.last_insert_rowid()])
                            .map_err(|e| e.to_string())?;
                    }
                }
                // A realistic mix: a third used one-time passes, the rest expired reusable ones.
                let user = format!("fill{:05}", i % 40_000);
                let created = now - 86_400 * 30 + i as i64;
                let used = (i % 3 == 0).then_some(created + 60);
                ins.execute(rusqlite::params![
                    user,
                    70_000 + (i % 40_000) as u32,
                    filler,
                    vec![9u8; 32],
                    created,
                    created + 3600,
                    i % 3 == 0,
                    used,
                    used.is_some() as i32
                ])
                .map_err(|e| e.to_string())?;
                aud.execute(rusqlite::params![created, user, tx.last_insert_rowid()])
                    .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())?;
        let n: i64 = conn
            .query_row("SELECT count(*) FROM passes", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if n as usize != total {
            return Err(format!("{dbdir} holds {n} passes, not {total}"));
        }
        let mode = std::fs::metadata(&path)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & 0o777 != 0o600 {
            return Err(format!("{} has mode {:o}", path.display(), mode & 0o777));
        }
    }
    let (mut big, mut small) = (vec![], vec![]);
    for _ in 0..c.n(25) {
        big.push(auth_once(c, "b4-100k", "tapb-b4", code)?);
        small.push(auth_once(c, "b4-10", "tapb-b4", code)?);
    }
    let (mut big_c, mut small_c) = (vec![], vec![]);
    for _ in 0..c.n(300) {
        big_c.push(auth_once(c, "b4-100k", "tapb-b4cheap", code)?);
        small_c.push(auth_once(c, "b4-10", "tapb-b4cheap", code)?);
    }
    Ok((median(&big), median(&small), median(&big_c), median(&small_c)))
}
