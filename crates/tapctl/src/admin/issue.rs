//! Issuing a pass, in the steps a bulk issue spreads over cores: the checks that need no database,
//! minting the code and its hashes, the row planned inside the store's transaction, and what the
//! operator is shown.

use std::time::Duration;

use serde::Serialize;
use zeroize::Zeroizing;

use super::{host_scope, may_act_on, rfc3339, ser_time, target, Operator};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::hash;
use pam_tap_base::passcode;
use pam_tap_base::text;
use pam_tap_base::users::{Account, Directory, ShadowEntry};
use pam_tap_core::config::{Policy, MAX_LENGTH};
use pam_tap_core::login::ineligible;
use pam_tap_core::reset;
use pam_tap_store::admin::{AdminStore, Batch};
use pam_tap_store::{NewPass, PassRecord};

/// When a pass starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    At(i64),
    In(Duration),
}

impl Start {
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = s.strip_prefix('+') {
            return pam_tap_core::config::parse_duration(rest).map(Start::In);
        }
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Start::At(t.timestamp()))
            .map_err(|e| format!("`{s}` is neither RFC 3339 (2026-01-31T09:00:00+01:00) nor +DURATION ({e})"))
    }
}

#[derive(Debug, Clone, Default)]
pub struct IssueRequest {
    pub user: String,
    pub lifetime: Option<Duration>,
    pub start: Option<Start>,
    /// `Some(true)` --one-time, `Some(false)` --reusable, `None` policy default.
    pub one_time: Option<bool>,
    pub length: Option<usize>,
    pub replace: bool,
    pub keep_password: bool,
    pub reason: Option<String>,
    /// `--service`: the services the pass works at, within the policy's (empty: all of those).
    pub services: Vec<String>,
    /// `--host`: the hosts (`host_name`s) the pass works on (empty: any host).
    pub hosts: Vec<String>,
    /// `--enroll-key`: the pass only enrolls the SSH key its holder proves with it (key-only
    /// servers); it never resets the password.
    pub enroll_key: bool,
    /// The approved request this issue collects (`tapctl collect`): the only way to a pass for a
    /// target that needs two-person approval (`[approval]`), but for root.
    pub collects: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Issued {
    pub user: String,
    #[serde(serialize_with = "ser_secret")]
    pub pass: Zeroizing<String>,
    pub pass_id: i64,
    #[serde(serialize_with = "ser_time")]
    pub starts_at: i64,
    #[serde(serialize_with = "ser_time")]
    pub expires_at: i64,
    pub one_time: bool,
    pub reset_password: bool,
    /// The fleet store: the reset happens on the host where the pass is used, not now.
    #[serde(skip)]
    pub reset_on_use: bool,
    /// The PAM services the pass is narrowed to (comma-separated), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<String>,
    /// The hosts the pass is scoped to (comma-separated), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    /// The pass only enrolls an SSH key.
    pub enroll_key: bool,
    pub operator: String,
    /// Set when the account is not local and so no change can be forced.
    pub note: Option<String>,
}

fn ser_secret<S: serde::Serializer>(v: &Zeroizing<String>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// An issue request that passed every check needing no database: the target exists, the operator
/// may act on them, they are eligible, and the lifetime, length and reason are within policy.
#[derive(Debug, Clone)]
pub struct CheckedIssue {
    req: IssueRequest,
    acct: Account,
    lifetime: Duration,
    one_time: bool,
    length: usize,
    /// Whether the pass resets the password (now, or where it is used: `reset_on_use`).
    reset: bool,
    /// What the policy and the operator asked for, whatever the account's shadow entry here.
    want_reset: bool,
    reset_on_use: bool,
    note: Option<String>,
    services: Option<String>,
    hosts: Option<String>,
}

impl CheckedIssue {
    pub fn user(&self) -> &str {
        &self.acct.name
    }

    pub fn uid(&self) -> u32 {
        self.acct.uid
    }

    /// Fits the pass to the store, before minting: the fleet store resets on the host where the
    /// pass is used, so whether this host has a shadow entry for the account says nothing.
    pub fn fit_to_store(&mut self, store: &dyn AdminStore) {
        if store.resets_at_accept() && self.want_reset {
            self.reset = true;
            self.reset_on_use = true;
            self.note = None;
        }
    }
}

/// The secrets of a new pass: the code, its argon2id hash, the derive key and the shadow hash to
/// set. Minting is the expensive step (one argon2id run) and needs neither the store nor the
/// name service, so a bulk issue mints on every core.
pub struct Minted {
    code: Zeroizing<String>,
    phc: String,
    key: Zeroizing<[u8; 32]>,
    shadow_set: Option<String>,
}

/// Step 1 of an issue: every check that needs no database, and the pass may be issued without a
/// second operator's approval or collects one ([`IssueRequest::collects`]).
pub fn check_issue(policy: &Policy, dir: &dyn Directory, op: &Operator, req: &IssueRequest) -> Result<CheckedIssue> {
    let c = check_terms(policy, dir, op, req)?;
    if req.collects.is_none() {
        if let Some(why) = super::needs_approval(policy, op, &c.acct) {
            return Err(Error::Refused(format!(
                "a pass for {} needs a second operator's approval ({why}): issue it alone (`tapctl issue {0}`) to request one",
                c.acct.name
            )));
        }
    }
    Ok(c)
}

/// Every check of an issue that needs no database, whether or not it needs approval: what a
/// request is checked against before it is recorded.
pub fn check_terms(policy: &Policy, dir: &dyn Directory, op: &Operator, req: &IssueRequest) -> Result<CheckedIssue> {
    text::check_request(&req.user, req.reason.as_deref())?;
    let acct = target(dir, &req.user)?;
    may_act_on(policy, op, &acct)?;
    if let Some(why) = ineligible(policy, &acct) {
        return Err(Error::Refused(format!("{} may not hold a pass: {why}", acct.name)));
    }
    let lifetime = req.lifetime.unwrap_or(policy.lifetime_default);
    policy.check_lifetime(lifetime).map_err(Error::Refused)?;
    let one_time = match req.one_time {
        Some(false) if policy.force_one_time => {
            return Err(Error::Refused(
                "policy forces one-time passes (pass.force_one_time): --reusable is not allowed".into(),
            ))
        }
        Some(v) => v,
        None => policy.force_one_time || policy.one_time_default,
    };
    let length = req.length.unwrap_or(policy.length);
    if length < policy.length || length > MAX_LENGTH {
        return Err(Error::Refused(format!(
            "--length {length} is outside {} ..= {MAX_LENGTH}",
            policy.length
        )));
    }
    let shadow = dir.shadow(&acct.name)?;
    // A key enrollment pass never touches the password: a key-only server has no use for one.
    let want_reset = policy.reset_password && !req.keep_password && !req.enroll_key;
    let note = (want_reset && shadow.is_none()).then(|| {
        format!(
            "{} has no local /etc/shadow entry (directory account): the pass logs them in, but the password change is left to the directory",
            acct.name
        )
    });
    let reset = want_reset && shadow.is_some();
    let services = pam_tap_core::gate::narrow_services(policy, &req.services)?;
    let hosts = host_scope(&req.hosts)?;
    Ok(CheckedIssue {
        req: req.clone(),
        acct,
        lifetime,
        one_time,
        length,
        reset,
        want_reset,
        reset_on_use: false,
        note,
        services,
        hosts,
    })
}

/// Step 2 of an issue: the code and its hashes.
pub fn mint(c: &CheckedIssue, policy: &Policy) -> Result<Minted> {
    let code = passcode::generate(c.length).map_err(|e| Error::Io(format!("random source: {e}")))?;
    let phc = hash::hash(&code, &policy.kdf)?;
    let key = Zeroizing::new(hash::new_derive_key()?);
    let shadow_set = if c.reset && !c.reset_on_use {
        Some(hash::shadow_crypt(&hash::derive(&key[..], &code))?)
    } else {
        None
    };
    Ok(Minted {
        code,
        phc,
        key,
        shadow_set,
    })
}

/// Step 3 of an issue, inside the store's write transaction: the row to insert given the user's
/// newest pass, the effective time and the shadow entry, and the id of the live pass it replaces.
#[allow(clippy::too_many_arguments)]
pub fn plan_row(
    policy: &Policy,
    op: &Operator,
    c: &CheckedIssue,
    m: &Minted,
    now: i64,
    latest: Option<&PassRecord>,
    eff_now: i64,
    shadow: Option<&ShadowEntry>,
) -> Result<(NewPass, Option<i64>)> {
    let req = &c.req;
    let starts_at = match &req.start {
        None => eff_now,
        Some(Start::At(t)) => *t,
        Some(Start::In(d)) => eff_now + d.as_secs() as i64,
    };
    let expires_at = starts_at + c.lifetime.as_secs() as i64;
    if expires_at <= eff_now {
        return Err(Error::Refused(format!(
            "that pass would have expired already ({})",
            rfc3339(expires_at)
        )));
    }
    pam_tap_core::gate::check_account_for_issue(&c.acct.name, shadow, latest, eff_now)?;
    let mut replaced = None;
    if let Some(l) = latest.filter(|l| l.is_live(eff_now)) {
        if !req.replace {
            return Err(Error::Refused(format!(
                "{} already holds a live pass (id {}, {}, expires {}): revoke it or issue with --replace",
                c.acct.name,
                l.id,
                l.status(eff_now, policy.enabled).as_str(),
                rfc3339(l.expires_at)
            )));
        }
        replaced = Some(l.id);
    }
    // The account state to restore on revoke: if a replaced pass's reset is still in place,
    // the state before that pass, else the current one, as read inside this transaction (a
    // snapshot from the checks could predate another issue's reset).
    let (prev, prev_lastchg) = match (shadow, latest) {
        (Some(sp), Some(l)) if l.shadow_set.as_deref() == Some(sp.hash.as_str()) => {
            (l.shadow_prev.clone(), l.shadow_prev_lastchg)
        }
        (Some(sp), _) => (Some(sp.hash.clone()), sp.lastchg),
        (None, _) => (None, None),
    };
    let new = NewPass {
        user: c.acct.name.clone(),
        uid: c.acct.uid,
        hash: m.phc.clone(),
        derive_key: m.key.to_vec(),
        created_at: now,
        starts_at,
        expires_at,
        one_time: c.one_time,
        reset_password: c.reset,
        issued_by: op.name.clone(),
        reason: req.reason.clone(),
        shadow_set: m.shadow_set.clone(),
        shadow_prev: if m.shadow_set.is_some() { prev } else { None },
        shadow_prev_lastchg: if m.shadow_set.is_some() { prev_lastchg } else { None },
        issuer_role: Some(op.role.word().into()),
        services: c.services.clone(),
        hosts: c.hosts.clone(),
        enroll_key: req.enroll_key,
    };
    Ok((new, replaced))
}

/// What the operator is shown once a pass is committed.
pub fn issued(op: &Operator, c: CheckedIssue, m: Minted, id: i64, new: &NewPass) -> Issued {
    Issued {
        user: c.acct.name,
        pass: m.code,
        pass_id: id,
        starts_at: new.starts_at,
        expires_at: new.expires_at,
        one_time: c.one_time,
        reset_password: c.reset,
        reset_on_use: c.reset_on_use,
        services: new.services.clone(),
        hosts: c.hosts,
        enroll_key: c.req.enroll_key,
        operator: op.name.clone(),
        note: c.note,
    }
}

/// Issues a pass. The pass row and its audit row are committed, marked pending, before the shadow
/// reset; the mark is cleared once the reset is in place. A failed reset revokes the pass and puts
/// the account back; one cut short by SIGKILL is undone at the next touch (crates/core/src/reset.rs).
pub fn issue(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    req: &IssueRequest,
    now: i64,
) -> Result<Issued> {
    let ctx = op.context();
    crate::shield::settle_user(store, dir, policy, &req.user, now, &ctx)?;
    let mut c = check_issue(policy, dir, op, req)?;
    c.fit_to_store(store);
    let m = mint(&c, policy)?;
    let _shield = crate::shield::Shield::hold();
    let owner = pam_tap_base::process::owner();
    let batch = Batch {
        users: &[c.user()],
        now,
        ctx: &ctx,
        owner: &owner,
    };
    let mut plan = |_: usize, latest: Option<&PassRecord>, eff_now: i64| {
        plan_row(policy, op, &c, &m, now, latest, eff_now, dir.shadow(c.user())?.as_ref())
    };
    let rows = match req.collects {
        None => store.insert_pending(&batch, &mut plan)?,
        Some(id) => store.collect_pending(id, &op.name, &batch, &mut plan)?,
    };
    reset::put_in_place(store, dir, policy, &rows, now, &ctx)?;
    // A replaced pass's reset, if this pass did not take its place, is settled now; should that
    // fail, the next touch retries, and the pass just issued must still reach the operator.
    let _ = reset::settle_user(store, dir, policy, c.user(), now, &ctx);
    let (id, new) = rows
        .into_iter()
        .next()
        .ok_or_else(|| Error::Store("no row inserted".into()))?;
    Ok(issued(op, c, m, id, &new))
}
