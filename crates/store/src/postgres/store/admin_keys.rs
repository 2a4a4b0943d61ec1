//! The fleet store's enrolled keys as tapctl (a pam_tap_admin member) lists and revokes them.

use super::PgStore;
use crate::keys::{NewKey, PublicKey};
use crate::postgres::PgRow;
use crate::{Context, Event};
use pam_tap_base::error::Result;

fn key_of(r: &PgRow) -> Result<Option<NewKey>> {
    let key = PublicKey::parse(&r.get_str("key_type")?, &r.get_str("blob")?).ok();
    Ok(match key {
        Some(key) => Some(NewKey {
            user: r.get_str("user_name")?,
            uid: r.get_opt_i64("uid")?.and_then(|u| u32::try_from(u).ok()),
            key,
            pass_id: r.get_opt_i64("pass_id")?,
            host: r.get_opt_str("host")?,
            hosts: r.get_opt_str("hosts")?,
            enrolled_at: r.get_i64("enrolled_at")?,
        }),
        None => None,
    })
}

impl PgStore {
    pub(super) fn list_keys(&mut self, user: Option<&str>) -> Result<Vec<NewKey>> {
        let rows = self.conn.get_mut().query(
            "SELECT user_name, uid, key_type, blob, pass_id, host, hosts, enrolled_at FROM pam_tap.keys
              WHERE $1::text IS NULL OR user_name = $1 ORDER BY enrolled_at, id",
            &[user],
        )?;
        let mut out = Vec::new();
        for r in &rows {
            out.extend(key_of(r)?);
        }
        Ok(out)
    }

    pub(super) fn remove_key(
        &mut self,
        user: &str,
        fingerprint: &str,
        ctx: &Context,
        reason: &str,
    ) -> Result<Option<NewKey>> {
        self.in_tx(|s| {
            let now = s.db_now()?;
            let gone = s.conn.get_mut().query(
                "DELETE FROM pam_tap.keys WHERE user_name = $1 AND fingerprint = $2
                 RETURNING user_name, uid, key_type, blob, pass_id, host, hosts, enrolled_at",
                &[Some(user), Some(fingerprint)],
            )?;
            let Some(row) = gone.first() else { return Ok(None) };
            let key = key_of(row)?;
            let pass_id = key.as_ref().and_then(|k| k.pass_id);
            s.admin_audit(now, Event::KeyRevoked, Some(user), pass_id, ctx, Some(reason))?;
            s.raise_clock(now)?;
            Ok(key)
        })
    }
}
