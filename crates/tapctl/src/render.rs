//! How tapctl shows things to a person: local times, the pass table, one pass, the audit log,
//! and JSON for the Cockpit page and scripts. Every name or text from the store goes through
//! `text::shown`, so nothing a user chose reaches the terminal unescaped.

use crate::admin::{Issued, View};
use crate::admitted::Admitted;
use pam_tap_base::error::{Error, Result};
use pam_tap_base::{passcode, text};
use pam_tap_store::AuditEntry;

pub fn local(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .unwrap_or_else(|| t.to_string())
}

fn opt_local(t: Option<i64>) -> String {
    t.map_or("-".into(), local)
}

pub fn json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| Error::Io(e.to_string()))?
    );
    Ok(())
}

pub fn print_views(views: &[View]) {
    // The HOSTS column only when some pass is scoped to hosts.
    let scoped = views.iter().any(|v| v.hosts.is_some());
    let header = format!(
        "{:>5}  {:<16} {:<18} {:<26} {:<9} ISSUED BY",
        "ID", "USER", "STATUS", "EXPIRES", "ONE-TIME"
    );
    if scoped {
        println!("{header:<90} HOSTS");
    } else {
        println!("{header}");
    }
    for v in views {
        let line = format!(
            "{:>5}  {:<16} {:<18} {:<26} {:<9} {}",
            v.id,
            text::shown(&v.user),
            v.status.as_str(),
            local(v.expires_at),
            if v.one_time { "yes" } else { "no" },
            text::shown(&v.issued_by)
        );
        if scoped {
            println!("{line:<90} {}", v.hosts.as_deref().map_or("any".into(), text::shown));
        } else {
            println!("{line}");
        }
    }
}

pub fn show_view(v: &View) {
    println!("pass {} for {} (uid {})", v.id, text::shown(&v.user), v.uid);
    println!("  status          {}", v.status.as_str());
    println!(
        "  issued          {} by {}",
        local(v.created_at),
        text::shown(&v.issued_by)
    );
    println!("  valid from      {}", local(v.starts_at));
    println!("  valid until     {}", local(v.expires_at));
    println!("  one-time        {}", if v.one_time { "yes" } else { "no" });
    println!(
        "  password reset  {}",
        if v.reset_password {
            "yes (change forced at first login)"
        } else {
            "no"
        }
    );
    println!("  used            {} ({} time(s))", opt_local(v.used_at), v.use_count);
    println!("  failures        {}", v.failures);
    println!("  locked          {}", opt_local(v.locked_at));
    println!("  revoked         {}", opt_local(v.revoked_at));
    if let Some(s) = &v.services {
        println!("  services        {}", text::shown(&s.replace(',', ", ")));
    }
    if let Some(h) = &v.hosts {
        println!("  hosts           {}", text::shown(&h.replace(',', ", ")));
    }
    if let Some(r) = &v.reason {
        println!("  reason          {}", text::shown(r));
    }
}

pub fn print_log(entries: &[AuditEntry]) {
    for e in entries {
        let mut line = format!(
            "{}  {:<10} user={}",
            local(e.at),
            text::shown(&e.event),
            text::shown_opt(e.user.as_deref())
        );
        if let Some(id) = e.pass_id {
            line.push_str(&format!(" pass={id}"));
        }
        for (k, v) in [
            ("operator", &e.operator),
            ("service", &e.service),
            ("rhost", &e.rhost),
            ("reason", &e.reason),
            ("host", &e.host),
            ("db_role", &e.db_role),
        ] {
            if let Some(v) = v {
                line.push_str(&format!(" {k}={}", text::shown(v)));
            }
        }
        println!("{line}");
    }
}

/// What the operator is shown of a pass just issued or collected: the only time it is.
pub fn print_issued(run: &Admitted<'_>, issued: &Issued, as_json: bool) -> Result<()> {
    let policy = run.policy()?;
    if !policy.enabled {
        eprintln!(
            "tapctl: warning: enabled = false in {}: the pass works only once that is turned on",
            run.cli().config_path().display()
        );
    }
    if let Some(note) = &issued.note {
        eprintln!("tapctl: note: {note}");
    }
    if as_json {
        return json(issued);
    }
    println!("Temporary Access Pass for {} (pass {}):", issued.user, issued.pass_id);
    println!();
    println!("    {}", passcode::grouped(&issued.pass).as_str());
    println!();
    println!("  valid from   {}", local(issued.starts_at));
    println!("  valid until  {}", local(issued.expires_at));
    if let Some(services) = &issued.services {
        println!("  services     {}", services.replace(',', ", "));
    }
    if let Some(hosts) = &issued.hosts {
        println!("  hosts        {}", hosts.replace(',', ", "));
    }
    println!(
        "  one-time     {}",
        if issued.one_time {
            "yes"
        } else {
            "no (reusable until it expires)"
        }
    );
    println!();
    println!(
        "This is the only time the pass is shown: give it to {} through a trusted channel.",
        issued.user
    );
    println!("It is not case-sensitive; dashes and spaces are ignored.");
    if issued.enroll_key {
        println!(
            "Next: on their own machine {0} makes a key (ssh-keygen -t ed25519, or -t ed25519-sk with a security key) and runs ssh {0}@HOST; the server asks for the pass once and enrolls that key. From then on the key logs in alone. Their password is unchanged.",
            issued.user
        );
    } else if issued.reset_on_use {
        println!(
            "Next: {} logs in with it and is asked at once to choose a new password. On the host where the pass is used, their old password stops working then.",
            issued.user
        );
    } else if issued.reset_password {
        println!(
            "Next: {} logs in with it and is asked at once to choose a new password. Their old password no longer works.",
            issued.user
        );
    } else {
        println!(
            "Next: {} logs in with it; their password is unchanged and no change is forced.",
            issued.user
        );
    }
    Ok(())
}
