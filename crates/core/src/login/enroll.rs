//! The key enrollment step, `pam_tap.so enroll`: sshd's keyboard-interactive method after the
//! publickey method (`AuthenticationMethods publickey,keyboard-interactive:pam`) on a key-only
//! server. sshd has already proven the client holds the key it names in `SSH_AUTH_INFO_0`; sshd's
//! keys command vouched for it either because it is enrolled or because the user holds a live
//! enrollment pass. This step decides which, never trusting the keys command's answer:
//!
//! 1. an enrolled key (the keys database, or the fleet store and its cache) passes, no prompt;
//! 2. with a live enrollment pass, the pass is asked for once and enrolls this key;
//! 3. a key in the user's own authorized_keys passes, no prompt;
//! 4. anything else is refused: no pass in this state lets an unknown key in.
//!
//! No password is ever asked for or accepted here.

use pam_tap_base::authorized_keys;
use pam_tap_base::error::Error;
use pam_tap_base::passcode::{normalize, MAX_INPUT};
use pam_tap_base::users::Account;
use pam_tap_store::keys::PublicKey;
use pam_tap_store::{AuditRow, Backend, Context, Event, Opened, PassRecord, Status};

use super::{fail, ineligible, report, Decision, Env, Handle};
use crate::config::Policy;
use crate::gate;
use crate::outcome::Outcome;

mod known;
mod with_pass;

/// `pam_sm_authenticate` with the `enroll` argument, under a loaded, trusted policy.
pub fn enroll<'s, H: Handle, B: Backend<'s>>(h: &mut H, policy: &Policy, backend: B, env: &mut Env<'_>) -> Outcome {
    let service = h.service().unwrap_or_default();
    let d = decide(h, policy, backend, env);
    report(&service, &d, env);
    d.outcome
}

/// Who, with which key, against which store.
pub(super) struct Attempt<'s> {
    pub acct: Account,
    pub key: PublicKey,
    pub fingerprint: String,
    pub store: Option<Opened<'s>>,
    pub ctx: Context,
}

impl Attempt<'_> {
    /// Audits a refusal of the pass `rec`, `why`.
    pub fn audit_refused(&mut self, rec: &PassRecord, now: i64, why: &str) -> Result<(), Error> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        store.audit(&AuditRow {
            at: now,
            event: Event::Refused,
            user: Some(&self.acct.name),
            pass_id: Some(rec.id),
            reason: Some(why),
            ctx: &self.ctx,
        })
    }
}

fn decide<'s, H: Handle, B: Backend<'s>>(h: &mut H, policy: &Policy, backend: B, env: &mut Env<'_>) -> Decision {
    let Ok(name) = h.user() else {
        return Decision::new(Outcome::UnknownUser);
    };
    let Some(key) = h.auth_info().as_deref().and_then(PublicKey::from_auth_info) else {
        return Decision {
            detail: Some("no public key was proven first in this connection".into()),
            ..Decision::new(Outcome::Refused("no_key"))
        };
    };
    let acct = match env.dir.account(&name) {
        Ok(Some(a)) => a,
        Ok(None) => return Decision::new(Outcome::UnknownUser),
        Err(e) => return fail(&e, None),
    };
    let fingerprint = key.fingerprint();
    let base = Decision {
        user: Some(acct.name.clone()),
        ..Decision::new(Outcome::KeyKnown)
    };
    let mut store_error = None;
    let store = match backend.exists() {
        false => None,
        true => backend.open().map_err(|e| store_error = Some(e)).ok(),
    };
    let ctx = Context {
        operator: None,
        service: h.service(),
        rhost: h.rhost(),
        host: Some(policy.host_name.clone()),
    };
    let mut at = Attempt {
        acct,
        key,
        fingerprint,
        store,
        ctx,
    };
    match known::enrolled(policy, &mut at, env.now) {
        Ok(true) => {
            return Decision {
                detail: Some(format!("enrolled key {}", at.fingerprint)),
                ..base
            }
        }
        Ok(false) => {}
        Err(e) => store_error = store_error.or(Some(e)),
    }
    let mut not_live = None;
    if let Some(store) = at.store.as_mut() {
        let found = store
            .effective_now(env.now)
            .and_then(|now| Ok((now, store.latest_for(&at.acct.name)?)));
        match found {
            Ok((now, Some(rec))) if rec.enroll_key => {
                let status = rec.status(now, policy.enabled);
                let scope = gate::scope_refusal(policy, &rec, at.ctx.service.as_deref());
                match (status, scope) {
                    (Status::Usable, None) => return with_pass::enroll(h, policy, env, &mut at, rec, now, base),
                    (s, r) => not_live = Some((rec, now, r.map_or(s.as_str().to_string(), |r| r.detail))),
                }
            }
            Ok(_) => {}
            Err(e) => store_error = store_error.or(Some(e)),
        }
    }
    let own = env.dir.authorized_keys(&at.acct.name, &policy.enroll.authorized_keys);
    match own {
        Ok(text) if authorized_keys::lists(&text, &at.key.key_type, &at.key.blob) => {
            return Decision {
                detail: Some(format!("key {} is in the user's authorized_keys", at.fingerprint)),
                ..base
            }
        }
        Ok(_) => {}
        Err(e) => store_error = store_error.or(Some(e)),
    }
    if let Some(e) = store_error {
        return fail(&e, Some(&at.acct.name));
    }
    let why = match &not_live {
        Some((_, _, why)) => format!(
            "key {} is not enrolled and the enrollment pass is {why}",
            at.fingerprint
        ),
        None => format!("key {} is not enrolled and no enrollment pass is live", at.fingerprint),
    };
    if let Some((rec, now, _)) = &not_live {
        if let Err(e) = at.audit_refused(rec, *now, &why) {
            return fail(&e, Some(&at.acct.name));
        }
    }
    Decision {
        outcome: Outcome::Refused("key_unknown"),
        detail: Some(why),
        ..base
    }
}

/// The prompt's text: which key the pass will enroll.
pub fn prompt(fingerprint: &str) -> String {
    format!("Temporary Access Pass (enrolls key {fingerprint}): ")
}

/// The one line shown once the key is enrolled.
pub fn enrolled_line(fingerprint: &str, user: &str) -> String {
    format!("Key {fingerprint} enrolled for {user}; log in with it from now on.")
}

/// The answer, normalised: `None` for one that cannot be a pass (counted as wrong).
fn as_code(answer: &[u8]) -> Option<zeroize::Zeroizing<String>> {
    (answer.len() <= MAX_INPUT).then(|| normalize(answer)).flatten()
}
