//! Two-person approval through the real sudo: a pass for a privileged target is a request that
//! another operator who may issue for that user approves or denies, and that its requester
//! collects once, in time, or it lapses. Each refusal is checked by what it leaves: no pass, the
//! request unchanged, the audit rows.

use std::process::Output;

use crate::operators::{OwnedFile, RealSudo};
use crate::support::accounts::{Group, User};
use crate::support::site::{stderr, stdout, Site};

/// A site with approval on: privileged issuers (ann the requester, cy the approver, bob who is
/// also the target), an issuer, a viewer, and a group whose members need approval too.
struct Desk {
    site: Site,
    sudo: RealSudo,
    ann: User,
    cy: User,
    bob: User,
    ivan: User,
    vic: User,
    finance: Group,
    /// The privileged issuers', the issuers' and the viewers' groups.
    groups: [Group; 3],
}

fn desk() -> Desk {
    let (privs, helpdesk, viewers, finance) = (Group::new(), Group::new(), Group::new(), Group::new());
    let site = Site::new(&format!(
        "[roles]\nprivileged_issuers = [\"{}\"]\nissuers = [\"{}\"]\nviewers = [\"{}\"]\n\
         [approval]\nenabled = true\ngroups = [\"{}\"]\ncollect_within = \"10m\"\n",
        privs.name, helpdesk.name, viewers.name, finance.name
    ));
    let (ann, cy, ivan, vic) = (User::new(), User::new(), User::new(), User::new());
    let bob = User::with_password("Bob-old-password-1");
    for u in [&ann, &cy, &bob] {
        u.add_group(&privs.name);
    }
    ivan.add_group(&helpdesk.name);
    vic.add_group(&viewers.name);
    let sudo = RealSudo::new(&site, &[&privs.name, &helpdesk.name, &viewers.name])
        .expect("sudo is not installed (make deps installs it)");
    Desk {
        site,
        sudo,
        ann,
        cy,
        bob,
        ivan,
        vic,
        finance,
        groups: [privs, helpdesk, viewers],
    }
}

impl Desk {
    fn run(&self, who: &User, args: &[&str]) -> Output {
        self.sudo.tapctl(&who.name, args)
    }

