//! A host's acceptance of a reset pass undone after its shadow change: the database refused the
//! commit of the use, after host-a had put its reset in place. host-a puts the previous entry
//! back and forgets its row: the pass was never used, so it still works there.

use rusqlite::{Connection, OpenFlags};

use super::{accept_only, host_row, shadow, LOGIN, OWN};
use crate::site::fleet;
use crate::support::accounts::User;
use crate::support::site::Site;

/// Host `x`'s audit rows of pass `id`, as "event:reason".
fn host_audit(f: &Site, x: &str, id: i64) -> Vec<String> {
    let c = Connection::open_with_flags(f.host_store(x), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = c
        .prepare("SELECT event || ':' || ifnull(reason, '') FROM audit WHERE pass_id = ?1 ORDER BY id")
        .unwrap();
    let rows = st.query_map([id], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn an_acceptance_undone_after_the_reset_forgets_the_host_row_and_the_pass_stays_good_there() {
    require_root!();
    let f = fleet("");
    let u = User::with_password(OWN);
    let before = shadow(&u);
    let pass = f.issue_reset(&u.name, &[]).pass;
    let id = f.newest_id(&u.name);
    // Checked at COMMIT, after host-a's shadow change: the commit that marks the pass used fails.
    f.psql(&format!(
        "CREATE FUNCTION pam_tap.test_refuse_commit() RETURNS trigger LANGUAGE plpgsql
           AS $$ BEGIN RAISE EXCEPTION 'this commit fails'; END $$;
         CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER UPDATE ON pam_tap.passes
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id = {id})
           EXECUTE FUNCTION pam_tap.test_refuse_commit();"
    ));
    let d = f.pam_on("full-a", &u.name, &LOGIN, &[&pass]);
    assert_ne!(d.result("authenticate"), "PAM_SUCCESS", "{}", d.stdout);
    let unused = f.psql(&format!("SELECT used_at IS NULL FROM pam_tap.passes WHERE id = {id}"));
    assert_eq!(unused, "t", "the use was committed after all");
    assert_eq!(shadow(&u), before, "the undone acceptance left the account changed");
    let audit = host_audit(&f, "a", id);
    assert_eq!(
        audit[1..],
        [
            "reset:issue cut short after the shadow change: pass revoked, previous password restored",
            "reset:previous password restored",
        ],
        "host-a's audit: {audit:?}"
    );
    let row = host_row(&f, "a", id);
    assert!(row.is_none(), "host-a kept a row of the acceptance it undid: {row:?}");

    f.psql("DROP TRIGGER test_refuse_commit ON pam_tap.passes");
    let reset = accept_only(&f, "a", &u, &pass);
    assert_eq!(reset.1, "0", "the pass, never used, resets the account on host-a");
    assert!(host_row(&f, "a", id).is_some_and(|r| r.key_len > 0));
    f.check_no_secrets();
}
