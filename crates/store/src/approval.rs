//! Two-person approval as the stores keep it: a request for a pass, its decision and its
//! collection. No secret waits here: a request holds the parameters (as tapctl wrote them,
//! opaque to the store) and the pass is minted only when its requester collects it.

use serde::Serialize;

/// A request for a pass, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub id: i64,
    pub user: String,
    /// The parameters the approver sees and the collection uses (tapctl's JSON).
    pub params: String,
    /// The requester's reason.
    pub reason: Option<String>,
    pub requested_by: String,
    pub requester_role: String,
    pub requested_at: i64,
    /// When it lapses if nobody decides.
    pub decide_by: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// `approved` or `denied`.
    pub decision: Option<String>,
    pub deny_reason: Option<String>,
    /// When an approved request lapses if its requester does not collect it.
    pub collect_by: Option<i64>,
    pub collected_at: Option<i64>,
    /// The pass the collection minted.
    pub pass_id: Option<i64>,
    pub lapsed_at: Option<i64>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RequestState {
    /// Waiting for another operator's decision.
    Pending,
    /// Approved; its requester may collect the pass.
    Approved,
    Denied,
    Collected,
    Lapsed,
}

pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";

impl ApprovalRequest {
    /// The state at `now` (a request past its deadline is lapsed even before a write marks it).
    pub fn state(&self, now: i64) -> RequestState {
        if self.collected_at.is_some() {
            return RequestState::Collected;
        }
        if self.lapsed_at.is_some() {
            return RequestState::Lapsed;
        }
        match self.decision.as_deref() {
            Some(DENIED) => RequestState::Denied,
            Some(_) if self.collect_by.is_some_and(|t| now >= t) => RequestState::Lapsed,
            Some(_) => RequestState::Approved,
            None if now >= self.decide_by => RequestState::Lapsed,
            None => RequestState::Pending,
        }
    }
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A request to record.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub user: &'a str,
    pub params: &'a str,
    pub reason: Option<&'a str>,
    pub requested_by: &'a str,
    pub requester_role: &'a str,
    /// How long it waits for a decision, in seconds from the store's clock.
    pub decide_within: i64,
}

/// A decision to record: approve (the collect window starts) or deny (with a reason).
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub id: i64,
    pub approve: bool,
    pub by: &'a str,
    pub deny_reason: Option<&'a str>,
    /// How long an approved request waits for its collection, in seconds from the decision.
    pub collect_within: i64,
}

/// The audit text naming a request, with a reason if any.
pub fn audit_reason(id: i64, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("request {id}: {r}"),
        None => format!("request {id}"),
    }
}

/// Why a decision on `r` at `now` is refused, if it is.
pub fn refuse_decision(r: &ApprovalRequest, by: &str, now: i64) -> Option<String> {
    if r.requested_by == by {
        return Some(format!(
            "request {} is {by}'s own: another operator must decide it",
            r.id
        ));
    }
    match r.state(now) {
        RequestState::Pending => None,
        s => Some(format!("request {} is {}, not pending", r.id, s.as_str())),
    }
}

/// Why collecting `r` by `by` at `now` is refused, if it is.
pub fn refuse_collection(r: &ApprovalRequest, by: &str, now: i64) -> Option<String> {
    if r.requested_by != by {
        return Some(format!(
            "request {} is {}'s: only its requester may collect the pass",
            r.id, r.requested_by
        ));
    }
    match r.state(now) {
        RequestState::Approved => None,
        RequestState::Denied => Some(format!(
            "request {} was denied by {}: {}",
            r.id,
            r.decided_by.as_deref().unwrap_or("?"),
            r.deny_reason.as_deref().unwrap_or("no reason given")
        )),
        RequestState::Pending => Some(format!(
            "request {} is still pending: another operator must approve it first",
            r.id
        )),
        RequestState::Collected => Some(format!(
            "request {} was collected already (pass {}): a request gives one pass",
            r.id,
            r.pass_id.map_or("-".to_string(), |p| p.to_string())
        )),
        RequestState::Lapsed => Some(format!(
            "request {} has lapsed: it was not decided, or not collected, in time; issue again to request anew",
            r.id
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ApprovalRequest {
        ApprovalRequest {
            id: 7,
            user: "bob".into(),
            requested_by: "ann".into(),
            requested_at: 100,
            decide_by: 200,
            ..Default::default()
        }
    }

    #[test]
    fn a_request_moves_from_pending_to_collected_or_lapses() {
        let mut r = req();
        assert_eq!(r.state(150), RequestState::Pending);
        assert_eq!(r.state(200), RequestState::Lapsed);
        assert!(refuse_decision(&r, "ann", 150).unwrap().contains("own"));
        assert_eq!(refuse_decision(&r, "cy", 150), None);
        assert!(refuse_decision(&r, "cy", 200).unwrap().contains("lapsed"));
        r.decision = Some(APPROVED.into());
        r.collect_by = Some(300);
        assert_eq!(r.state(250), RequestState::Approved);
        assert!(refuse_decision(&r, "cy", 250).unwrap().contains("approved"));
        assert!(refuse_collection(&r, "cy", 250).unwrap().contains("only its requester"));
        assert_eq!(refuse_collection(&r, "ann", 250), None);
        assert!(refuse_collection(&r, "ann", 300).unwrap().contains("lapsed"));
        r.collected_at = Some(260);
        assert!(refuse_collection(&r, "ann", 270).unwrap().contains("collected"));
        let mut d = req();
        d.decision = Some(DENIED.into());
        d.decided_by = Some("cy".into());
        d.deny_reason = Some("not today".into());
        assert_eq!(d.state(999), RequestState::Denied);
        assert!(refuse_collection(&d, "ann", 150).unwrap().contains("not today"));
    }
}
