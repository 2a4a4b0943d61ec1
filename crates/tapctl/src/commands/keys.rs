//! `tapctl keys list [USER]` and `tapctl keys revoke USER FINGERPRINT`: the SSH keys passes enrolled.

use pam_tap_base::error::Result;
use pam_tap_base::text::shown;
use pam_tap_base::users::System;

use crate::admin;
use crate::admitted::{now, Admitted};
use crate::cli::KeysAction;
use crate::render::{json, local};

pub fn run(run: &Admitted<'_>, action: &KeysAction) -> Result<()> {
    let policy = run.policy()?;
    let mut store = run.open_store()?;
    match action {
        KeysAction::List { user, json: as_json } => {
            let keys = admin::keys::list(&mut *store, policy, user.as_deref())?;
            if *as_json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "user": k.user,
                            "uid": k.uid,
                            "fingerprint": k.key.fingerprint(),
                            "key_type": k.key.key_type,
                            "public_key": k.key.line(),
                            "pass_id": k.pass_id,
                            "host": k.host,
                            "hosts": k.hosts,
                            "enrolled_at": pam_tap_base::timefmt::rfc3339(k.enrolled_at),
                        })
                    })
                    .collect();
                return json(&rows);
            }
            if keys.is_empty() {
                println!("no enrolled keys");
                return Ok(());
            }
            println!(
                "{:<16} {:<8} {:<51} {:<36} {:<26} HOST",
                "USER", "UID", "FINGERPRINT", "TYPE", "ENROLLED"
            );
            for k in &keys {
                println!(
                    "{:<16} {:<8} {:<51} {:<36} {:<26} {}",
                    shown(&k.user),
                    k.uid.map_or("-".to_string(), |u| u.to_string()),
                    k.key.fingerprint(),
                    k.key.key_type,
                    local(k.enrolled_at),
                    shown(k.host.as_deref().unwrap_or("-"))
                );
            }
            Ok(())
        }
        KeysAction::Revoke {
            user,
            fingerprint,
            reason,
            json: as_json,
        } => {
            let op = run.operator();
            let gone = admin::keys::revoke(
                &mut *store,
                policy,
                &System,
                op,
                user,
                fingerprint,
                reason.as_deref(),
                now(),
            )?;
            if *as_json {
                return json(
                    &serde_json::json!({"user": gone.user, "fingerprint": gone.key.fingerprint(), "revoked": true}),
                );
            }
            println!(
                "revoked key {} of {}: it no longer logs in",
                gone.key.fingerprint(),
                shown(&gone.user)
            );
            Ok(())
        }
    }
}
