//! A real LightDM with lightdm-gtk-greeter on Xvfb, in private mount and pid namespaces.
//!
//! Nothing on the host changes: /etc/pam.d (the harness's copy with pam_tap in common-auth and
//! common-password), the PAM module directory (a copy with pam_gnome_keyring.so, see
//! keyring_module.rs), /etc/lightdm, /var/lib/lightdm, /var/lib/lightdm-data and /run/dbus are bind
//! mounts seen only inside the namespace, which runs its own system D-Bus (LightDM owns
//! org.freedesktop.DisplayManager on it and exits without one). LightDM starts Xvfb as its X server
//! through a wrapper that drops the VT and seat arguments Xvfb does not know. The X socket lives in
//! the shared /tmp/.X11-unix, so the test types with xdotool and takes screenshots from outside.
//! There is no systemd or logind here: the session stack has no pam_systemd, as on a machine
//! without logind LightDM runs sessions without one.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{run_ok, tool, Scratch};
use crate::keyring_module;

/// Programs the greeter test needs (Makefile `GREETER_PACKAGES`).
pub const GREETER_TOOLS: [&str; 6] = [
    "lightdm",
    "lightdm-gtk-greeter",
    "Xvfb",
    "xdotool",
    "import",
    "dbus-daemon",
];

/// Which of the greeter's programs are missing (empty when the test can run).
pub fn missing_tools() -> Vec<&'static str> {
    GREETER_TOOLS
        .into_iter()
        .filter(|t| !["/usr/sbin", "/usr/bin"].iter().any(|d| Path::new(d).join(t).exists()))
        .collect()
}

/// The session LightDM starts for the user. First what GNOME's and Xfce's autostart does
/// (gnome-keyring-secrets.desktop): start the keyring's secrets component, which opens the login
/// keyring with the password PAM handed the daemon (creating it at the first login); then it records
/// whether that keyring is locked and who the session runs as, and shows one window until the test
/// logs it out.
const SESSION: &str = "#!/bin/sh\n\
    echo \"${GNOME_KEYRING_CONTROL:+set}\" > \"$HOME/tap-keyring-control\"\n\
    if [ -n \"$GNOME_KEYRING_CONTROL\" ]; then\n\
      gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1\n\
      gdbus call --session --dest org.freedesktop.secrets \\\n\
        --object-path /org/freedesktop/secrets/collection/login \\\n\
        --method org.freedesktop.DBus.Properties.Get org.freedesktop.Secret.Collection Locked \\\n\
        > \"$HOME/tap-keyring-locked\" 2>&1\n\
    fi\n\
    id -un > \"$HOME/tap-session-user\"\n\
    exec xmessage -center -geometry 420x90 \"Session started for $(id -un)\"\n";

/// LightDM's X server command: Xvfb has no VT or seat, everything else it takes as given.
const XVFB: &str = "#!/bin/sh\n\
    args=\"\"; skip=0\n\
    for a in \"$@\"; do\n\
      if [ $skip = 1 ]; then skip=0; continue; fi\n\
      case \"$a\" in\n\
        -seat) skip=1 ;;\n\
        vt[0-9]*|-novtswitch|-sharevts) ;;\n\
        *) args=\"$args $a\" ;;\n\
      esac\n\
    done\n\
    exec /usr/bin/Xvfb $args -screen 0 800x600x24\n";

/// Run inside the namespaces: the bind mounts, a private system bus, then LightDM. The shell stays
/// pid 1 there (the kernel drops signals to a namespace's init that it has no handler for, and
/// LightDM learns that Xvfb is ready by SIGUSR1 to its parent) and passes SIGTERM on; when it exits,
/// everything left in the namespace dies with it.
const INNER: &str = "set -e\n\
    d=\"$1\"\n\
    mount --bind \"$2\" /etc/pam.d\n\
    mount --bind \"$3\" \"$4\"\n\
    mount --bind \"$d/etc\" /etc/lightdm\n\
    mount --bind \"$d/var-lib\" /var/lib/lightdm\n\
    mkdir -p /var/lib/lightdm-data\n\
    mount --bind \"$d/var-lib-data\" /var/lib/lightdm-data\n\
    mount --bind \"$d/run-dbus\" /run/dbus\n\
    dbus-daemon --system --fork\n\
    lightdm -d --log-dir=\"$d/log\" --run-dir=\"$d/run\" --cache-dir=\"$d/cache\" &\n\
    dm=$!\n\
    trap 'kill -TERM $dm; wait $dm' TERM\n\
    wait $dm\n";

pub struct LightDm {
    child: Option<Child>,
    pub dir: PathBuf,
    pub display: String,
    xauthority: PathBuf,
    pub shots: PathBuf,
}

