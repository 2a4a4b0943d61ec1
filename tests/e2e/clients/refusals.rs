//! What is refused, what cannot work, and what stays as it was: refusals as a person sees them,
//! key-only SSH before the change, users without a pass.

use super::*;
use crate::support::site::Issued;

/// Flow 6: refusals as a person sees them. Each is sshd's "Permission denied" (or login's "Login
/// incorrect"), the audit log says why, and the account's shadow entry is unchanged.
#[test]
fn e2e_refusals() {
    if !can_run("e2e_refusals") {
        return;
    }
    let tap = tap();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyboardInteractive);
    let r = Refusals { tap: &tap, sshd: &sshd };
    // Expired: the shortest lifetime the policy allows, started so that it ends in 15 s (checked last).
    let expired = User::person().password(OWN).create();
    let start = chrono::Utc::now() - chrono::Duration::seconds(600 - 15);
    let start = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let exp = tap.issue(&expired, &["--lifetime", "10m", "--start", &start]);

    let (not_yet, t) = r.not_yet_valid();
    let mut parts = vec![("not yet valid", t)];
    let (wrong, ssh, login) = r.wrong_pass();
    parts.extend([("wrong pass (ssh)", ssh), ("wrong pass (login)", login)]);
    let (revoked, t) = r.revoked();
    parts.push(("revoked", t));
    let (locked, t) = r.resting();
    parts.push(("resting (the right pass after 3 wrong ones)", t));
    parts.push(("expired", r.expired(&expired, &exp)));

    let users = [
        ("not yet valid", &not_yet, "not_yet_valid"),
        ("wrong", &wrong, "wrong"),
        ("revoked", &revoked, "revoked"),
        ("resting", &locked, "resting"),
        ("expired", &expired, "expired"),
    ];
    each_decision_is_a_syslog_line(&tap, &users);
    // A refused pass is told nothing a wrong password is not told.
    for (what, t) in &parts {
        assert!(!t.text.contains(CHOOSE_NEW_PASSWORD), "{what}: {}", t.text);
    }
    let refs: Vec<(&str, &Transcript)> = parts.iter().map(|(n, t)| (*n, t)).collect();
    keep_transcript("flow6-refusals", &refs);
    keep_why(&tap, &users);
}

/// The refusals of flow 6: one site, one sshd (keyboard-interactive).
struct Refusals<'a> {
    tap: &'a Site,
    sshd: &'a Sshd,
}

impl Refusals<'_> {
    /// `secret` over ssh: refused, and the account unchanged.
    fn ssh_refused(&self, user: &User, secret: &str, what: &str) -> Transcript {
        let before = user.shadow();
        let t = drive(&self.tap.dir, &refused_ssh(secret), &self.sshd.ssh(&user.name, &[]));
        assert_refused(&t, "Permission denied", what, Some(self.sshd));
        assert_eq!(user.shadow(), before, "{what}: the account changed");
        t
    }

    /// A reset pass that ended (locked, expired) is settled at this login: the account is
    /// locked, so the secret derived from the pass opens nothing any more.
    fn ssh_refused_ends(&self, user: &User, secret: &str, what: &str) -> Transcript {
        let t = drive(&self.tap.dir, &refused_ssh(secret), &self.sshd.ssh(&user.name, &[]));
        assert_refused(&t, "Permission denied", what, Some(self.sshd));
        assert_eq!(
            user.shadow().split(':').nth(1),
            Some("!"),
            "{what}: the account is locked"
        );
        t
    }

    /// A pass that starts in an hour.
    fn not_yet_valid(&self) -> (User, Transcript) {
        let not_yet = User::person().password(OWN).create();
        let ny = self.tap.issue(&not_yet, &["--start", "+1h"]);
        let t = self.ssh_refused(&not_yet, &ny.pass, "not yet valid");
        assert_eq!(self.tap.show(&not_yet)["status"], "not_yet_valid");
        let events = self.tap.events_with_reasons(&not_yet);
        assert!(events.contains(&"refused:not_yet_valid".to_string()), "{events:?}");
        (not_yet, t)
    }

    /// A wrong pass over ssh (counted as a failure), then through login on a pty.
    fn wrong_pass(&self) -> (User, Transcript, Transcript) {
        let tap = self.tap;
        let wrong = User::person().password(OWN).create();
        let w = tap.issue(&wrong, &[]);
        let ssh = self.ssh_refused(&wrong, &wrong_pass(&w.pass), "wrong pass");
        let events = tap.events_with_reasons(&wrong);
        assert!(events.iter().any(|e| e.starts_with("failed")), "{events:?}");
        assert_eq!(tap.show(&wrong)["failures"], 1);
        let before = wrong.shadow();
        let login = drive(
            &tap.dir,
            &[
                expect("login: $"),
                send(&wrong.name),
                expect("Password: $"),
                send(&wrong_pass(&w.pass)),
                expect("Login incorrect"),
            ],
            &tap.wrap(&[tool("login").to_str().unwrap()]),
        );
        tap.assert_drove(&login, "login with a wrong pass", None);
        assert_eq!(wrong.shadow(), before);
        (wrong, ssh, login)
    }

    /// A revoked pass.
    fn revoked(&self) -> (User, Transcript) {
        let revoked = User::person().password(OWN).create();
        let r = self.tap.issue(&revoked, &[]);
        self.tap.tapctl_ok(&["revoke", &revoked.name, "--reason", "e2e"]);
        let t = self.ssh_refused(&revoked, &r.pass, "revoked");
        let events = self.tap.events_with_reasons(&revoked);
        assert!(events.contains(&"refused:revoked".to_string()), "{events:?}");
        (revoked, t)
    }

    /// The right pass after [`MAX_FAILURES`] wrong ones: resting.
    fn resting(&self) -> (User, Transcript) {
        let locked = User::person().password(OWN).create();
        let l = self.tap.issue(&locked, &[]);
        for _ in 0..MAX_FAILURES {
            self.ssh_refused(&locked, &wrong_pass(&l.pass), "wrong pass before the lockout");
        }
        assert_eq!(self.tap.show(&locked)["status"], "resting");
        let t = self.ssh_refused(&locked, &l.pass, "resting");
        let events = self.tap.events_with_reasons(&locked);
        assert!(events.iter().any(|e| e.starts_with("resting")), "{events:?}");
        assert!(events.contains(&"refused:resting".to_string()), "{events:?}");
        (locked, t)
    }

    /// `expired`'s pass `exp`, once it has ended (within the minute): refused, and the account
    /// locked by the settling.
    fn expired(&self, expired: &User, exp: &Issued) -> Transcript {
        let expires = chrono::DateTime::parse_from_rfc3339(exp.json["expires_at"].as_str().unwrap()).unwrap();
        assert!(
            expires < chrono::Utc::now() + chrono::Duration::seconds(60),
            "expires_at {expires}"
        );
        while chrono::Utc::now() <= expires {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let t = self.ssh_refused_ends(expired, &exp.pass, "expired");
        assert_eq!(self.tap.show(expired)["status"], "expired");
        let events = self.tap.events_with_reasons(expired);
        assert!(events.contains(&"refused:expired".to_string()), "{events:?}");
        t
    }
}

