//! Every decision the module makes. The PAM handle, the clock, the name service and the log are
//! parameters, so each path is testable with a scripted fake handle and a fixed clock.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pam::constants::{PamFlag, PamResultCode, PAM_CHANGE_EXPIRED_AUTHTOK};
use zeroize::Zeroizing;

use crate::config::{Policy, DEFAULT_CONFIG};
use crate::error::Error;
use crate::gate;
use crate::hash;
use crate::outcome::{ErrorKind, Outcome};
use crate::passcode::{normalize, MAX_INPUT};
use crate::store::{Context, Event, PassRecord, Redeemed, Status, Store};
use crate::users::{plausible_name, Account, Directory};

pub const PAM_PRELIM_CHECK: PamFlag = 0x4000;
pub const PAM_UPDATE_AUTHTOK: PamFlag = 0x2000;
/// The prompt pam_unix uses for the current password; the grace prompt looks the same.
pub const CURRENT_PASSWORD_PROMPT: &str = "Current password: ";
/// A used pass logs in again within the grace window only this many seconds after its last use,
/// so logins racing a one-time pass get exactly one success.
pub const GRACE_RELOGIN_GAP: i64 = 10;
/// The one line a person reads when an accepted pass leads to the forced change. Sent right before
/// "New password": greeters show only the latest message, so a line sent at auth is overwritten by
/// pam_unix's own before anyone can read it.
pub const CHOOSE_NEW_PASSWORD: &str = "Temporary access pass accepted. Choose your new password now.";

pub type Secret = Zeroizing<Vec<u8>>;

/// What the core needs from a PAM handle.
pub trait Handle {
    /// PAM_USER (may prompt for it).
    fn user(&mut self) -> Result<String, PamResultCode>;
    fn service(&self) -> Option<String>;
    fn rhost(&self) -> Option<String>;
    /// The answer to the stack's password prompt (`pam_get_authtok`, honouring try_first_pass /
    /// use_first_pass); it becomes PAM_AUTHTOK for the modules after this one.
    fn authtok(&mut self) -> Result<Secret, PamResultCode>;
    /// One PAM_TEXT_INFO line through the conversation.
    fn info(&mut self, text: &str) -> Result<(), PamResultCode>;
    /// One echo-off prompt through the conversation.
    fn prompt_secret(&mut self, prompt: &str) -> Result<Secret, PamResultCode>;
    /// Makes sure PAM_AUTHTOK holds the new password (prompting "New password"/"Retype").
    fn new_authtok(&mut self) -> Result<(), PamResultCode>;
    /// Whether PAM_AUTHTOK is set already (a module earlier in the stack, such as pam_pwquality,
    /// asked for the new password before pam_tap).
    fn authtok_set(&self) -> bool;
    fn set_old_authtok(&mut self, secret: &[u8]) -> Result<(), PamResultCode>;
    /// Remembers, for the rest of this PAM handle, that a pass was accepted, with the derived
    /// current password when the account was reset at issue.
    fn remember(&mut self, derived: Option<Zeroizing<String>>) -> Result<(), PamResultCode>;
    /// What `remember` stored: `None` when no pass was accepted on this handle.
    fn remembered(&self) -> Option<Option<Zeroizing<String>>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Alert,
    Err,
    Notice,
    Info,
    Debug,
}

pub trait Logger {
    fn log(&mut self, level: Level, msg: &str);
}

/// Module arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub config: PathBuf,
    pub debug: bool,
    pub log_socket: Option<PathBuf>,
    pub test_panic: bool,
    /// Arguments pam_tap does not know (logged, otherwise ignored).
    pub unknown: Vec<String>,
}

impl Options {
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Self {
        let mut o = Options {
            config: PathBuf::from(DEFAULT_CONFIG),
            debug: false,
            log_socket: None,
            test_panic: false,
            unknown: vec![],
        };
        for a in args {
            let a = a.as_ref();
            match a.split_once('=') {
                Some(("config", v)) => o.config = PathBuf::from(v),
                Some(("log_socket", v)) => o.log_socket = Some(PathBuf::from(v)),
                None if a == "debug" => o.debug = true,
                None if a == "test_panic" => o.test_panic = true,
                // Read by pam_get_authtok itself.
                None if matches!(a, "try_first_pass" | "use_first_pass" | "use_authtok") => {}
                _ => o.unknown.push(a.to_string()),
            }
        }
        o
    }
}

