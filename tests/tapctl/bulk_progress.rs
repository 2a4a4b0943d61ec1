//! `tapctl issue --csv` at a terminal: a progress line on stderr, and stdout as it always is.

use std::process::{Command, Stdio};

use crate::support::accounts::User;
use crate::support::site::{stderr, stdout, Site};

/// `s` as one shell word.
fn quoted(s: &std::ffi::OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

#[test]
fn bulk_issue_shows_progress_on_a_terminal_and_never_on_stdout() {
    require_root!();
    let site = Site::new("");
    let users: Vec<User> = (0..24).map(|_| User::new()).collect();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let (half_a, half_b) = names.split_at(12);
    let csv_a = site.dir.path().join("a.csv");
    let csv_b = site.dir.path().join("b.csv");
    std::fs::write(&csv_a, format!("{}\n", half_a.join("\n"))).unwrap();
    std::fs::write(&csv_b, format!("{}\n", half_b.join("\n"))).unwrap();

    // stderr a terminal (script(1) runs the command on a pty), stdout redirected to a file.
    let out_file = site.dir.path().join("out.csv");
    let tapctl = site.tapctl_cmd(
        &["issue", "--csv", csv_a.to_str().unwrap(), "--keep-password"],
        &[],
        None,
    );
    let mut line = quoted(tapctl.get_program());
    for a in tapctl.get_args() {
        line.push(' ');
        line.push_str(&quoted(a));
    }
    line.push_str(&format!(" > {}", quoted(out_file.as_os_str())));
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
    for (k, v) in tapctl.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let tty = cmd.stdin(Stdio::null()).output().expect("script(1) from util-linux");
    let on_tty = String::from_utf8_lossy(&tty.stdout).to_string();
    let csv_out = std::fs::read_to_string(&out_file).unwrap();
    assert!(tty.status.success(), "{on_tty}");

    // stderr not a terminal: no progress line.
    let piped = site.tapctl(&["issue", "--csv", csv_b.to_str().unwrap(), "--keep-password"]);
    assert!(piped.status.success(), "{}", stderr(&piped));

    println!("on the terminal: {on_tty:?}");
    assert!(on_tty.contains("tapctl: hashed 12/12 passes in "), "{on_tty:?}");
    assert!(
        on_tty.contains("passes, about ") && on_tty.contains(" s left"),
        "{on_tty:?}"
    );
    assert!(on_tty.contains("issued 12 passes"), "{on_tty:?}");
    for (text, what) in [(&csv_out, "stdout at a terminal"), (&stdout(&piped), "stdout piped")] {
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 13, "{what}: header and one row per user: {text}");
        assert!(lines[0].starts_with("user,pass,pass_id,"), "{what}: {text}");
        assert!(!text.contains("hashed") && !text.contains('\r'), "{what}: {text:?}");
    }
    assert!(!stderr(&piped).contains("hashed"), "{}", stderr(&piped));
}
