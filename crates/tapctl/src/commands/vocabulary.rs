//! `tapctl vocabulary --json`: the words pam_tap speaks (pass statuses, `status` reasons, audit
//! events, roles), how
//! a person reads each, and what the operator running it may do, per the command table. The
//! Cockpit page renders from this instead of keeping its own copy, so a status, event or role
//! added to the code reaches the page (each `match` below is exhaustive: a new variant does not
//! compile until it has its words).

use pam_tap_base::error::Result;
use pam_tap_core::usability::Reason;
use pam_tap_store::admin::may_run;
use pam_tap_store::operator::Role;
use pam_tap_store::{Event, Status};
use serde::Serialize;

use crate::admitted::Admitted;
use crate::render::json;
use crate::table::COMMAND_TABLE;

mod reasons;
use reasons::reason_word;

/// How a status is shown: the page maps each tone to its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Good,
    Info,
    Warning,
    Danger,
    Neutral,
}

#[derive(Debug, Serialize)]
pub struct StatusWord {
    pub status: &'static str,
    pub label: &'static str,
    pub tone: Tone,
    pub meaning: &'static str,
    /// Listed by default and ended by revoking ([`Status::is_live`]).
    pub live: bool,
}

/// A reason `tapctl status` gives ([`Reason`]): what it means and what a helpdesk does about it.
#[derive(Debug, Serialize)]
pub struct ReasonWord {
    pub reason: &'static str,
    pub label: &'static str,
    pub tone: Tone,
    /// Whether the pass would log in.
    pub usable: bool,
    pub meaning: &'static str,
    pub remedy: &'static str,
}

