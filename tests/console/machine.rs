//! The machine the Cockpit console test runs on: inside demo/sandbox.sh (overlays on /etc /usr
//! /var /home /root /tmp, so users, sudoers, the installed page and tapctl vanish afterwards), a
//! helpdesk, a viewer and targets with passwords, pam_tap's policy, the sudo rule the guide
//! documents, the page under /usr/share/cockpit/pam-tap, cockpit-ws on loopback and chromedriver.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::webdriver;

pub const HELPDESK: &str = "tap-helpdesk";
pub const VIEWER: &str = "tap-viewer";
pub const TARGET: &str = "tap-target";
pub const OTHER: &str = "tap-other";
/// A Cockpit user without the sudo rule.
pub const NO_RULE: &str = "tap-norule";
/// A target whose pass rests after wrong answers.
pub const RESTING: &str = "tap-rest";
/// A target whose pass the page narrows to a service and a host.
pub const SCOPED: &str = "tap-scoped";
/// A second helpdesk: the requester of a pass the first one approves in the page.
pub const HELPDESK2: &str = "tap-helpdesk2";
/// A target in the group `[approval]` names: a pass for them needs a second operator.
pub const VIP: &str = "tap-vip";
pub const PASSWORD: &str = "Console-Test-Pw-73";
/// A target whose enrollment pass enrolls an SSH key the page then lists and revokes.
pub const KEYED: &str = "tap-keyed";
/// The service of a key-only sshd's enrollment step (`pam_tap.so enroll`), run through pam_drive.
pub const ENROLL_SERVICE: &str = "tap-console-enroll";
/// The PAM service pamtester logs the target in through (pam_tap then pam_unix, Debian's shape).
pub const LOGIN_SERVICE: &str = "tap-console-login";
/// The sudo rule of the guide's "Helpdesk console" page (docs/guide/src/cockpit.md).
pub const SUDO_RULE: &str = "%tap-desk,%tap-view ALL=(root) NOPASSWD: /usr/sbin/tapctl\n";

pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

use crate::support::accounts::chpasswd;
use crate::support::free_port;
use crate::support::site::{debian_stack, module_line, only_stack, Site};

fn wait_port(port: u16, what: &str) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Users, groups, policy, sudo rule, page; then the two servers. Only inside the sandbox.
pub struct Console {
    /// pam_tap as installed (config, store, the login service's stack).
    pub site: Site,
    pub ws_port: u16,
    pub driver_port: u16,
    pub ws_log: PathBuf,
    pub scratch: PathBuf,
    servers: Vec<Child>,
}

