//! The keys command's one question to the fleet store, as a member of pam_tap_keys: the keys that
//! log in as a user (the account with that uid) on a host, and whether the user may enroll one there
//! now (`pam_tap.keys_for`).

use super::{Lookup, PublicKey};
use crate::postgres::{ConnRole, PgConn};
use crate::Conninfo;
use pam_tap_base::error::Result;

pub fn lookup(conninfo: &Conninfo, user: &str, uid: u32, host: &str) -> Result<Lookup> {
    let mut conn = PgConn::connect(conninfo, ConnRole::Keys)?;
    let rows = conn.query(
        "SELECT key_type, blob, enrolling FROM pam_tap.keys_for($1, $2::bigint, $3)",
        &[Some(user), Some(&uid.to_string()), Some(host)],
    )?;
    let mut out = Lookup::default();
    for r in rows {
        if r.get_bool("enrolling")? {
            out.enrolling = true;
        } else if let (Some(t), Some(b)) = (r.get_opt_str("key_type")?, r.get_opt_str("blob")?) {
            if let Ok(k) = PublicKey::parse(&t, &b) {
                out.keys.push(k);
            }
        }
    }
    Ok(out)
}