#[derive(Debug, Serialize)]
pub struct EventWord {
    pub event: &'static str,
    pub meaning: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RoleWord {
    pub role: &'static str,
    pub label: &'static str,
    /// The commands the role may run (`hosts list`), per the command table.
    pub may: Vec<String>,
}

/// Who is asking, and the role the door found for them.
#[derive(Debug, Serialize)]
pub struct You {
    pub operator: String,
    pub role: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Vocabulary {
    pub statuses: Vec<StatusWord>,
    pub reasons: Vec<ReasonWord>,
    pub events: Vec<EventWord>,
    pub roles: Vec<RoleWord>,
    pub you: You,
}

pub fn run(run: &Admitted<'_>, as_json: bool) -> Result<()> {
    let op = run.operator();
    let v = vocabulary(&op.name, op.role);
    if as_json {
        return json(&v);
    }
    println!("You: {} ({})", v.you.operator, v.you.role);
    println!("\nStatuses:");
    for s in &v.statuses {
        println!("  {:<20} {}", s.status, s.meaning);
    }
    println!("\nWhy a pass would or would not log in (tapctl status):");
    for r in &v.reasons {
        println!("  {:<20} {}", r.reason, r.meaning);
    }
    println!("\nAudit events:");
    for e in &v.events {
        println!("  {:<20} {}", e.event, e.meaning);
    }
    println!("\nRoles:");
    for r in &v.roles {
        println!("  {:<20} {}", r.role, r.may.join(", "));
    }
    Ok(())
}

/// The vocabulary as `operator`, holding `role`, is told it.
pub fn vocabulary(operator: &str, role: Role) -> Vocabulary {
    Vocabulary {
        statuses: Status::all().map(status_word).collect(),
        reasons: Reason::ALL.into_iter().map(reason_word).collect(),
        events: Event::all().map(event_word).collect(),
        roles: Role::all().rev().map(role_word).collect(),
        you: You {
            operator: operator.to_string(),
            role: role.word(),
        },
    }
}

fn status_word(s: Status) -> StatusWord {
    let (label, tone, meaning) = match s {
        Status::Usable => ("Usable", Tone::Good, "Can be used now"),
        Status::NotYetValid => ("Not yet valid", Tone::Info, "Its validity window has not started"),
        Status::Expired => ("Expired", Tone::Neutral, "Its validity window has ended"),
        Status::Used => ("Used", Tone::Neutral, "A one-time pass that has been used"),
        Status::Revoked => ("Revoked", Tone::Danger, "Revoked by an operator"),
        Status::Locked => ("Locked", Tone::Danger, "Locked after too many wrong answers"),
        Status::Resting => (
            "Resting",
            Tone::Warning,
            "Too many wrong answers in a row: refused until the rest ends (tapctl unlock ends it)",
        ),
        Status::DisabledByPolicy => (
            "Disabled",
            Tone::Warning,
            "pam_tap is off (enabled = false) or the user may no longer hold a pass",
        ),
    };
    StatusWord {
        status: s.as_str(),
        label,
        tone,
        meaning,
        live: s.is_live(),
    }
}

fn event_word(e: Event) -> EventWord {
    let meaning = match e {
        Event::Issued => "A pass was issued",
        Event::Used => "A pass logged the user in",
        Event::Failed => "A wrong answer to the pass prompt",
        Event::Locked => "A pass was locked after too many wrong answers",
        Event::Revoked => "An operator revoked a pass",
        Event::Purged => "Ended passes were deleted",
        Event::Refused => "A pass was refused (outside its window, scope or policy)",
        Event::GraceUsed => "The forced password change ran within the grace after the pass",
        Event::Resting => "A pass began a rest after wrong answers in a row",
        Event::Unlocked => "An operator ended a pass's rest",
        Event::Reset => "A reset pass's password state was put in place, restored or handed over",
        Event::HostBound => "A fleet host's database role was bound to its host name",
        Event::HostUnbound => "A fleet host's binding was removed",
        Event::Enrolled => "A pass enrolled the SSH key its holder proved in the same connection",
        Event::KeyRevoked => "An operator removed an enrolled SSH key",
        Event::Requested => "A pass for a user who needs two-person approval was requested",
        Event::Approved => "Another operator approved a request for a pass",
        Event::Denied => "Another operator denied a request for a pass",
        Event::Collected => "The requester collected the pass of an approved request",
        Event::Lapsed => "A request for a pass was not decided, or not collected, in time",
    };
    EventWord {
        event: e.as_str(),
        meaning,
    }
}

fn role_word(r: Role) -> RoleWord {
    let label = match r {
        Role::Root => "root",
        Role::PrivilegedIssuer => "privileged issuer",
        Role::Issuer => "issuer",
        Role::Viewer => "viewer",
    };
    RoleWord {
        role: r.word(),
        label,
        may: COMMAND_TABLE
            .iter()
            .filter(|rule| may_run(COMMAND_TABLE, rule.path, r))
            .map(|rule| rule.path.join(" "))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_event_and_role_has_its_words() {
        let v = vocabulary("ann", Role::Issuer);
        assert_eq!(v.statuses.len(), Status::all().count());
        assert_eq!(v.events.len(), Event::all().count());
        assert_eq!(v.reasons.len(), Reason::ALL.len());
        for r in &v.reasons {
            assert!(
                !r.label.is_empty() && !r.meaning.is_empty() && !r.remedy.is_empty(),
                "{}",
                r.reason
            );
            assert_eq!(r.usable, matches!(r.tone, Tone::Good), "{}", r.reason);
        }
        assert_eq!(v.roles.len(), Role::all().count());
        for s in &v.statuses {
            assert!(!s.label.is_empty() && !s.meaning.is_empty(), "{}", s.status);
        }
        let resting = v.statuses.iter().find(|s| s.status == "resting").unwrap();
        assert!(resting.live && resting.tone == Tone::Warning);
        assert_eq!(v.you.role, "issuer");
    }

    #[test]
    fn each_role_may_run_what_the_table_lets_it_and_no_more() {
        let v = vocabulary("ann", Role::Viewer);
        let may = |role: &str| v.roles.iter().find(|r| r.role == role).unwrap().may.clone();
        assert!(may("viewer").contains(&"list".to_string()));
        assert!(!may("viewer").contains(&"issue".to_string()));
        assert!(may("issuer").contains(&"revoke".to_string()));
        assert!(!may("issuer").contains(&"purge".to_string()));
        assert!(may("privileged_issuer").contains(&"purge".to_string()));
        assert_eq!(may("root").len(), COMMAND_TABLE.len());
        assert!(!may("privileged_issuer").contains(&"init".to_string()));
        for cmd in ["approve", "deny", "collect"] {
            assert!(may("issuer").contains(&cmd.to_string()), "{cmd}");
            assert!(!may("viewer").contains(&cmd.to_string()), "{cmd}");
        }
        assert!(may("viewer").contains(&"requests".to_string()));
    }
}
