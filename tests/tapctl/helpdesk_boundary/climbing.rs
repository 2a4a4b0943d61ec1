//! Roles cannot climb: at issue (role holders, admin groups, sudoers, root, own uid, aliases,
//! max_uid) and at login (an issuer's pass stops when its holder becomes an admin).

use super::*;

#[test]
fn issuers_cannot_climb_and_uids_not_names_decide() {
    require_root!();
    let roles = Roles::new();
    let site = Site::new(&roles.config(""));
    let ivy = User::new();
    ivy.add_group(&roles.issuers.name);
    let pat = User::new();
    pat.add_group(&roles.privileged.name);
    let val = User::new();
    val.add_group(&roles.viewers.name);
    let adm = User::new();
    adm.add_group(&roles.admins.name);
    let ann = User::new();
    let sud = User::new();
    let pat_alias = Alias::of(pat.uid());
    let issue = |op: &str, who: &str| as_op(&site, op, &["issue", who, "--keep-password", "--json"]);

    // An issuer: not on role holders (the climb: a privileged issuer's account), not on admins.
    refused(&issue(&ivy.name, &pat.name), &[&pat.name, "tapctl role"]);
    refused(&issue(&ivy.name, &val.name), &[&val.name, "tapctl role"]);
    refused(&issue(&ivy.name, &adm.name), &[&adm.name, "admin group"]);
    ok(&issue(&ivy.name, &ann.name));
    // A privileged issuer: on admins, but not on themselves under another name, nor on root.
    ok(&issue(&pat.name, &adm.name));
    refused(
        &issue(&pat.name, &pat_alias.name),
        &["own pass", &pat.uid().to_string()],
    );
    refused(&issue(&pat.name, "root"), &["uid 0"]);
    // Root: not on itself; nobody (65534) is above max_uid for everyone.
    refused(&site.tapctl(&["issue", "root", "--keep-password"]), &["uid 0"]);
    refused(&site.tapctl(&["issue", "nobody", "--keep-password"]), &["max_uid"]);

    // Whom sudo lets act as root is an admin: sudo itself is asked (a private sudoers).
    let d = scratch();
    let s = sudoers(d.path(), &[&sud.name]);
    let tapctl = crate::support::paths::tapctl();
    let tapctl = tapctl.to_str().unwrap();
    // An operator names no config: the site is the policy at its default path.
    let run = |who: &str| {
        in_private_mounts(
            &[(&s, "/etc/sudoers"), (site.dir.path(), "/etc/security")],
            &[
                "env",
                &format!("SUDO_USER={}", ivy.name),
                tapctl,
                "issue",
                who,
                "--keep-password",
            ],
            "",
        )
    };
    refused(&run(&sud.name), &[&sud.name, "sudo"]);
    let plain = User::new();
    ok(&run(&plain.name));
}

#[test]
fn an_issuers_pass_stops_when_its_holder_becomes_an_admin() {
    require_root!();
    let roles = Roles::new();
    let site = Site::new(&roles.config(""));
    let ivy = User::new();
    ivy.add_group(&roles.issuers.name);
    let ann = User::with_password("Ann-old-password-1");
    let bob = User::with_password("Bob-old-password-1");
    let out = as_op(
        &site,
        &ivy.name,
        &["issue", &ann.name, "--keep-password", "--reusable", "--json"],
    );
    ok(&out);
    let code = pass_of(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    let d = scratch();
    let bob_code = pass_of(&site.issue(&bob.name, &["--keep-password", "--reusable"]));
    the_cost_of_asking_sudo(&site, (&ann.name, &code), (&bob.name, &bob_code));

    // sudo now lets ann act as root (a private sudoers): her issuer's pass no longer logs her in.
    let s = sudoers(d.path(), &[&ann.name]);
    let text = authenticate_under_sudoers(&site, &s, &ann.name, &code);
    assert!(text.contains("result authenticate=PAM_AUTH_ERR"), "{text}");
    assert!(refused_with(&site, &ann.name, "role"), "{:?}", audit(&site, &ann.name));
    // Root's pass for an admin still works: root may act on admins.
    let text = authenticate_under_sudoers(&site, &s, &bob.name, &bob_code);
    assert!(text.contains("result authenticate=PAM_SUCCESS"));

    // Joining an admin group has the same effect, outside any namespace.
    assert_eq!(auth(&site, &ann.name, &code), "PAM_SUCCESS");
    ann.add_group(&roles.admins.name);
    assert_eq!(auth(&site, &ann.name, &code), "PAM_AUTH_ERR");
    // Her own password still works: pam_unix decides for her.
    assert_eq!(auth(&site, &ann.name, "Ann-old-password-1"), "PAM_SUCCESS");
}

/// The cost of asking sudo: five logins with an issuer's pass (sudo asked) and five with root's
/// (not), as (user, pass); the sudo probe itself, ten times. A figure.
fn the_cost_of_asking_sudo(site: &Site, issuers: (&str, &str), roots: (&str, &str)) {
    let time_logins = |(user, code): (&str, &str)| {
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(auth(site, user, code), "PAM_SUCCESS");
        }
        t.elapsed().as_secs_f64() * 1000.0 / 5.0
    };
    let with_sudo = time_logins(issuers);
    let without = time_logins(roots);
    let t = Instant::now();
    for _ in 0..10 {
        assert!(!pam_tap_base::sudo::grants_root(issuers.0).unwrap());
    }
    let probe = t.elapsed().as_secs_f64() * 1000.0 / 10.0;
    crate::support::figures::figure(
        "sudo_probe",
        &format!("login_ms_issuer_pass={with_sudo:.1} login_ms_root_pass={without:.1} sudo_l_ms={probe:.1}"),
    );
}

/// pam_drive's `authenticate` on the site's `svc` with `answer`, with `sudoers` over
/// /etc/sudoers: what it printed.
fn authenticate_under_sudoers(site: &Site, sudoers: &Path, user: &str, answer: &str) -> String {
    let drive = crate::support::paths::pam_drive();
    let confdir = site.pamd.display().to_string();
    let r = in_private_mounts(
        &[(sudoers, "/etc/sudoers")],
        &[
            drive.to_str().unwrap(),
            "--confdir",
            &confdir,
            "svc",
            user,
            "authenticate",
        ],
        &format!("{answer}\n"),
    );
    String::from_utf8_lossy(&r.stdout).into_owned()
}
