//! `tapctl issue --csv`: one pass per row, the single issue's checks on every row, all rows or none.

use crate::operators::OwnedFile;
use crate::support::accounts::Group;
use crate::support::accounts::User;
use crate::support::site::{refused, stderr, stdout, Site};

fn write_csv(site: &Site, name: &str, text: &str) -> String {
    let p = site.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn pass_count(site: &Site) -> usize {
    let out = site.tapctl(&["list", "--all", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap()
        .len()
}

#[test]
fn a_bad_row_anywhere_issues_nothing_and_names_the_row() {
    require_root!();
    let site = Site::new("");
    let users: Vec<User> = (0..10).map(|_| User::new()).collect();
    let before: Vec<String> = users.iter().map(|u| u.shadow()).collect();

    // Unknown user in row 8 (line 9: the header is line 1): caught before any hashing.
    let mut rows: Vec<String> = users.iter().map(|u| u.name.clone()).collect();
    rows.insert(7, "tapnosuchuser".into());
    let csv = write_csv(&site, "unknown.csv", &format!("user\n{}\n", rows.join("\n")));
    refused(
        &site.tapctl(&["issue", "--csv", &csv]),
        &[
            "row 8 (line 9, user tapnosuchuser)",
            "no such user",
            "nothing was issued",
        ],
    );
    assert_eq!(pass_count(&site), 0);

    // A refusal found inside the transaction (the last user already holds a live pass) rolls
    // back the rows inserted before it, and leaves every account's password as it was.
    let last = &users[9].name;
    site.issue(last, &["--keep-password"]);
    let shadow_last = users[9].shadow();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let csv = write_csv(&site, "live.csv", &format!("{}\n", names.join("\n")));
    refused(
        &site.tapctl(&["issue", "--csv", &csv]),
        &[&format!("row 10 (line 10, user {last})"), "already holds a live pass"],
    );
    assert_eq!(pass_count(&site), 1, "only the pass issued on its own");
    for (u, b) in users.iter().zip(&before).take(9) {
        assert_eq!(&u.shadow(), b, "{} was touched", u.name);
        assert!(site.events(&u.name).is_empty(), "{} has audit rows", u.name);
    }
    assert_eq!(users[9].shadow(), shadow_last);

    // A duplicate user and a bad value are refused with their rows too.
    let csv = write_csv(&site, "dup.csv", &format!("{}\n{}\n{}\n", names[0], names[1], names[0]));
    refused(
        &site.tapctl(&["issue", "--csv", &csv]),
        &["row 3 (line 3", "also in row 1"],
    );
    let csv = write_csv(&site, "bad.csv", &format!("{},3y\n", names[0]));
    refused(&site.tapctl(&["issue", "--csv", &csv]), &["row 1 (line 1", "lifetime"]);
    assert_eq!(pass_count(&site), 1);
}

#[test]
fn bulk_output_has_one_working_pass_per_row_in_csv_or_json() {
    require_root!();
    let site = Site::new("");
    let (a, b, c) = (User::new(), User::new(), User::new());
    let csv = write_csv(
        &site,
        "in.csv",
        &format!(
            "# onboarding, week 1\nuser,lifetime,one_time,reason\n{},2h,no,\"new joiner, desk 4\"\n{},,,\n{},30m,yes,\n",
            a.name, b.name, c.name
        ),
    );
    let out = site.tapctl(&["issue", "--csv", &csv, "--keep-password", "--reason", "onboarding"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "user,pass,pass_id,starts_at,expires_at,one_time,reset_password,operator,note"
    );
    assert_eq!(lines.len(), 4, "{text}");
    let row_a: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(row_a[0], a.name);
    assert_eq!(row_a[1].len(), 10);
    assert_eq!(row_a[5], "false", "the row's one_time=no wins");
    assert_eq!(row_a[7], "root");
    let starts = chrono::DateTime::parse_from_rfc3339(row_a[3]).unwrap();
    let ends = chrono::DateTime::parse_from_rfc3339(row_a[4]).unwrap();
    assert_eq!((ends - starts).num_seconds(), 7200);
    assert!(stderr(&out).contains("issued 3 passes"));

    every_pass_logs_in_its_user_only(&site, [&a, &b, &c], &lines);
    // Row values and command-line defaults land in the records and the audit log.
    assert_eq!(site.show(&a.name)["reason"], "new joiner, desk 4");
    assert_eq!(site.show(&b.name)["reason"], "onboarding");
    assert_eq!(site.show(&b.name)["one_time"], true, "policy default");
    assert_eq!(
        site.events(&c.name),
        ["issued", "failed"],
        "b's pass counted as a wrong try for c"
    );

    json_is_a_list_of_issue_objects_and_replace_applies_to_every_row(&site, &a, &b);
}

/// Every pass of the CSV output (`lines`: header, then a, b, c's rows) logs its user in, and only
/// its user (b's pass counts as a wrong try for c).
fn every_pass_logs_in_its_user_only(site: &Site, [a, b, c]: [&User; 3], lines: &[&str]) {
    let row_a: Vec<&str> = lines[1].split(',').collect();
    let code_a = row_a[1];
    let code_b = lines[2].split(',').nth(1).unwrap();
    assert_eq!(
        site.pam(&a.name, &["authenticate"], &[code_a]).result("authenticate"),
        "PAM_SUCCESS"
    );
    assert_ne!(
        site.pam(&c.name, &["authenticate"], &[code_b]).result("authenticate"),
        "PAM_SUCCESS"
    );
    assert_eq!(
        site.pam(&b.name, &["authenticate"], &[code_b]).result("authenticate"),
        "PAM_SUCCESS"
    );
}

/// JSON: an array of `issue --json` objects; --replace applies to every row.
fn json_is_a_list_of_issue_objects_and_replace_applies_to_every_row(site: &Site, a: &User, b: &User) {
    let csv = write_csv(site, "again.csv", &format!("{}\n{}\n", a.name, b.name));
    let out = site.tapctl(&["issue", "--csv", &csv, "--json", "--replace", "--keep-password"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.len(), 2);
    for (j, u) in v.iter().zip([a, b]) {
        assert_eq!(j["user"], u.name.as_str());
        for k in [
            "user",
            "pass",
            "pass_id",
            "starts_at",
            "expires_at",
            "one_time",
            "reset_password",
            "operator",
        ] {
            assert!(j.get(k).is_some(), "lacks {k}: {j}");
        }
    }
    assert_eq!(site.events(&a.name), ["issued", "used", "revoked", "issued"]);
}

#[test]
fn bulk_resets_passwords_like_a_single_issue_and_keeps_roles() {
    require_root!();
    let (helpdesk, admins) = (Group::new(), Group::new());
    let site = Site::new(&format!(
        "[roles]\nissuers = [\"{}\"]\nadmin_groups = [\"{}\"]\n",
        helpdesk.name, admins.name
    ));
    let op = User::new();
    op.add_group(&helpdesk.name);
    let (a, b, boss) = (User::with_password("Old-pw-123!"), User::new(), User::new());
    boss.add_group(&admins.name);

    // An issuer may not act on an admin: the row is named and nothing happens.
    // The operator's own file: tapctl reads it with the operator's rights.
    let csv = OwnedFile::new(&op, "roles.csv", &format!("{}\n{}\n", a.name, boss.name));
    let before = a.shadow();
    let o = site.tapctl_env(&["issue", "--csv", csv.arg()], &[("SUDO_USER", &op.name)]);
    refused(&o, &["row 2", "admin group"]);
    assert_eq!(a.shadow(), before);

    // Default handoff: each account gets the derived secret and a forced change.
    let csv = OwnedFile::new(&op, "ok.csv", &format!("{}\n{}\n", a.name, b.name));
    let o = site.tapctl_env(&["issue", "--csv", csv.arg(), "--json"], &[("SUDO_USER", &op.name)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    for (j, u) in v.iter().zip([&a, &b]) {
        assert_eq!(j["reset_password"], true);
        assert_eq!(j["operator"], op.name.as_str());
        let sp: Vec<String> = u.shadow().split(':').map(String::from).collect();
        assert!(sp[1].starts_with("$6$"), "{}: {}", u.name, sp[1]);
        assert_eq!(sp[2], "0", "change forced");
    }
    let r = site.pam(
        &a.name,
        &["authenticate", "acct_mgmt"],
        &[v[0]["pass"].as_str().unwrap()],
    );
    assert_eq!(r.result("authenticate"), "PAM_SUCCESS");
    assert_eq!(r.result("acct_mgmt"), "PAM_NEW_AUTHTOK_REQD");

    // Revoking b's unused pass gives back b's previous state.
    let o = site.tapctl(&["revoke", &b.name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!b.shadow().split(':').nth(1).unwrap().starts_with("$6$"));
}
