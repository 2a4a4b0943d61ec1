//! Two-person approval (`[approval]`): a pass for a target that needs it is first a request
//! (audited, with its reason); another operator who may issue for that user, never the requester
//! and never the user, approves or denies it; the requester then collects the pass once, within
//! `collect_within`, or the request lapses. No secret waits in the store: the pass is minted at
//! collection, with exactly the terms the approver saw.
//!
//! Root is not asked for approval: root is the break-glass account, as Entra's global
//! administrator is, and its passes are audited as root's like every other.

use serde::{Deserialize, Serialize};

use super::{issue, may_act_on, rfc3339, ser_time, target, IssueRequest, Issued, Operator, Role, Start};
use pam_tap_base::error::{Error, Result};
use pam_tap_base::text;
use pam_tap_base::users::Directory;
use pam_tap_core::config::Policy;
use pam_tap_store::admin::AdminStore;
use pam_tap_store::approval::{refuse_collection, ApprovalRequest, Decision, NewRequest, RequestState};

/// The terms of a requested pass, resolved when it is requested: what the approver sees and what
/// the collection issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    pub lifetime_secs: u64,
    /// When the pass starts; `None`: when it is collected.
    pub starts_at: Option<i64>,
    pub one_time: bool,
    pub length: usize,
    pub replace: bool,
    pub keep_password: bool,
    pub services: Vec<String>,
    pub hosts: Vec<String>,
    /// The pass only enrolls an SSH key (`--enroll-key`).
    #[serde(default)]
    pub enroll_key: bool,
    /// The uid of the account the request names: it is approved and collected for that account,
    /// never for a later one under the name. `None` in a request from before it was kept.
    #[serde(default)]
    pub uid: Option<u32>,
}

impl Terms {
    fn of(policy: &Policy, req: &IssueRequest, uid: u32, now: i64) -> Terms {
        Terms {
            lifetime_secs: req.lifetime.unwrap_or(policy.lifetime_default).as_secs(),
            starts_at: req.start.as_ref().map(|s| match s {
                Start::At(t) => *t,
                Start::In(d) => now + d.as_secs() as i64,
            }),
            one_time: req.one_time.unwrap_or(policy.force_one_time || policy.one_time_default),
            length: req.length.unwrap_or(policy.length),
            replace: req.replace,
            keep_password: req.keep_password,
            services: req.services.clone(),
            hosts: req.hosts.clone(),
            enroll_key: req.enroll_key,
            uid: Some(uid),
        }
    }

    fn issue_request(&self, user: &str, reason: Option<String>, collects: i64) -> IssueRequest {
        IssueRequest {
            user: user.to_string(),
            lifetime: Some(std::time::Duration::from_secs(self.lifetime_secs)),
            start: self.starts_at.map(Start::At),
            one_time: Some(self.one_time),
            length: Some(self.length),
            replace: self.replace,
            keep_password: self.keep_password,
            reason,
            services: self.services.clone(),
            hosts: self.hosts.clone(),
            enroll_key: self.enroll_key,
            collects: Some(collects),
        }
    }

    fn parse(r: &ApprovalRequest) -> Result<Terms> {
        serde_json::from_str(&r.params).map_err(|e| Error::Store(format!("request {}: unreadable terms ({e})", r.id)))
    }
}

fn ser_opt_time<S: serde::Serializer>(v: &Option<i64>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// A request as `tapctl requests` shows it, with what the operator asking may do with it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: i64,
    pub user: String,
    pub state: RequestState,
    pub terms: Terms,
    pub reason: Option<String>,
    pub requested_by: String,
    pub requester_role: String,
    #[serde(serialize_with = "ser_time")]
    pub requested_at: i64,
    #[serde(serialize_with = "ser_time")]
    pub decide_by: i64,
    pub decided_by: Option<String>,
    #[serde(serialize_with = "ser_opt_time")]
    pub decided_at: Option<i64>,
    pub deny_reason: Option<String>,
    #[serde(serialize_with = "ser_opt_time")]
    pub collect_by: Option<i64>,
    #[serde(serialize_with = "ser_opt_time")]
    pub collected_at: Option<i64>,
    pub pass_id: Option<i64>,
    /// The operator asking may approve or deny it now.
    pub may_decide: bool,
    /// The operator asking may collect its pass now.
    pub may_collect: bool,
}

impl RequestView {
    pub fn of(policy: &Policy, dir: &dyn Directory, op: &Operator, r: ApprovalRequest, now: i64) -> Result<Self> {
        let terms = Terms::parse(&r)?;
        let state = r.state(now);
        let may_decide = state == RequestState::Pending && may_decide(policy, dir, op, &r).is_ok();
        let may_collect = refuse_collection(&r, &op.name, now).is_none();
        Ok(RequestView {
            id: r.id,
            user: r.user,
            state,
            terms,
            reason: r.reason,
            requested_by: r.requested_by,
            requester_role: r.requester_role,
            requested_at: r.requested_at,
            decide_by: r.decide_by,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            deny_reason: r.deny_reason,
            collect_by: r.collect_by,
            collected_at: r.collected_at,
            pass_id: r.pass_id,
            may_decide,
            may_collect,
        })
    }
}