    fn json(&self, who: &User, args: &[&str]) -> serde_json::Value {
        let o = self.run(who, args);
        assert!(o.status.success(), "{} {args:?}: {}", who.name, stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&o)))
    }

    /// `who` runs `args` and is refused, tapctl's one line naming every needle.
    fn refused(&self, who: &User, args: &[&str], needles: &[&str]) {
        let o = self.run(who, args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{} {args:?}: {}{}",
            who.name,
            stdout(&o),
            stderr(&o)
        );
        let lines = RealSudo::tapctl_lines(&o);
        assert_eq!(lines.len(), 1, "{}", stderr(&o));
        for n in needles {
            assert!(lines[0].contains(n), "{} {args:?}: {lines:?} lacks {n:?}", who.name);
        }
    }

    /// `ann` requests a pass for `user`: a request id, and no pass.
    fn request(&self, who: &User, user: &User, reason: &str) -> i64 {
        let v = self.json(who, &["issue", &user.name, "--json", "--reason", reason]);
        assert!(v.get("pass").is_none(), "a request shows no pass: {v}");
        assert_eq!(v["state"], "pending", "{v}");
        assert_eq!(v["reason"], reason, "{v}");
        v["id"].as_i64().unwrap()
    }

    fn state(&self, id: i64) -> (Option<String>, Option<i64>, Option<i64>) {
        self.site
            .sqlite()
            .query_row(
                "SELECT decision, collected_at, lapsed_at FROM requests WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    }

    fn passes_of(&self, user: &User) -> i64 {
        self.site
            .sqlite()
            .query_row("SELECT count(*) FROM passes WHERE user = ?1", [&user.name], |r| {
                r.get(0)
            })
            .unwrap()
    }
}

#[test]
fn requested_approved_by_another_collected_once_then_the_first_login() {
    require_root!();
    const NEW_PW: &str = "Bob-chose-this-1";
    let d = desk();
    let id = d.request(&d.ann, &d.bob, "bob locked out of his laptop");
    assert_eq!(d.passes_of(&d.bob), 0, "a request mints nothing");
    // Nobody but another operator who may issue for bob decides it.
    d.refused(&d.ann, &["approve", &id.to_string()], &["own", "another operator"]);
    d.refused(&d.bob, &["approve", &id.to_string()], &["own pass"]);
    d.refused(&d.vic, &["approve", &id.to_string()], &["needs the issuer role"]);
    d.refused(
        &d.ivan,
        &["approve", &id.to_string()],
        &["only a privileged issuer or root"],
    );
    assert_eq!(d.state(id), (None, None, None), "the refusals changed nothing");
    // The viewer sees it pending, and may not decide it; cy may.
    let listed = d.json(&d.vic, &["requests", "--json"]);
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(
        (row["state"].as_str(), row["may_decide"].as_bool()),
        (Some("pending"), Some(false))
    );
    let listed = d.json(&d.cy, &["requests", "--json"]);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id && r["may_decide"] == true));
    // Collecting before the approval is refused.
    d.refused(
        &d.ann,
        &["collect", &id.to_string()],
        &["still pending", "approve it first"],
    );

    let v = d.json(&d.cy, &["approve", &id.to_string(), "--json"]);
    assert_eq!(
        (v["state"].as_str(), v["decided_by"].as_str()),
        (Some("approved"), Some(d.cy.name.as_str()))
    );
    d.refused(&d.cy, &["approve", &id.to_string()], &["approved, not pending"]);
    d.refused(&d.cy, &["collect", &id.to_string()], &["only its requester"]);
    assert_eq!(d.passes_of(&d.bob), 0);

    let issued = d.json(&d.ann, &["collect", &id.to_string(), "--json"]);
    let code = issued["pass"].as_str().unwrap().to_string();
    d.site.remember(&code);
    assert_eq!(issued["operator"], d.ann.name.as_str());
    d.refused(
        &d.ann,
        &["collect", &id.to_string()],
        &["collected already", "one pass"],
    );
    assert_eq!(d.passes_of(&d.bob), 1, "collected once");
    let pass = d.site.show(&d.bob.name);
    assert_eq!(pass["issued_by"], d.ann.name.as_str());
    assert_eq!(pass["reason"], "bob locked out of his laptop");

    let first = d.site.pam(
        &d.bob.name,
        &["authenticate", "acct_mgmt", "chauthtok_expired"],
        &[&code, NEW_PW, NEW_PW],
    );
    assert_eq!(first.result("authenticate"), "PAM_SUCCESS", "{}", first.stdout);
    assert_eq!(first.result("chauthtok_expired"), "PAM_SUCCESS", "{}", first.stdout);
    let events = d.site.events_with_reasons(&d.bob.name);
    let want = [
        format!("requested:request {id}: bob locked out of his laptop"),
        format!("approved:request {id}"),
        "issued:bob locked out of his laptop".to_string(),
        format!("collected:request {id}"),
        "used".to_string(),
    ];
    let got: Vec<&String> = events.iter().filter(|e| !e.starts_with("reset")).collect();
    assert_eq!(got, want.iter().collect::<Vec<_>>(), "{events:#?}");
}

