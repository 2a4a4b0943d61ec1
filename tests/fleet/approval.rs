//! Two-person approval on the fleet store: tapctl's admin connection records, decides and
//! collects a request (sql/postgresql/006_approval.sql), each step one transaction; the collected
//! pass logs in on a host; a host's own role may not read or write the requests.

use crate::site::fleet;
use crate::support::accounts::{Group, User};
use crate::support::pg_cluster::psql_uri;
use crate::support::site::{refused, stderr, Site};

fn as_op(f: &Site, op: &User, args: &[&str]) -> std::process::Output {
    f.tapctl_env(args, &[("SUDO_USER", &op.name)])
}

fn json_as(f: &Site, op: &User, args: &[&str]) -> serde_json::Value {
    let o = as_op(f, op, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_request_is_approved_collected_once_and_logs_in_on_a_host() {
    require_root!();
    let privs = Group::new();
    let f = fleet(&format!(
        "[roles]\nprivileged_issuers = [\"{}\"]\n[approval]\nenabled = true\n",
        privs.name
    ));
    let (ann, cy, bob) = (User::new(), User::new(), User::new());
    for u in [&ann, &cy, &bob] {
        u.add_group(&privs.name);
    }
    let req = json_as(
        &f,
        &ann,
        &["issue", &bob.name, "--json", "--keep-password", "--reason", "fleet"],
    );
    let id = req["id"].as_i64().unwrap().to_string();
    assert!(req.get("pass").is_none(), "{req}");
    refused(&as_op(&f, &ann, &["approve", &id]), &["own"]);
    refused(&as_op(&f, &bob, &["approve", &id]), &["own pass"]);
    let v = json_as(&f, &cy, &["approve", &id, "--json"]);
    assert_eq!(v["state"], "approved");
    refused(&as_op(&f, &cy, &["collect", &id]), &["only its requester"]);
    let issued = json_as(&f, &ann, &["collect", &id, "--json"]);
    let pass = issued["pass"].as_str().unwrap().to_string();
    f.remember(&pass);
    refused(&as_op(&f, &ann, &["collect", &id]), &["collected already"]);
    assert_eq!(
        f.psql(&format!(
            "SELECT count(*) FROM pam_tap.passes WHERE user_name = '{}'",
            bob.name
        )),
        "1"
    );
    assert_eq!(f.auth("only-a", &bob.name, &pass).auth(), "PAM_SUCCESS");
    let events = f.events(&bob.name);
    assert_eq!(
        events,
        ["requested", "approved", "issued", "collected", "used"],
        "{events:?}"
    );
    // Racing collections of one approved request (--replace: only the locked request row can stop
    // a second pass) give one pass.
    let raced = json_as(
        &f,
        &ann,
        &["issue", &bob.name, "--json", "--keep-password", "--replace"],
    );
    let raced = raced["id"].to_string();
    json_as(&f, &cy, &["approve", &raced, "--json"]);
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..6)
            .map(|_| s.spawn(|| as_op(&f, &ann, &["collect", &raced, "--json"])))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let won: Vec<_> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(won.len(), 1, "{:?}", outs.iter().map(stderr).collect::<Vec<_>>());
    let raced_pass: serde_json::Value = serde_json::from_slice(&won[0].stdout).unwrap();
    f.remember(raced_pass["pass"].as_str().unwrap());
    assert_eq!(
        f.psql(&format!(
            "SELECT count(*) FROM pam_tap.passes WHERE user_name = '{}'",
            bob.name
        )),
        "2"
    );
    // A host's role: no table privilege, the requests included.
    for sql in [
        "SELECT count(*) FROM pam_tap.requests",
        "UPDATE pam_tap.requests SET decision = 'approved'",
    ] {
        let out = psql_uri(&f.cluster().uri("host_a", f.database()), sql);
        assert!(!out.status.success(), "host_a ran {sql}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("permission denied"),
            "{sql}"
        );
    }
}

#[test]
fn migrate_refuses_while_a_request_is_open() {
    require_root!();
    let privs = Group::new();
    let local = Site::new(&format!(
        "[roles]\nprivileged_issuers = [\"{}\"]\n[approval]\nenabled = true\n",
        privs.name
    ));
    let f = fleet("");
    let (ann, bob) = (User::new(), User::new());
    ann.add_group(&privs.name);
    bob.add_group(&privs.name);
    let req = json_as(&local, &ann, &["issue", &bob.name, "--json"]);
    let to = f.cluster().uri("tapctl_admin", f.database());
    refused(
        &local.tapctl(&["migrate", "--to", &to]),
        &["requests for a pass still open", &req["id"].to_string()],
    );
    assert_eq!(f.psql("SELECT count(*) FROM pam_tap.passes"), "0", "nothing copied");
}