/// The rest of the world the core sees: the clock (read once per PAM call), the name service, the
/// log, and whether the calling process runs as root.
pub struct Env<'a> {
    pub now: i64,
    pub dir: &'a dyn Directory,
    pub log: &'a mut dyn Logger,
    pub caller_is_root: bool,
    /// Whether sudo lets a user act as root ([`crate::sudo::grants_root`] outside tests).
    pub sudo: gate::SudoCheck<'a>,
}

/// Why a user may not hold or use a pass, or `None`.
pub fn ineligible(policy: &Policy, acct: &Account) -> Option<String> {
    if acct.uid < policy.min_uid {
        return Some(format!("uid {} is below min_uid {}", acct.uid, policy.min_uid));
    }
    if let Some(why) = crate::gate::above_max_uid(policy, acct) {
        return Some(why);
    }
    if let Some(g) = acct.groups.iter().find(|g| policy.exclude_groups.contains(g)) {
        return Some(format!("member of excluded group {g}"));
    }
    if !policy.include_groups.is_empty() && !acct.groups.iter().any(|g| policy.include_groups.contains(g)) {
        return Some("not in any of include_groups".into());
    }
    None
}

/// Whether a used pass may still be accepted because its handoff is unfinished: the account was
/// reset at issue, the pass was used within the grace window, and the shadow entry still holds the
/// hash pam_tap set with a forced change pending.
fn in_grace(policy: &Policy, rec: &PassRecord, now: i64, dir: &dyn Directory) -> Result<bool, Error> {
    let grace = policy.grace.as_secs() as i64;
    let Some(used_at) = rec.used_at else { return Ok(false) };
    if !rec.reset_password
        || grace == 0
        || rec.revoked_at.is_some()
        || rec.locked_at.is_some()
        || now >= used_at.saturating_add(grace)
    {
        return Ok(false);
    }
    let Some(set) = rec.shadow_set.as_deref() else {
        return Ok(false);
    };
    Ok(matches!(dir.shadow(&rec.user)?, Some(sp) if sp.hash == set && sp.lastchg == Some(0)))
}

struct Decision {
    outcome: Outcome,
    user: Option<String>,
    pass_id: Option<i64>,
    detail: Option<String>,
}

impl Decision {
    fn new(outcome: Outcome) -> Self {
        Decision {
            outcome,
            user: None,
            pass_id: None,
            detail: None,
        }
    }
}

fn fail(e: &Error, env: &mut Env<'_>, user: Option<&str>) -> Decision {
    let level = match e {
        Error::Config(_) | Error::Unsafe(_) | Error::Hash(_) => Level::Alert,
        _ => Level::Err,
    };
    env.log.log(level, &format!("refusing: {e}"));
    Decision {
        outcome: Outcome::Failed(ErrorKind::from(e)),
        user: user.map(str::to_string),
        pass_id: None,
        detail: None,
    }
}

/// `pam_sm_authenticate`.
pub fn authenticate<H: Handle>(h: &mut H, opts: &Options, env: &mut Env<'_>) -> Outcome {
    let service = h.service().unwrap_or_default();
    let mut pace = None;
    let d = decide(h, opts, env, &mut pace);
    let level = match d.outcome {
        Outcome::Accepted | Outcome::AcceptedInGrace => Level::Info,
        Outcome::NoPass | Outcome::NotAPass | Outcome::Disabled => Level::Debug,
        Outcome::Failed(_) => Level::Err,
        _ => Level::Notice,
    };
    if level != Level::Debug || opts.debug {
        let mut line = format!(
            "auth service={} user={} pass={} outcome={}",
            service,
            d.user.as_deref().unwrap_or("(unknown)"),
            d.pass_id.map_or("-".to_string(), |i| i.to_string()),
            d.outcome.word()
        );
        if let Some(detail) = d.detail {
            line.push_str(&format!(" ({detail})"));
        }
        env.log.log(level, &line);
    }
    if let Some(p) = pace {
        if !matches!(d.outcome, Outcome::Accepted | Outcome::AcceptedInGrace) {
            p.wait();
        }
    }
    d.outcome
}

