//! `authenticate`'s decision in three steps, all at one `now` (the clock raised to the store's
//! high-water mark): look up the user and the pass, verify the answer against it, settle what the
//! answer does to the pass.

use zeroize::Zeroizing;

use super::answer_shape::{shape, Shape};
use super::pace::Pace;
use super::{fail, in_grace, Accepted, Decision, Env, Handle, GRACE_RELOGIN_GAP};
use crate::config::Policy;
use crate::gate;
use crate::outcome::Outcome;
use crate::usability::{self, Reason, Verdict};
use pam_tap_base::error::Error;
use pam_tap_base::hash;
use pam_tap_base::passcode::MAX_INPUT;
use pam_tap_base::users::{plausible_name, Account};
use pam_tap_store::{AuditRow, Backend, Backoff, Context, Event, Opened, PassRecord, Redeemed, Status, Touch};

/// The name an unknown user's decision looks up: no account can have it (it has a space).
const NO_SUCH_USER: &str = "pam_tap decoy";

/// A known user's newest pass, found inside the paced window.
struct Found<'s> {
    store: Opened<'s>,
    acct: Account,
    rec: PassRecord,
    /// The one time of this decision: the clock, never below the store's high-water mark.
    now: i64,
    ctx: Context,
}

impl Found<'_> {
    /// Audits a refusal of the pass, `why`.
    fn audit_refused(&mut self, why: &str) -> Result<(), Error> {
        let row = AuditRow {
            at: self.now,
            event: Event::Refused,
            user: Some(&self.acct.name),
            pass_id: Some(self.rec.id),
            reason: Some(why),
            ctx: &self.ctx,
        };
        self.store.audit(&row)
    }
}

pub(super) fn decide<'s, H: Handle, B: Backend<'s>>(
    h: &mut H,
    policy: &Policy,
    backend: B,
    env: &mut Env<'_>,
    pace: &mut Option<Pace>,
) -> Decision {
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
    // An ordinary password leaves before anything about the user is read: the same near-nothing
    // for every user, so it needs no pacing (crates/core/src/login/answer_shape.rs).
    let code = match shape(&answer) {
        Shape::Ordinary => {
            return Decision {
                detail: Some("not pass-shaped".into()),
                ..Decision::new(Outcome::NotAPass)
            }
        }
        Shape::Pass(code) => Some(code),
        Shape::DerivedSecret => None,
    };
    let pace = pace.insert(Pace::start(policy.equalize_timing));
    let mut found = match look_up(h, policy, backend, env, &name, &answer, pace) {
        Ok(f) => f,
        Err(d) => return d,
    };
    let base = Decision {
        user: Some(found.acct.name.clone()),
        pass_id: Some(found.rec.id),
        ..Decision::new(Outcome::NotAPass)
    };
    // A pass that is not for this host or service, or that only enrolls an SSH key, is no
    // credential here, whatever was typed.
    if let Some(v) = usability::scope(policy, &found.rec, found.ctx.service.as_deref()) {
        pace.decoy(&answer, policy);
        return refuse_out_of_scope(&mut found, &v, base);
    }
    let Some(code) = code else {
        pace.decoy(&answer, policy);
        return base;
    };
    let matched = match pace.kdf(|| hash::verify(&code, &found.rec.hash)) {
        Ok(m) => m,
        Err(e) => {
            return Decision {
                pass_id: Some(found.rec.id),
                ..fail(&e, Some(&found.acct.name))
            }
        }
    };
    let settled = if matched {
        settle_match(h, policy, env, &mut found, &code, base)
    } else {
        settle_mismatch(policy, env, &mut found, base)
    };
    settled.unwrap_or_else(|e| Decision {
        pass_id: Some(found.rec.id),
        ..fail(&e, Some(&found.acct.name))
    })
}

/// The user, the store and the user's newest pass (its reset side settled first). Every way out
/// before a pass is found costs the decoy run a real pass would.
fn look_up<'s, H: Handle, B: Backend<'s>>(
    h: &H,
    policy: &Policy,
    backend: B,
    env: &mut Env<'_>,
    name: &str,
    answer: &[u8],
    pace: &mut Pace,
) -> Result<Found<'s>, Decision> {
    let account = if plausible_name(name) {
        env.dir.account(name).map_err(|e| fail(&e, None))?
    } else {
        None
    };
    let Some(acct) = account else {
        // A store across a connection costs more than the pace budget hides: an unknown user's
        // decision makes the same connection and look-up (of a name no account has), so its time
        // does not say the user is unknown. Its errors change nothing: the user is unknown.
        if backend.networked() {
            let _ = backend
                .open()
                .and_then(|s| s.effective_now(env.now).and_then(|_| s.latest_for(NO_SUCH_USER)));
        }
        pace.decoy(answer, policy);
        return Err(Decision::new(Outcome::UnknownUser));
    };
    let refuse = |e: Error| fail(&e, Some(&acct.name));
    let mut store = backend.open().map_err(&refuse)?;
    let now = store.effective_now(env.now).map_err(&refuse)?;
    let Some(rec) = store.latest_for(&acct.name).map_err(&refuse)? else {
        pace.decoy(answer, policy);
        return Err(Decision {
            user: Some(acct.name.clone()),
            ..Decision::new(Outcome::NoPass)
        });
    };
    let ctx = Context {
        operator: None,
        service: h.service(),
        rhost: h.rhost(),
        host: Some(policy.host_name.clone()),
    };
    // A reset pass that ended leaves no working shadow secret behind (crates/core/src/reset.rs).
    let rec = crate::reset::at_login(&mut *store, env.dir, policy, rec, now, &ctx).map_err(&refuse)?;
    Ok(Found {
        store,
        acct,
        rec,
        now,
        ctx,
    })
}