impl Console {
    pub fn set_up(tapctl: &Path, page: &Path) -> Console {
        assert_eq!(
            std::env::var("PAM_TAP_SANDBOX").as_deref(),
            Ok("1"),
            "only inside demo/sandbox.sh"
        );
        // The sandbox's /tmp overlay comes up 0755; the session bus cockpit-bridge starts needs /tmp.
        run("chmod", &["1777", "/tmp"]);
        // sudo resolves the host name (the sandbox's own) and prints a warning to every stderr otherwise.
        let host = run("hostname", &[]);
        std::fs::write("/etc/hosts", format!("127.0.0.1 localhost {}\n", host.trim())).unwrap();

        run("groupadd", &["tap-desk"]);
        run("groupadd", &["tap-view"]);
        run("groupadd", &["tap-vips"]);
        for (user, group) in [
            (HELPDESK, Some("tap-desk")),
            (HELPDESK2, Some("tap-desk")),
            (VIP, Some("tap-vips")),
            (VIEWER, Some("tap-view")),
            (TARGET, None),
            (OTHER, None),
            (NO_RULE, None),
            (RESTING, None),
            (SCOPED, None),
            (KEYED, None),
        ] {
            let mut args = vec!["-m", "-s", "/bin/bash"];
            if let Some(g) = group {
                args.extend(["-G", g]);
            }
            args.push(user);
            run("useradd", &args);
            chpasswd(user, PASSWORD);
        }

        run("install", &["-m", "755", tapctl.to_str().unwrap(), "/usr/sbin/tapctl"]);
        // pam_tap installed where the package puts it (sudo tapctl reads the system policy); it
        // acts only in the services the policy names: the login services and ours.
        let site = Site::builder()
            .installed()
            .services(&["login", "sshd", "su", "su-l", "passwd", LOGIN_SERVICE, ENROLL_SERVICE])
            .policy(
                "[roles]\nissuers = [\"tap-desk\"]\nviewers = [\"tap-view\"]\n\
                 [approval]\nenabled = true\ngroups = [\"tap-vips\"]\n",
            )
            .build();
        site.write_service(LOGIN_SERVICE, &debian_stack(&module_line(&site.module_args(""))));
        site.write_service(ENROLL_SERVICE, &only_stack(&module_line(&site.module_args("enroll"))));

        std::fs::write("/etc/sudoers.d/pam-tap", SUDO_RULE).unwrap();
        run("chmod", &["440", "/etc/sudoers.d/pam-tap"]);
        run("visudo", &["-c", "-q"]);

        let dest = Path::new("/usr/share/cockpit/pam-tap");
        std::fs::create_dir_all(dest).unwrap();
        // Every file of the page, as the packages install them.
        for entry in std::fs::read_dir(page).unwrap() {
            let f = entry.unwrap().file_name();
            std::fs::copy(page.join(&f), dest.join(&f)).unwrap();
        }

        let scratch = PathBuf::from("/tmp/pam-tap-console");
        std::fs::create_dir_all(&scratch).unwrap();
        let ws_log = scratch.join("cockpit-ws.log");
        let ws_port = free_port();
        let log = std::fs::File::create(&ws_log).unwrap();
        let ws = Command::new("/usr/lib/cockpit/cockpit-ws")
            .args(["--no-tls", "--address", "127.0.0.1", "--port", &ws_port.to_string()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cockpit-ws");
        let driver_port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let console = Console {
            site,
            ws_port,
            driver_port,
            ws_log,
            scratch,
            servers: vec![ws, driver],
        };
        wait_port(ws_port, "cockpit-ws");
        wait_port(driver_port, "chromedriver");
        console
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ws_port)
    }

    /// A fresh browser with a profile of its own.
    pub fn browser(&self, name: &str) -> webdriver::Browser {
        let profile = self.scratch.join(format!("profile-{name}"));
        webdriver::Browser::new(self.driver_port, &profile)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Logs `user` in through Cockpit's own login page and opens the pam_tap page inside the shell,
/// leaving the browser in the page's frame once tap.js has finished loading.
pub fn log_in_and_open(b: &webdriver::Browser, console: &Console, user: &str) {
    b.goto(&console.url("/"));
    b.type_into("#login-user-input", user);
    b.type_into("#login-password-input", PASSWORD);
    b.click("#login-button");
    // The shell replaces the login page and loads its first page in an iframe.
    b.find("iframe[name^='cockpit1:']", Duration::from_secs(30));
    b.goto(&console.url("/pam-tap"));
    b.enter_frame("iframe[name='cockpit1:localhost/pam-tap']");
    b.wait_for(
        "the page loads",
        "return document.body.dataset.ready === '1'",
        Duration::from_secs(30),
    );
}

/// The pass (or any 4-character group of it) in the document, storage or URL of the current frame.
pub fn pass_anywhere(b: &webdriver::Browser, pass: &str) -> Value {
    b.js(
        "const p = arguments[0];
         const groups = p.match(/.{4}/g);
         const has = s => s.includes(p) || groups.some(g => s.includes(g));
         const where = [];
         if (has(document.documentElement.outerHTML)) where.push('document');
         if (has(JSON.stringify(window.localStorage))) where.push('localStorage');
         if (has(JSON.stringify(window.sessionStorage))) where.push('sessionStorage');
         if (has(window.location.href)) where.push('url');
         return where;",
        json!([pass]),
    )
}

pub fn pamtester(user: &str, answer: &str) -> bool {
    let mut c = Command::new("pamtester")
        .args([LOGIN_SERVICE, user, "authenticate"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(c.stdin.take().unwrap(), "{answer}").unwrap();
    c.wait_with_output().unwrap().status.success()
}

/// `tapctl ARGS --json` as root, parsed.
pub fn tapctl_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&run("/usr/sbin/tapctl", &all)).unwrap()
}

pub fn audit(user: &str) -> Vec<Value> {
    serde_json::from_str(&run("/usr/sbin/tapctl", &["log", user, "--json"])).unwrap()
}