/// With `equalize_timing`, every answer that does not log in takes one argon2id run plus a fixed
/// budget from the moment it arrives, whether the user exists, holds a pass or not: the database
/// work (open, look-up, failure count) hides inside the budget.
pub const PACE_BUDGET: Duration = Duration::from_millis(15);

struct Pace {
    answered: Instant,
    kdf: Duration,
    on: bool,
}

impl Pace {
    fn kdf<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.kdf += t.elapsed();
        r
    }

    fn wait(&self) {
        if self.on {
            let until = self.answered + self.kdf + PACE_BUDGET;
            if let Some(left) = until.checked_duration_since(Instant::now()) {
                std::thread::sleep(left);
            }
        }
    }
}

fn decide<H: Handle>(h: &mut H, opts: &Options, env: &mut Env<'_>, pace: &mut Option<Pace>) -> Decision {
    let policy = match Policy::load(&opts.config) {
        Ok(p) => p,
        Err(e) => return fail(&e, env, None),
    };
    if !policy.enabled {
        return Decision::new(Outcome::Disabled);
    }
    let Ok(name) = h.user() else {
        return Decision::new(Outcome::UnknownUser);
    };
    // The answer first, everything about the user after it: all the work that depends on who the
    // user is happens inside the paced window, none of it before the prompt.
    let answer = match h.authtok() {
        Ok(a) => a,
        Err(_) => return Decision::new(Outcome::Conversation),
    };
    if answer.is_empty() || answer.len() > MAX_INPUT {
        return Decision {
            detail: Some(format!("answer of {} bytes", answer.len())),
            ..Decision::new(Outcome::BadInput)
        };
    }
    let pace = pace.insert(Pace {
        answered: Instant::now(),
        kdf: Duration::ZERO,
        on: policy.equalize_timing,
    });
    let account = if plausible_name(&name) {
        match env.dir.account(&name) {
            Ok(a) => a,
            Err(e) => return fail(&e, env, None),
        }
    } else {
        None
    };
    let known = account.as_ref().map(|a| a.name.clone());
    let mut decoy = |p: &Policy| {
        if p.equalize_timing {
            pace.kdf(|| hash::decoy(&answer, &p.kdf));
        }
    };
    let Some(acct) = account else {
        decoy(&policy);
        return Decision::new(Outcome::UnknownUser);
    };
    let mut store = match Store::open(&policy.database) {
        Ok(s) => s,
        Err(e) => return fail(&e, env, Some(&acct.name)),
    };
    let rec = match store.latest_for(&acct.name) {
        Ok(Some(r)) => r,
        Ok(None) => {
            decoy(&policy);
            return Decision {
                user: known,
                ..Decision::new(Outcome::NoPass)
            };
        }
        Err(e) => return fail(&e, env, Some(&acct.name)),
    };
    // A reset pass that ended leaves no working shadow secret behind (src/reset.rs).
    let ctx = Context {
        operator: None,
        service: h.service(),
        rhost: h.rhost(),
    };
    let rec = match crate::reset::at_login(&mut store, env.dir, &policy, rec, env.now, &ctx) {
        Ok(r) => r,
        Err(e) => return fail(&e, env, Some(&acct.name)),
    };
    let base = Decision {
        user: known.clone(),
        pass_id: Some(rec.id),
        ..Decision::new(Outcome::NotAPass)
    };
    let Some(code) = normalize(&answer) else {
        decoy(&policy);
        return base;
    };
    let matched = match pace.kdf(|| hash::verify(&code, &rec.hash)) {
        Ok(m) => m,
        Err(e) => {
            return Decision {
                pass_id: Some(rec.id),
                ..fail(&e, env, Some(&acct.name))
            }
        }
    };
    let result = (|| -> Result<Decision, Error> {
        let now = store.effective_now(env.now)?;
        let status = rec.status(now, policy.enabled);
        if !matched {
            // Wrong answers count while the pass can log in: usable, or used within its relogin window.
            let relogin = status == Status::Used
                && !gate::resting(&rec, now)
                && policy.relogin
                && in_grace(&policy, &rec, now, env.dir)?;
            if status != Status::Usable && !relogin {
                store.note_time(now)?;
                return Ok(Decision {
                    outcome: Outcome::Wrong,
                    detail: Some(format!("pass is {}", status.as_str())),
                    ..base
                });
            }
            let locked = store.record_failure(rec.id, now, policy.max_failures, policy.lockout, &ctx)?;
            let outcome = if locked { Outcome::NowLocked } else { Outcome::Wrong };
            return Ok(Decision { outcome, ..base });
        }
        if let Some(why) = ineligible(&policy, &acct) {
            store.audit(
                now,
                Event::Refused,
                Some(&acct.name),
                Some(rec.id),
                &ctx,
                Some(&format!("not eligible: {why}")),
            )?;
            return Ok(Decision {
                outcome: Outcome::NotEligible,
                detail: Some(why),
                ..base
            });
        }
        let service = ctx.service.as_deref();
        // Only a pass about to be accepted meets the boundary (and perhaps a sudo run).
        let acceptable = status == Status::Usable
            || (status == Status::Used && policy.relogin && in_grace(&policy, &rec, now, env.dir)?);
        let refusal = if acceptable {
            gate::login_refusal(&policy, &rec, &acct, service, env.dir, env.sudo, now)?
        } else {
            None
        };
        if let Some(r) = refusal {
            let why = format!("{}: {}", r.reason, r.detail);
            store.audit(now, Event::Refused, Some(&acct.name), Some(rec.id), &ctx, Some(&why))?;
            return Ok(Decision {
                outcome: Outcome::Refused(r.reason),
                detail: Some(r.detail),
                ..base
            });
        }
        // Remember the accepted pass (and the derived secret for the handoff) on the PAM handle.
        let mut keep = |r: &PassRecord| {
            h.remember(r.reset_password.then(|| hash::derive(&r.derive_key, &code)))
                .map_err(|_| Error::Store("could not keep the handoff secret on the PAM handle".into()))
        };
        match status {
            Status::Usable => match store.redeem(rec.id, env.now, policy.enabled, &ctx)? {
                Redeemed::Ok(r) => {
                    keep(&r)?;
                    Ok(Decision {
                        outcome: Outcome::Accepted,
                        ..base
                    })
                }
                Redeemed::Refused(s) => Ok(Decision {
                    outcome: Outcome::Unusable(s),
                    ..base
                }),
            },
            Status::Used if policy.relogin && in_grace(&policy, &rec, now, env.dir)? => {
                if !store.grace_login(rec.id, now, GRACE_RELOGIN_GAP, &acct.name, &ctx)? {
                    return Ok(Decision {
                        outcome: Outcome::Unusable(Status::Used),
                        detail: Some("used moments ago".into()),
                        ..base
                    });
                }
                keep(&rec)?;
                Ok(Decision {
                    outcome: Outcome::AcceptedInGrace,
                    ..base
                })
            }
            s => {
                store.audit(
                    now,
                    Event::Refused,
                    Some(&acct.name),
                    Some(rec.id),
                    &ctx,
                    Some(s.as_str()),
                )?;
                Ok(Decision {
                    outcome: Outcome::Unusable(s),
                    ..base
                })
            }
        }
    })();
    result.unwrap_or_else(|e| Decision {
        pass_id: Some(rec.id),
        ..fail(&e, env, Some(&acct.name))
    })
}

