//! A unix datagram socket standing in for /dev/log (module argument `log_socket=`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Collects the module's syslog datagrams until dropped.
pub struct Sink {
    pub path: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Binds `path`, writable by every sender (a session may log as its user).
    pub fn bind(path: PathBuf) -> Sink {
        let sock = UnixDatagram::bind(&path).expect("bind log socket");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 17];
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => l.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(_) if s.load(Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
        });
        Sink {
            path,
            lines,
            stop,
            thread: Some(thread),
        }
    }

    /// Every line received so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// Every line, after a short wait for datagrams still in flight.
    pub fn settled_lines(&self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(120));
        self.lines()
    }

    pub fn clear(&self) {
        std::thread::sleep(Duration::from_millis(120));
        self.lines.lock().unwrap().clear();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