/// syslog says why, one line per decision: each user's `outcome=`.
fn each_decision_is_a_syslog_line(tap: &Site, users: &[(&str, &User, &str)]) {
    for (_, u, outcome) in users {
        let lines = tap.syslog_for(u);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("pam_tap[") && l.ends_with(&format!("outcome={outcome}"))),
            "no syslog line with outcome={outcome} for {}:\n{}",
            u.name,
            tap.log.text()
        );
    }
}

/// Each refusal's audit and syslog lines, printed and kept in e2e-transcripts/flow6-why.txt.
fn keep_why(tap: &Site, users: &[(&str, &User, &str)]) {
    let mut why = String::new();
    for (what, u, _) in users {
        why.push_str(&format!("# {what}\n  audit: {:?}\n", tap.events_with_reasons(u)));
        for line in tap.syslog_for(u) {
            why.push_str(&format!("  syslog: {line}\n"));
        }
    }
    println!("{why}");
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-transcripts/flow6-why.txt"),
        why,
    )
    .unwrap();
}

/// What cannot work: key-only SSH before the change. A key login never shows the pass to PAM, yet
/// the issue forced a change, so sshd runs passwd, which asks for a current password the user never
/// had (the pass is not accepted there, being unused). The change fails, the user is logged out, and
/// nothing is lost: the account and the pass are as they were, for a login that can take the pass.
#[test]
fn e2e_ssh_key_only_before_the_change_cannot_change() {
    if !can_run("e2e_ssh_key_only_before_the_change_cannot_change") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyOnly);
    sshd.authorize_key(&user);
    let issued = tap.issue(&user, &[]);
    let reset = user.shadow();
    let t = drive(
        &tap.dir,
        &[
            expect("You must change your password now and login again!"),
            expect("Current password: $"),
            send(&issued.pass),
            expect("password unchanged"),
            Step::Eof,
        ],
        &sshd.ssh(&user.name, &[]),
    );
    if t.failed_to_drive() {
        tap.assert_drove(&t, "key-only login before the change", Some(&sshd));
    }
    assert_eq!(user.shadow(), reset, "the account changed");
    assert_eq!(tap.show(&user)["status"], "usable");
    keep_transcript(
        "key-only-before-the-change",
        &[("ssh with a key, before the change", &t)],
    );
}

/// Users who hold no pass see no difference: one `Password:` prompt over ssh, and `passwd` run by the
/// user asks for the current password and then the new one, exactly as without pam_tap.
#[test]
fn e2e_users_without_a_pass_are_unaffected() {
    if !can_run("e2e_users_without_a_pass_are_unaffected") {
        return;
    }
    let tap = tap();
    let user = User::person().password(OWN).create();
    let sshd = Sshd::start(&tap.dir, &tap.pamd, SshMethod::KeyboardInteractive);
    let mut steps = vec![expect("Password: $"), send(OWN)];
    steps.extend(shell_as(&user.name));
    let t = drive(&tap.dir, &steps, &sshd.ssh(&user.name, &[]));
    tap.assert_drove(&t, "ssh with the account's own password", Some(&sshd));
    assert_eq!(
        t.text.matches("assword:").count(),
        1,
        "more than one prompt:\n{}",
        t.text
    );

    let before = user.shadow();
    let steps = [
        expect("Current password: $"),
        send(OWN),
        expect("New password: $"),
        send(NEW),
        expect("Retype new password: $"),
        send(NEW),
        expect("password updated successfully"),
        Step::Eof,
    ];
    let argv = tap.wrap(&[
        tool("setpriv").to_str().unwrap(),
        "--reuid",
        &user.name,
        "--regid",
        &user.name,
        "--init-groups",
        "--reset-env",
        tool("passwd").to_str().unwrap(),
    ]);
    let p = drive(&tap.dir, &steps, &argv);
    tap.assert_drove(&p, "passwd run by a user without a pass", None);
    assert_ne!(user.shadow(), before, "passwd did not change the password");
    keep_transcript(
        "users-without-a-pass",
        &[("ssh with the own password", &t), ("passwd run by the user", &p)],
    );
}