#[test]
fn a_denial_reaches_the_requester_and_a_late_request_lapses() {
    require_root!();
    let d = desk();
    let id = d.request(&d.ann, &d.bob, "routine");
    d.refused(
        &d.cy,
        &["deny", &id.to_string(), "--reason", " "],
        &["a denial needs a reason"],
    );
    let v = d.json(
        &d.cy,
        &[
            "deny",
            &id.to_string(),
            "--reason",
            "call him back first \\ verify",
            "--json",
        ],
    );
    assert_eq!(v["state"], "denied");
    // The requester is told who denied it and why; the reason's backslash is shown escaped.
    d.refused(
        &d.ann,
        &["collect", &id.to_string()],
        &["denied by", &d.cy.name, "call him back first \\\\ verify"],
    );
    d.refused(&d.cy, &["approve", &id.to_string()], &["denied, not pending"]);
    assert_eq!(d.passes_of(&d.bob), 0);

    // Not decided in time: lapsed, audited, and no longer approvable.
    let late = d.request(&d.ann, &d.bob, "late");
    d.site
        .sqlite()
        .execute("UPDATE requests SET decide_by = requested_at - 1 WHERE id = ?1", [late])
        .unwrap();
    d.refused(&d.cy, &["approve", &late.to_string()], &["lapsed, not pending"]);
    assert!(d.state(late).2.is_some(), "marked lapsed");
    // Approved but not collected in time: lapsed too.
    let slow = d.request(&d.ann, &d.bob, "slow");
    d.json(&d.cy, &["approve", &slow.to_string(), "--json"]);
    d.site
        .sqlite()
        .execute("UPDATE requests SET collect_by = decided_at - 1 WHERE id = ?1", [slow])
        .unwrap();
    d.refused(&d.ann, &["collect", &slow.to_string()], &["has lapsed"]);
    assert_eq!(d.passes_of(&d.bob), 0);
    let events = d.site.events_with_reasons(&d.bob.name);
    for want in [
        format!("denied:request {id}: call him back first \\ verify"),
        format!("lapsed:request {late}: not decided in time"),
        format!("lapsed:request {slow}: approved but not collected in time"),
    ] {
        assert!(events.contains(&want), "{want} in {events:#?}");
    }
    let open = d.json(&d.vic, &["requests", "--json"]);
    assert_eq!(open, serde_json::json!([]), "nothing open");
}

#[test]
fn a_group_named_by_approval_needs_it_and_others_issue_directly() {
    require_root!();
    let d = desk();
    let (dora, carl) = (User::new(), User::new());
    dora.add_group(&d.finance.name);
    // An issuer's request for a finance member; another issuer-or-above approves; root bypasses.
    let id = d.request(&d.ivan, &dora, "payroll run");
    // A bulk issue does not go around it: the whole batch is refused.
    let csv = OwnedFile::new(&d.ivan, "rows.csv", &format!("{}\n", dora.name));
    d.refused(
        &d.ivan,
        &["issue", "--csv", csv.arg()],
        &["needs a second operator's approval"],
    );
    d.json(&d.ann, &["approve", &id.to_string(), "--json"]);
    let issued = d.json(&d.ivan, &["collect", &id.to_string(), "--json"]);
    d.site.remember(issued["pass"].as_str().unwrap());
    assert_eq!(issued["user"], dora.name.as_str());
    // A user no rule names: a pass at once, as before.
    let direct = d.json(&d.ivan, &["issue", &carl.name, "--json", "--keep-password"]);
    d.site.remember(direct["pass"].as_str().unwrap());
    assert!(direct["pass_id"].is_i64(), "{direct}");
    // Root is break-glass: issued directly, audited as root's.
    let root = d.site.issue_keeping(&d.bob.name, &[]);
    assert_eq!(root["operator"], "root");
}

