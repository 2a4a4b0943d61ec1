//! Enrolled SSH keys on the fleet store, as a host asks about them (sql/postgresql/005_keys.sql):
//! whether a key logs in here as an account (by name and uid), and enrolling one for a pass this
//! host has just accepted (sql/postgresql/007_key_uids.sql binds it to the pass's uid).

use super::PgStore;
use crate::keys::PublicKey;
use crate::Touch;
use pam_tap_base::error::{Error, Result};

impl PgStore {
    pub(super) fn key_known_here(&self, user: &str, uid: u32, key: &PublicKey) -> Result<bool> {
        self.one(
            "SELECT pam_tap.host_key_known($1, $2::bigint, $3, $4) AS known",
            &[Some(user), Some(&uid.to_string()), Some(&key.key_type), Some(&key.blob)],
        )?
        .ok_or_else(|| Error::Store("host_key_known() returned nothing".into()))?
        .get_bool("known")
    }

    pub(super) fn enroll_here(&mut self, at: &Touch<'_>, key: &PublicKey) -> Result<bool> {
        let (id, fingerprint) = (at.id.to_string(), key.fingerprint());
        self.rerunning(|s| {
            s.one(
                "SELECT pam_tap.host_enroll($1::bigint, $2, $3, $4, $5, $6) AS ok",
                &[
                    Some(&id),
                    Some(&key.key_type),
                    Some(&key.blob),
                    Some(&fingerprint),
                    at.ctx.service.as_deref(),
                    at.ctx.rhost.as_deref(),
                ],
            )
        })?
        .ok_or_else(|| Error::Store("host_enroll() returned nothing".into()))?
        .get_bool("ok")
    }
}