impl LightDm {
    /// Starts LightDM with the pam.d `pamd` and the module directory `modules` (bound over the host's)
    /// and waits for the greeter's first prompt.
    pub fn start(scratch: &Scratch, pamd: &Path, modules: &Path, shots: &Path) -> LightDm {
        let dir = scratch.join("lightdm");
        for sub in [
            "etc/xsessions",
            "var-lib",
            "var-lib-data",
            "run-dbus",
            "log",
            "run",
            "cache",
        ] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // The session and the greeter read these as their own users.
        for sub in ["etc", "etc/xsessions"] {
            fs::set_permissions(dir.join(sub), fs::Permissions::from_mode(0o755)).unwrap();
        }
        run_ok(
            Command::new(tool("chown"))
                .args(["lightdm:lightdm"])
                .arg(dir.join("var-lib")),
        );
        run_ok(
            Command::new(tool("chown"))
                .args(["root:lightdm"])
                .arg(dir.join("var-lib-data")),
        );
        fs::set_permissions(dir.join("var-lib-data"), fs::Permissions::from_mode(0o775)).unwrap();
        let etc = dir.join("etc");
        for f in ["lightdm-gtk-greeter.conf", "users.conf", "keys.conf"] {
            let src = Path::new("/etc/lightdm").join(f);
            if src.exists() {
                fs::copy(&src, etc.join(f)).unwrap();
            }
        }
        let exe = |name: &str, text: &str| {
            fs::write(etc.join(name), text).unwrap();
            fs::set_permissions(etc.join(name), fs::Permissions::from_mode(0o755)).unwrap();
        };
        exe("tap-session", SESSION);
        exe("xvfb-for-lightdm", XVFB);
        fs::write(
            etc.join("xsessions/tap-session.desktop"),
            "[Desktop Entry]\nName=pam_tap test session\nExec=/etc/lightdm/tap-session\nType=Application\n",
        )
        .unwrap();
        // Debian's own defaults (/usr/share/lightdm/lightdm.conf.d/01_debian.conf) still apply:
        // the user list is hidden, sessions run through /etc/X11/Xsession.
        fs::write(
            etc.join("lightdm.conf"),
            "[LightDM]\n\
             minimum-display-number=60\n\
             sessions-directory=/etc/lightdm/xsessions\n\
             [Seat:*]\n\
             xserver-command=/etc/lightdm/xvfb-for-lightdm\n\
             greeter-session=lightdm-gtk-greeter\n\
             greeter-hide-users=true\n\
             user-session=tap-session\n",
        )
        .unwrap();
        fs::write(dir.join("inner.sh"), INNER).unwrap();
        let child = Command::new(tool("unshare"))
            .args(["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child"])
            .arg("/bin/sh")
            .arg(dir.join("inner.sh"))
            .arg(&dir)
            .arg(pamd)
            .arg(modules)
            .arg(keyring_module::host_module_dir())
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("lightdm.out")).unwrap())
            .stderr(fs::File::create(dir.join("lightdm.err")).unwrap())
            .spawn()
            .unwrap();
        fs::create_dir_all(shots).unwrap();
        let mut dm = LightDm {
            child: Some(child),
            display: String::new(),
            xauthority: PathBuf::new(),
            shots: shots.to_path_buf(),
            dir,
        };
        dm.wait_log("Prompt greeter with", 1, "the greeter's first prompt");
        let auth = fs::read_dir(dm.dir.join("run/root"))
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(':'))
            .expect("LightDM wrote no X authority file");
        dm.display = auth.file_name().to_string_lossy().into_owned();
        dm.xauthority = auth.path();
        dm.settle();
        dm
    }

    /// LightDM's debug log (`lightdm -d` writes it to --log-dir/lightdm.log).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log/lightdm.log")).unwrap_or_default()
    }

    /// Every log LightDM, Xvfb and the greeter wrote, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.join("log"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files.push(self.dir.join("lightdm.err"));
        for f in files {
            let body = fs::read_to_string(&f).unwrap_or_default();
            text.push_str(&format!("--- {} ---\n{body}\n", f.display()));
        }
        text
    }

    /// Waits until `needle` occurs at least `count` times in the log.
    #[track_caller]
    pub fn wait_log(&mut self, needle: &str, count: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.log().matches(needle).count() >= count {
                return;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "LightDM: waited for {what} ({needle:?} x{count}); exited: {exited:?}\n{}",
                    self.logs()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Occurrences of `needle` in the log so far.
    pub fn count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// GTK draws a moment after LightDM hands over the prompt.
    pub fn settle(&self) {
        thread::sleep(Duration::from_millis(600));
    }

    fn x(&self, program: &str) -> Command {
        let mut c = Command::new(tool(program));
        c.env("DISPLAY", &self.display).env("XAUTHORITY", &self.xauthority);
        c
    }

    /// Types `text` into the focused field and presses Enter, as a person at the keyboard.
    pub fn type_line(&self, text: &str) {
        run_ok(self.x("xdotool").args(["type", "--delay", "25", "--", text]));
        run_ok(self.x("xdotool").args(["key", "Return"]));
    }

    /// Types without Enter (for the "pass typed" picture).
    pub fn type_text(&self, text: &str) {
        run_ok(self.x("xdotool").args(["type", "--delay", "25", "--", text]));
    }

    pub fn key(&self, key: &str) {
        run_ok(self.x("xdotool").args(["key", key]));
    }

    /// A screenshot of the whole screen as `NAME.png` in the shots directory (8-bit palette to
    /// keep the committed pictures small).
    pub fn shot(&self, name: &str) -> PathBuf {
        let p = self.shots.join(format!("{name}.png"));
        run_ok(
            self.x("import")
                .args(["-window", "root", "-colors", "64"])
                .arg(format!("png8:{}", p.display())),
        );
        p
    }

    /// Pids of processes running `needle` (in their command line) as `uid`.
    pub fn processes_of(uid: u32, needle: &str) -> Vec<u32> {
        let mut pids = vec![];
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let Ok(status) = fs::read_to_string(e.path().join("status")) else {
                continue;
            };
            let real_uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string));
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if real_uid == Some(uid.to_string()) && cmd.contains(needle) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for LightDm {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // SIGTERM to the namespace's shell reaches LightDM, which stops its sessions and Xvfb
        // cleanly; unshare --kill-child then takes everything else in the namespace down with it.
        let unshare = child.id();
        let inner = fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).unwrap_or_default();
        for pid in inner.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}