/// Records a request for the pass `req` asks for: checked as an issue is, but nothing minted.
pub fn request(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    req: &IssueRequest,
    now: i64,
) -> Result<ApprovalRequest> {
    let c = super::issue::check_terms(policy, dir, op, req)?;
    let terms = Terms::of(policy, req, c.uid(), now);
    let params = serde_json::to_string(&terms).map_err(|e| Error::Store(e.to_string()))?;
    let ctx = op.context();
    store.lapse_requests(now, &ctx)?;
    let new = NewRequest {
        user: c.user(),
        params: &params,
        reason: req.reason.as_deref(),
        requested_by: &op.name,
        requester_role: op.role.word(),
        decide_within: policy.approval.decide_within.as_secs() as i64,
    };
    store.add_request(&new, now, &ctx)
}

/// Whether `op` may decide `r`: they may issue for its user (so never the user), and they are not
/// its requester, by name or by uid.
fn may_decide(policy: &Policy, dir: &dyn Directory, op: &Operator, r: &ApprovalRequest) -> Result<()> {
    let acct = target(dir, &r.user)?;
    may_act_on(policy, op, &acct)?;
    // A second name for the requester's uid (`useradd -o`) is the requester still.
    let uid_of = |name: &str| dir.account(name).map(|a| a.map(|a| a.uid));
    let same_uid = op.role != Role::Root
        && match (uid_of(&op.name)?, uid_of(&r.requested_by)?) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => false,
        };
    if op.name == r.requested_by || same_uid {
        return Err(Error::Refused(format!(
            "request {} is {}'s own: another operator must decide it",
            r.id, r.requested_by
        )));
    }
    Ok(())
}

/// Refuses a request whose user is not the account it was made for (deleted and made again under
/// the name, or given another uid): what was asked and approved was a pass for that person.
fn same_account(dir: &dyn Directory, r: &ApprovalRequest, terms: &Terms) -> Result<()> {
    let acct = target(dir, &r.user)?;
    match terms.uid {
        Some(uid) if uid == acct.uid => Ok(()),
        Some(uid) => Err(Error::Refused(format!(
            "request {} was made for {} with uid {uid}, and {} is uid {} now (another account under the \
             name): deny it, and request a pass for the account anew",
            r.id, r.user, r.user, acct.uid
        ))),
        None => Err(Error::Refused(format!(
            "request {} was made before requests kept the account's uid: deny it, and request anew",
            r.id
        ))),
    }
}

/// Approves (`deny_reason` `None`) or denies request `id`.
pub fn decide(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    id: i64,
    deny_reason: Option<&str>,
    now: i64,
) -> Result<ApprovalRequest> {
    text::check_reason("--reason", deny_reason)?;
    if deny_reason.is_some_and(|r| r.trim().is_empty()) {
        return Err(Error::Refused(
            "a denial needs a reason: its requester is shown it".into(),
        ));
    }
    let ctx = op.context();
    store.lapse_requests(now, &ctx)?;
    let r = store
        .request(id)?
        .ok_or_else(|| Error::Refused(format!("there is no request {id}")))?;
    may_decide(policy, dir, op, &r)?;
    if deny_reason.is_none() {
        same_account(dir, &r, &Terms::parse(&r)?)?;
    }
    let d = Decision {
        id,
        approve: deny_reason.is_none(),
        by: &op.name,
        deny_reason,
        collect_within: policy.approval.collect_within.as_secs() as i64,
    };
    store.decide_request(&d, now, &ctx)
}

/// Collects the pass of approved request `id` for its requester `op`: issued now, once.
pub fn collect(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    id: i64,
    now: i64,
) -> Result<Issued> {
    store.lapse_requests(now, &op.context())?;
    let r = store
        .request(id)?
        .ok_or_else(|| Error::Refused(format!("there is no request {id}")))?;
    if let Some(why) = refuse_collection(&r, &op.name, now) {
        return Err(Error::Refused(why));
    }
    let terms = Terms::parse(&r)?;
    same_account(dir, &r, &terms)?;
    issue(
        store,
        policy,
        dir,
        op,
        &terms.issue_request(&r.user, r.reason.clone(), id),
        now,
    )
}

/// The requests still open, as `op` may act on them.
pub fn open_requests(
    store: &mut dyn AdminStore,
    policy: &Policy,
    dir: &dyn Directory,
    op: &Operator,
    now: i64,
) -> Result<Vec<RequestView>> {
    store.lapse_requests(now, &op.context())?;
    store
        .open_requests()?
        .into_iter()
        .map(|r| RequestView::of(policy, dir, op, r, now))
        .collect()
}