/// Racing processes: of 8 collections of one approved request exactly one gets a pass, and of an
/// approval and a denial racing for one request exactly one is recorded.
#[test]
fn racing_collections_give_one_pass_and_racing_decisions_one_decision() {
    require_root!();
    let d = desk();
    let dee = User::new();
    // A fourth privileged issuer, to deny while cy approves.
    dee.add_group(&d.groups[0].name);
    let as_op = |op: &User, args: Vec<String>| {
        let site = &d.site;
        let name = op.name.clone();
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            site.tapctl_env(&args, &[("SUDO_USER", &name)])
        }
    };
    // With --replace, the issue rule (one live pass per user) would not stop a second collection:
    // only the store's transaction does.
    let requested = d.json(&d.ann, &["issue", &d.bob.name, "--replace", "--json"]);
    let id = requested["id"].to_string();
    d.json(&d.cy, &["approve", &id, "--json"]);
    let outs: Vec<Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..8)
            .map(|_| s.spawn(as_op(&d.ann, vec!["collect".into(), id.clone(), "--json".into()])))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let won: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(won.len(), 1, "{:?}", outs.iter().map(stderr).collect::<Vec<_>>());
    let pass: serde_json::Value = serde_json::from_slice(&won[0].stdout).unwrap();
    d.site.remember(pass["pass"].as_str().unwrap());
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(stderr(o).contains("collected already"), "{}", stderr(o));
    }
    assert_eq!(d.passes_of(&d.bob), 1);

    let id = d.request(&d.ann, &d.bob, "race two").to_string();
    let (yes, no) = std::thread::scope(|s| {
        let yes = s.spawn(as_op(&d.cy, vec!["approve".into(), id.clone()]));
        let no = s.spawn(as_op(
            &dee,
            vec!["deny".into(), id.clone(), "--reason".into(), "no".into()],
        ));
        (yes.join().unwrap(), no.join().unwrap())
    });
    assert!(
        yes.status.success() != no.status.success(),
        "{} / {}",
        stderr(&yes),
        stderr(&no)
    );
    let decided: i64 = d
        .site
        .sqlite()
        .query_row(
            "SELECT count(*) FROM audit WHERE event IN ('approved', 'denied') AND reason LIKE ?1",
            [format!("request {id}%")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(decided, 1);
}

/// A second name for the requester's uid (`useradd -o`), holding a role of its own, is the
/// requester still: it may not approve.
#[test]
fn the_requester_under_another_name_may_not_approve() {
    require_root!();
    let d = desk();
    let alias = format!("tapq{}x{}", std::process::id(), d.ann.uid());
    let mut add = std::process::Command::new("useradd");
    add.args(["-M", "-o", "-u", &d.ann.uid().to_string(), "-s", "/bin/sh", &alias]);
    crate::support::accounts::retry(add);
    let _gone = Userdel(alias.clone());
    let mut join = std::process::Command::new("usermod");
    join.args(["-aG", &d.groups[0].name, &alias]);
    crate::support::accounts::retry(join);
    let id = d.request(&d.ann, &d.bob, "alias").to_string();
    let o = d.site.tapctl_env(&["approve", &id], &[("SUDO_USER", &alias)]);
    crate::support::site::refused(&o, &["own", "another operator"]);
    assert_eq!(d.state(id.parse().unwrap()), (None, None, None));
}

/// A request is for the account it named: the account deleted and made again under the name before
/// the decision is not approved for, nor after the approval collected for; the request can still
/// be denied.
#[test]
fn a_request_is_for_the_account_it_named_not_a_later_one_of_the_name() {
    require_root!();
    let d = desk();
    let privileged = d.groups[0].name.clone();
    let before = d.request(&d.ann, &d.bob, "before the remake");
    d.bob.remake();
    d.bob.add_group(&privileged);
    d.refused(
        &d.cy,
        &["approve", &before.to_string()],
        &["uid", "another account", "deny it"],
    );
    assert_eq!(d.state(before), (None, None, None));
    d.json(
        &d.cy,
        &[
            "deny",
            &before.to_string(),
            "--reason",
            "made for the old account",
            "--json",
        ],
    );

    let approved = d.request(&d.ann, &d.bob, "approved, then the remake");
    let v = d.json(&d.vic, &["requests", "--json"]);
    assert_eq!(v[0]["terms"]["uid"], d.bob.uid(), "{v}");
    d.json(&d.cy, &["approve", &approved.to_string(), "--json"]);
    d.bob.remake();
    d.refused(&d.ann, &["collect", &approved.to_string()], &["uid", "another account"]);
    let (decision, collected, _) = d.state(approved);
    assert_eq!((decision.as_deref(), collected), (Some("approved"), None));
    assert_eq!(d.passes_of(&d.bob), 0, "no pass for the new account");
}

/// Removes an account made by the test.
struct Userdel(String);

impl Drop for Userdel {
    fn drop(&mut self) {
        let mut c = std::process::Command::new("userdel");
        c.arg(&self.0);
        crate::support::accounts::retry(c);
    }
}