/// `pam_sm_setcred`: success only where this handle accepted a pass.
pub fn setcred<H: Handle>(h: &H) -> PamResultCode {
    if h.remembered().is_some() {
        PamResultCode::PAM_SUCCESS
    } else {
        PamResultCode::PAM_IGNORE
    }
}

/// `pam_sm_chauthtok`: the handoff. PRELIM supplies PAM_OLDAUTHTOK (the derived secret kept at
/// auth, or — in a fresh process such as the `passwd` sshd runs — the pass typed once more at a
/// "Current password:" prompt within the grace window); UPDATE makes sure PAM_AUTHTOK is set so a
/// `use_authtok` pam_unix can write it with local policy in force. Both passes return the same
/// class of result.
pub fn chauthtok<H: Handle>(h: &mut H, flags: PamFlag, opts: &Options, env: &mut Env<'_>) -> PamResultCode {
    if flags & PAM_UPDATE_AUTHTOK != 0 {
        // Only a handle that accepted a pass with the change pending holds a derived secret (at
        // login, or at the grace prompt of the `passwd` sshd runs without PAM_CHANGE_EXPIRED_AUTHTOK),
        // so a refused pass never hears this line; and only before the new password is asked for.
        // Informational: a broken conversation shows at the prompt that follows.
        if matches!(h.remembered(), Some(Some(_))) && !h.authtok_set() {
            let _ = h.info(CHOOSE_NEW_PASSWORD);
        }
        return match h.new_authtok() {
            Ok(()) => PamResultCode::PAM_SUCCESS,
            Err(code) => code,
        };
    }
    if flags & PAM_PRELIM_CHECK == 0 {
        return PamResultCode::PAM_SERVICE_ERR;
    }
    let service = h.service().unwrap_or_default();
    if let Some(Some(derived)) = h.remembered() {
        if let Err(code) = h.set_old_authtok(derived.as_bytes()) {
            return code;
        }
        env.log
            .log(Level::Info, &format!("chauthtok service={service} outcome=handoff"));
        return PamResultCode::PAM_SUCCESS;
    }
    // pam_unix asks for no current password when root changes a password outside an expiry flow.
    if env.caller_is_root && flags & PAM_CHANGE_EXPIRED_AUTHTOK == 0 {
        return PamResultCode::PAM_SUCCESS;
    }
    let policy = match Policy::load(&opts.config) {
        Ok(p) => p,
        Err(e) => return fail(&e, env, None).outcome.pam_code(),
    };
    // No database yet (`tapctl init` not run): nobody holds a pass, and `passwd` must keep working.
    if !policy.enabled || policy.grace.is_zero() || !policy.database.exists() {
        return PamResultCode::PAM_SUCCESS;
    }
    let Ok(name) = h.user() else {
        return PamResultCode::PAM_USER_UNKNOWN;
    };
    let acct = match plausible_name(&name).then(|| env.dir.account(&name)).transpose() {
        Ok(Some(Some(a))) => a,
        Ok(_) => return PamResultCode::PAM_SUCCESS,
        Err(e) => return fail(&e, env, None).outcome.pam_code(),
    };
    let result = (|| -> Result<PamResultCode, Error> {
        let mut store = Store::open(&policy.database)?;
        let Some(rec) = store.latest_for(&acct.name)? else {
            return Ok(PamResultCode::PAM_SUCCESS);
        };
        let now = store.effective_now(env.now)?;
        if !in_grace(&policy, &rec, now, env.dir)? || !gate::service_allowed(&policy, &rec, h.service().as_deref()) {
            return Ok(PamResultCode::PAM_SUCCESS);
        }
        let answer = match h.prompt_secret(CURRENT_PASSWORD_PROMPT) {
            Ok(a) if !a.is_empty() && a.len() <= MAX_INPUT => a,
            Ok(_) => return Ok(PamResultCode::PAM_AUTHTOK_ERR),
            Err(code) => return Ok(code),
        };
        let code = normalize(&answer);
        let is_pass = match &code {
            Some(c) => hash::verify(c, &rec.hash)?,
            None => false,
        };
        let set = match (is_pass, code) {
            (true, Some(c)) => {
                let ctx = Context {
                    operator: None,
                    service: h.service(),
                    rhost: h.rhost(),
                };
                store.audit(
                    now,
                    Event::GraceUsed,
                    Some(&acct.name),
                    Some(rec.id),
                    &ctx,
                    Some("pass accepted as current password"),
                )?;
                env.log.log(
                    Level::Info,
                    &format!(
                        "chauthtok service={service} user={} pass={} outcome=grace",
                        acct.name, rec.id
                    ),
                );
                let derived = hash::derive(&rec.derive_key, &c);
                let set = h.set_old_authtok(derived.as_bytes());
                // So that UPDATE says what is happening here too, as after a login with the pass.
                set.and_then(|()| h.remember(Some(derived)))
            }
            // Not the pass: hand the answer on unchanged for pam_unix to check (one prompt, never two).
            _ => h.set_old_authtok(&answer),
        };
        Ok(set.err().unwrap_or(PamResultCode::PAM_SUCCESS))
    })();
    result.unwrap_or_else(|e| fail(&e, env, Some(&acct.name)).outcome.pam_code())
}

#[cfg(test)]
mod tests;
