//! `tapctl approve ID`, `deny ID --reason TEXT`, `collect ID` and `requests`, and what `issue`
//! shows when its target needs a second operator's approval (crate::admin::approval).

use pam_tap_base::error::Result;
use pam_tap_base::text::{shown, shown_opt};
use pam_tap_base::users::System;
use pam_tap_store::admin::AdminStore;
use pam_tap_store::approval::ApprovalRequest;

use crate::admin::approval::{self, RequestView};
use crate::admin::IssueRequest;
use crate::admitted::{now, Admitted};
use crate::render::{json, local};

/// `tapctl issue USER` for a target that needs approval: the request recorded, no pass shown.
pub(super) fn requested(
    run: &Admitted<'_>,
    store: &mut dyn AdminStore,
    req: &IssueRequest,
    why: &str,
    as_json: bool,
) -> Result<()> {
    let (policy, op) = (run.policy()?, run.operator());
    let r = approval::request(store, policy, &System, op, req, now())?;
    let view = RequestView::of(policy, &System, op, r, now())?;
    if as_json {
        return json(&view);
    }
    println!("Request {} recorded: no pass is issued yet.", view.id);
    println!();
    println!("  why          {}", shown(why));
    print_request(&view);
    println!();
    println!(
        "Next: another operator who may issue for {} approves it (`tapctl approve {}`) or denies it \
         (`tapctl deny {1} --reason TEXT`); then collect the pass with `tapctl collect {1}`.",
        view.user, view.id
    );
    Ok(())
}

fn print_request(v: &RequestView) {
    let t = &v.terms;
    println!("  user         {}", v.user);
    println!("  state        {}", v.state.as_str());
    println!(
        "  requested by {} ({}) at {}",
        shown(&v.requested_by),
        v.requester_role,
        local(v.requested_at)
    );
    println!("  reason       {}", shown_opt(v.reason.as_deref()));
    println!(
        "  lifetime     {}",
        humantime::format_duration(std::time::Duration::from_secs(t.lifetime_secs))
    );
    if let Some(s) = t.starts_at {
        println!("  valid from   {}", local(s));
    }
    println!("  one-time     {}", if t.one_time { "yes" } else { "no" });
    println!(
        "  reset        {}",
        if t.keep_password {
            "no: the password is kept"
        } else {
            "as the policy says"
        }
    );
    if t.replace {
        println!("  replaces     {}'s live pass, if any (--replace)", v.user);
    }
    if t.enroll_key {
        println!("  enrolls      an SSH key only (--enroll-key)");
    }
    if !t.services.is_empty() {
        println!("  services     {}", shown(&t.services.join(", ")));
    }
    if !t.hosts.is_empty() {
        println!("  hosts        {}", shown(&t.hosts.join(", ")));
    }
    match (&v.decided_by, v.collect_by) {
        (Some(by), Some(until)) => println!("  approved by  {}; collect before {}", shown(by), local(until)),
        (Some(by), None) => println!("  denied by    {}: {}", shown(by), shown_opt(v.deny_reason.as_deref())),
        (None, _) => println!("  decide by    {}", local(v.decide_by)),
    }
}

fn print_decided(run: &Admitted<'_>, r: ApprovalRequest, as_json: bool) -> Result<()> {
    let view = RequestView::of(run.policy()?, &System, run.operator(), r, now())?;
    if as_json {
        return json(&view);
    }
    println!("Request {} {}.", view.id, view.state.as_str());
    println!();
    print_request(&view);
    Ok(())
}

pub fn approve(run: &Admitted<'_>, id: i64, as_json: bool) -> Result<()> {
    let mut store = run.open_store()?;
    let r = approval::decide(&mut *store, run.policy()?, &System, run.operator(), id, None, now())?;
    print_decided(run, r, as_json)
}

pub fn deny(run: &Admitted<'_>, id: i64, reason: &str, as_json: bool) -> Result<()> {
    let mut store = run.open_store()?;
    let r = approval::decide(
        &mut *store,
        run.policy()?,
        &System,
        run.operator(),
        id,
        Some(reason),
        now(),
    )?;
    print_decided(run, r, as_json)
}

pub fn collect(run: &Admitted<'_>, id: i64, as_json: bool) -> Result<()> {
    let mut store = run.open_store()?;
    let issued = approval::collect(&mut *store, run.policy()?, &System, run.operator(), id, now())?;
    if issued.enroll_key {
        crate::admin::keys::open_window(&*store, run.policy()?, &issued)?;
    }
    crate::render::print_issued(run, &issued, as_json)
}

pub fn requests(run: &Admitted<'_>, as_json: bool) -> Result<()> {
    let mut store = run.open_store()?;
    let views = approval::open_requests(&mut *store, run.policy()?, &System, run.operator(), now())?;
    if as_json {
        return json(&views);
    }
    if views.is_empty() {
        println!("No request is waiting for a decision or a collection.");
        return Ok(());
    }
    for (i, v) in views.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("Request {}:", v.id);
        print_request(v);
    }
    Ok(())
}
