//! A live enrollment pass: asked for once; the right answer redeems it and enrolls the key sshd
//! proved in this connection, a wrong one counts as a failed login (the same back-off).

use pam_tap_base::error::Error;
use pam_tap_base::hash;
use pam_tap_base::users::group_id;
use pam_tap_store::keys::{KeysDb, NewKey};
use pam_tap_store::{AuditRow, Backoff, Event, PassRecord, Redeemed, Touch};

use super::{as_code, enrolled_line, fail, ineligible, prompt, Attempt, Decision, Env, Handle};
use crate::config::Policy;
use crate::gate;
use crate::login::Accepted;
use crate::outcome::Outcome;

#[allow(clippy::too_many_arguments)]
pub(super) fn enroll<H: Handle>(
    h: &mut H,
    policy: &Policy,
    env: &mut Env<'_>,
    at: &mut Attempt<'_>,
    rec: PassRecord,
    now: i64,
    base: Decision,
) -> Decision {
    let base = Decision {
        pass_id: Some(rec.id),
        ..base
    };
    match settle(h, policy, env, at, &rec, now, base) {
        Ok(d) => d,
        Err(e) => Decision {
            pass_id: Some(rec.id),
            ..fail(&e, Some(&at.acct.name))
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn settle<H: Handle>(
    h: &mut H,
    policy: &Policy,
    env: &mut Env<'_>,
    at: &mut Attempt<'_>,
    rec: &PassRecord,
    now: i64,
    base: Decision,
) -> Result<Decision, Error> {
    let refused = |at: &mut Attempt<'_>, outcome: Outcome, why: String| -> Result<Decision, Error> {
        at.audit_refused(rec, now, &why)?;
        Ok(Decision {
            outcome,
            detail: Some(why),
            ..base.clone()
        })
    };
    if let Some(why) = ineligible(policy, &at.acct) {
        return refused(at, Outcome::NotEligible, format!("not eligible: {why}"));
    }
    // The boundary, and the account the pass was issued for (a key is bound to its uid: never to a
    // later account of the name).
    if let Some(r) = gate::login_refusal(policy, rec, &at.acct, env.dir, env.sudo, now)? {
        return refused(at, Outcome::Refused(r.reason), format!("{}: {}", r.reason, r.detail));
    }
    if !policy.enroll.key_types.contains(&at.key.key_type) {
        let why = format!("key type {} is not in [enroll] key_types", at.key.key_type);
        return refused(at, Outcome::Refused("key_type"), why);
    }
    let answer = match h.prompt_secret(&prompt(&at.fingerprint)) {
        Ok(a) => a,
        Err(_) => return Ok(Decision::new(Outcome::Conversation)),
    };
    if answer.is_empty() || answer.len() > pam_tap_base::passcode::MAX_INPUT {
        return Ok(Decision {
            outcome: Outcome::BadInput,
            detail: Some(format!("answer of {} bytes", answer.len())),
            ..base
        });
    }
    let matched = match as_code(&answer) {
        Some(code) => hash::verify(&code, &rec.hash)?,
        None => false,
    };
    let store = at
        .store
        .as_mut()
        .ok_or_else(|| Error::Store("no store is open".into()))?;
    let touch = Touch {
        id: rec.id,
        now,
        ctx: &at.ctx,
    };
    if !matched {
        let rules = Backoff {
            max_failures: policy.max_failures,
            lockout: policy.lockout,
        };
        let locked = store.record_failure(&touch, &rules)?;
        return Ok(Decision {
            outcome: if locked { Outcome::NowLocked } else { Outcome::Wrong },
            detail: Some(format!("nothing enrolled (key {})", at.fingerprint)),
            ..base
        });
    }
    match store.redeem(&touch, policy.enabled)? {
        Redeemed::Ok(_) => {}
        Redeemed::Refused(s) => {
            return Ok(Decision {
                outcome: Outcome::Unusable(s),
                ..base
            })
        }
    }
    let taken = match store.keeps_keys() {
        true => {
            let taken = store.enroll_key(&touch, &at.key)?;
            // The new key logs in here during a later outage too (`[enroll] cache_for`).
            if taken {
                super::known::remember(policy, at, now);
            }
            taken
        }
        false => enroll_locally(policy, at, rec, now)?,
    };
    if !taken {
        let why = format!(
            "the pass has enrolled a key already; key {} is not enrolled",
            at.fingerprint
        );
        return Ok(Decision {
            outcome: Outcome::Refused("enrolled_already"),
            detail: Some(why),
            ..base
        });
    }
    // The line is a courtesy: a conversation that cannot show it changes nothing enrolled.
    let _ = h.info(&enrolled_line(&at.fingerprint, &at.acct.name));
    h.remember(Accepted::Plain)
        .map_err(|_| Error::Store("could not keep the acceptance on the PAM handle".into()))?;
    Ok(Decision {
        outcome: Outcome::Enrolled,
        detail: Some(format!("key {}", at.fingerprint)),
        ..base
    })
}

/// The local store: the key goes into the keys database, and the enrollment into the audit log.
/// The pass is used up already, so a failure here enrolls nothing and the pass is spent (its
/// holder needs a new one), never the other way round.
fn enroll_locally(policy: &Policy, at: &mut Attempt<'_>, rec: &PassRecord, now: i64) -> Result<bool, Error> {
    let gid = group_id(&policy.enroll.keys_group)?;
    let new = NewKey {
        user: at.acct.name.clone(),
        uid: Some(at.acct.uid),
        key: at.key.clone(),
        pass_id: Some(rec.id),
        host: Some(policy.host_name.clone()),
        hosts: rec.hosts.clone(),
        enrolled_at: now,
    };
    match KeysDb::open_write(&policy.enroll.keys_db, gid).and_then(|mut db| db.enroll(&new)) {
        Ok(()) => {}
        Err(Error::Refused(_)) => return Ok(false),
        Err(e) => {
            at.audit_refused(rec, now, &format!("key {} could not be enrolled: {e}", at.fingerprint))?;
            return Err(e);
        }
    }
    let store = at
        .store
        .as_mut()
        .ok_or_else(|| Error::Store("no store is open".into()))?;
    store.audit(&AuditRow {
        at: now,
        event: Event::Enrolled,
        user: Some(&at.acct.name),
        pass_id: Some(rec.id),
        reason: Some(&at.fingerprint),
        ctx: &at.ctx,
    })?;
    Ok(true)
}