/// A pass out of this host's or service's scope: refused and audited, its answer never checked.
fn refuse_out_of_scope(f: &mut Found<'_>, v: &Verdict, base: Decision) -> Decision {
    let (id, user) = (f.rec.id, f.acct.name.clone());
    match f.audit_refused(&v.audit_reason()) {
        Ok(()) => Decision {
            outcome: v.outcome.clone(),
            detail: v.log_detail(),
            ..base
        },
        Err(e) => Decision {
            pass_id: Some(id),
            ..fail(&e, Some(&user))
        },
    }
}

/// A wrong answer counts while the pass can log in: usable, or used within its relogin window.
fn settle_mismatch(policy: &Policy, env: &mut Env<'_>, f: &mut Found<'_>, base: Decision) -> Result<Decision, Error> {
    let status = f.rec.status(f.now, policy.enabled);
    let relogin = status == Status::Used
        && !gate::resting(&f.rec, f.now)
        && policy.relogin
        && in_grace(policy, &f.rec, f.now, env.dir)?;
    if status != Status::Usable && !relogin {
        f.store.note_time(f.now)?;
        return Ok(Decision {
            outcome: Outcome::Wrong,
            detail: Some(format!("pass is {}", status.as_str())),
            ..base
        });
    }
    let rules = Backoff {
        max_failures: policy.max_failures,
        lockout: policy.lockout,
    };
    let (id, now) = (f.rec.id, f.now);
    let touch = Touch { id, now, ctx: &f.ctx };
    let locked = f.store.record_failure(&touch, &rules)?;
    let outcome = if locked { Outcome::NowLocked } else { Outcome::Wrong };
    Ok(Decision { outcome, ..base })
}

/// The right answer: eligibility, the boundary, then redeem (or a grace login) and remember it on
/// the handle.
fn settle_match<H: Handle>(
    h: &mut H,
    policy: &Policy,
    env: &mut Env<'_>,
    f: &mut Found<'_>,
    code: &Zeroizing<String>,
    base: Decision,
) -> Result<Decision, Error> {
    let (now, id, user) = (f.now, f.rec.id, f.acct.name.clone());
    // Only a pass about to be accepted meets the boundary (and perhaps a sudo run).
    let v = usability::after_match(policy, &f.acct, &f.rec, now, env.dir, env.sudo)?;
    let (outcome, accepted) = match v.reason {
        Reason::Usable => match redeem(policy, env, f, code)? {
            Redeemed::Ok(r) => (Outcome::Accepted, r),
            Redeemed::Refused(s) => {
                return Ok(Decision {
                    outcome: Outcome::Unusable(s),
                    ..base
                })
            }
        },
        Reason::UsableInGrace => {
            let touch = Touch { id, now, ctx: &f.ctx };
            if !f.store.grace_login(&touch, GRACE_RELOGIN_GAP, &user)? {
                return Ok(Decision {
                    outcome: Outcome::Unusable(Status::Used),
                    detail: Some("used moments ago".into()),
                    ..base
                });
            }
            (Outcome::AcceptedInGrace, Box::new(f.rec.clone()))
        }
        _ => {
            f.audit_refused(&v.audit_reason())?;
            return Ok(Decision {
                detail: v.log_detail(),
                outcome: v.outcome,
                ..base
            });
        }
    };
    // The derived current password rides on the handle to the forced change (handoff.md), when
    // the reset is in place (an account the fleet host has no shadow entry for keeps its own).
    let kept = match accepted.reset_password && accepted.shadow_set.is_some() {
        true => Accepted::Handoff(hash::derive(&accepted.derive_key, code)),
        false => Accepted::Plain,
    };
    h.remember(kept)
        .map_err(|_| Error::Store("could not keep the handoff secret on the PAM handle".into()))?;
    Ok(Decision { outcome, ..base })
}

/// Marks the pass used; a reset pass of a store that resets at accept time (the fleet) has its
/// reset put into this host's shadow entry in the same step (crates/core/src/reset/at_accept.rs).
fn redeem(policy: &Policy, env: &mut Env<'_>, f: &mut Found<'_>, code: &Zeroizing<String>) -> Result<Redeemed, Error> {
    let touch = Touch {
        id: f.rec.id,
        now: f.now,
        ctx: &f.ctx,
    };
    match f.rec.reset_password && f.store.resets_at_accept() {
        true => crate::reset::redeem_at_accept(&mut *f.store, env.dir, policy, &f.rec, code, &touch),
        false => f.store.redeem(&touch, policy.enabled),
    }
}
