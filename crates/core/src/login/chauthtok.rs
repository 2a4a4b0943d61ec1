//! `pam_sm_chauthtok`: the handoff. PRELIM supplies PAM_OLDAUTHTOK (the derived secret kept at
//! auth, or — in a fresh process such as the `passwd` sshd runs — the pass typed once more at a
//! "Current password:" prompt within the grace window); UPDATE makes sure PAM_AUTHTOK is set so a
//! `use_authtok` pam_unix can write it with local policy in force. Both passes return the same
//! class of result.

use super::{in_grace, log_refusal, Accepted, Env, Handle, Level};
use crate::config::Policy;
use crate::gate;
use crate::outcome::ChangeOutcome;
use pam_tap_base::error::Error;
use pam_tap_base::hash;
use pam_tap_base::passcode::{normalize, MAX_INPUT};
use pam_tap_base::users::plausible_name;
use pam_tap_store::{AuditRow, Backend, Context, Event};

/// The prompt pam_unix uses for the current password; the grace prompt looks the same.
pub const CURRENT_PASSWORD_PROMPT: &str = "Current password: ";
/// The one line a person reads when an accepted pass leads to the forced change. Sent right before
/// "New password": greeters show only the latest message, so a line sent at auth is overwritten by
/// pam_unix's own before anyone can read it.
pub const CHOOSE_NEW_PASSWORD: &str = "Temporary access pass accepted. Choose your new password now.";

/// Which pass of a password change libpam is making.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// PAM_PRELIM_CHECK; `expired`: PAM_CHANGE_EXPIRED_AUTHTOK (the change an expiry forces).
    Prelim { expired: bool },
    /// PAM_UPDATE_AUTHTOK.
    Update,
}

/// `site` is the policy as loaded with its store, or why the policy could not be loaded: only a
/// fresh process that may owe a grace prompt reads them.
pub fn chauthtok<'s, H: Handle, B: Backend<'s>>(
    h: &mut H,
    phase: Option<Phase>,
    site: Result<(&Policy, B), &Error>,
    env: &mut Env<'_>,
) -> ChangeOutcome {
    let expired = match phase {
        Some(Phase::Update) => return update(h),
        Some(Phase::Prelim { expired }) => expired,
        None => return ChangeOutcome::NoPhase,
    };
    let service = h.service().unwrap_or_default();
    if let Some(Accepted::Handoff(derived)) = h.remembered() {
        if let Err(e) = h.set_old_authtok(derived.as_bytes()) {
            return ChangeOutcome::Handle(e);
        }
        env.log
            .log(Level::Info, &format!("chauthtok service={service} outcome=handoff"));
        return ChangeOutcome::HandedOff;
    }
    // pam_unix asks for no current password when root changes a password outside an expiry flow.
    if env.caller_is_root && !expired {
        return ChangeOutcome::NothingToAdd;
    }
    let (policy, backend) = match site {
        Ok(site) => site,
        Err(e) => return ChangeOutcome::Failed(log_refusal(e, env)),
    };
    // No store yet (`tapctl init` not run): nobody holds a pass, and `passwd` must keep working.
    if !policy.enabled || policy.grace.is_zero() || !backend.exists() {
        return ChangeOutcome::NothingToAdd;
    }
    let Ok(name) = h.user() else {
        return ChangeOutcome::UnknownUser;
    };
    let acct = match plausible_name(&name).then(|| env.dir.account(&name)).transpose() {
        Ok(Some(Some(a))) => a,
        Ok(_) => return ChangeOutcome::NothingToAdd,
        Err(e) => return ChangeOutcome::Failed(log_refusal(&e, env)),
    };
    // Only an account whose change is forced can be inside a grace window (`in_grace`): every
    // other `passwd` leaves before the store is opened (a fleet store down must not break it).
    match env.dir.shadow(&acct.name) {
        Ok(Some(sp)) if sp.lastchg == Some(0) => {}
        Ok(_) => return ChangeOutcome::NothingToAdd,
        Err(e) => return ChangeOutcome::Failed(log_refusal(&e, env)),
    }
    grace_prompt(h, policy, backend, env, &acct.name, &service)
        .unwrap_or_else(|e| ChangeOutcome::Failed(log_refusal(&e, env)))
}

/// UPDATE: make sure the new password is asked for, saying why first when a pass led here.
fn update<H: Handle>(h: &mut H) -> ChangeOutcome {
    // Only a handle that accepted a pass with the change pending holds a derived secret (at
    // login, or at the grace prompt of the `passwd` sshd runs without PAM_CHANGE_EXPIRED_AUTHTOK),
    // so a refused pass never hears this line; and only before the new password is asked for.
    // Informational: a broken conversation shows at the prompt that follows.
    if matches!(h.remembered(), Some(Accepted::Handoff(_))) && !h.authtok_set() {
        let _ = h.info(CHOOSE_NEW_PASSWORD);
    }
    match h.new_authtok() {
        Ok(()) => ChangeOutcome::NewPasswordSet,
        Err(e) => ChangeOutcome::Handle(e),
    }
}

/// PRELIM in a fresh process: within the grace window the pass itself answers "Current password".
fn grace_prompt<'s, H: Handle, B: Backend<'s>>(
    h: &mut H,
    policy: &Policy,
    backend: B,
    env: &mut Env<'_>,
    user: &str,
    service: &str,
) -> Result<ChangeOutcome, Error> {
    let mut store = backend.open()?;
    let Some(rec) = store.latest_for(user)? else {
        return Ok(ChangeOutcome::NothingToAdd);
    };
    let now = store.effective_now(env.now)?;
    if !in_grace(policy, &rec, now, env.dir)? || !gate::service_allowed(policy, &rec, h.service().as_deref()) {
        return Ok(ChangeOutcome::NothingToAdd);
    }
    let answer = match h.prompt_secret(CURRENT_PASSWORD_PROMPT) {
        Ok(a) if !a.is_empty() && a.len() <= MAX_INPUT => a,
        Ok(_) => return Ok(ChangeOutcome::BadAnswer),
        Err(e) => return Ok(ChangeOutcome::Handle(e)),
    };
    let code = match normalize(&answer) {
        Some(c) if hash::verify(&c, &rec.hash)? => c,
        // Not the pass: hand the answer on unchanged for pam_unix to check (one prompt, never two).
        _ => {
            return Ok(h
                .set_old_authtok(&answer)
                .map_or_else(ChangeOutcome::Handle, |()| ChangeOutcome::PassedOn))
        }
    };
    let ctx = Context {
        operator: None,
        service: h.service(),
        rhost: h.rhost(),
        host: Some(policy.host_name.clone()),
    };
    let why = "pass accepted as current password";
    store.audit(&AuditRow {
        at: now,
        event: Event::GraceUsed,
        user: Some(user),
        pass_id: Some(rec.id),
        reason: Some(why),
        ctx: &ctx,
    })?;
    env.log.log(
        Level::Info,
        &format!("chauthtok service={service} user={user} pass={} outcome=grace", rec.id),
    );
    let derived = hash::derive(&rec.derive_key, &code);
    let set = h.set_old_authtok(derived.as_bytes());
    // So that UPDATE says what is happening here too, as after a login with the pass.
    let kept = set.and_then(|()| h.remember(Accepted::Handoff(derived)));
    Ok(kept.map_or_else(ChangeOutcome::Handle, |()| ChangeOutcome::GraceAnswered))
}
