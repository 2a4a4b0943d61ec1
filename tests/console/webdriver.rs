//! Just enough of the W3C WebDriver protocol to drive Debian's chromium through chromedriver: a
//! session, navigation, elements, frames, scripts, window size and screenshots. Plain HTTP/1.1 on
//! loopback with serde_json; nothing here downloads a browser.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use base64ct::Encoding;
use serde_json::{json, Value};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags for a closed network and a root user: no sandbox (root), nothing that phones
/// home or waits on the network (it stalls otherwise), a profile of its own.
pub fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("chromedriver: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    // chromedriver keeps the connection open whatever the request says: read exactly one response.
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim_end().is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let lower = head.to_ascii_lowercase();
    let body = if let Some(n) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
    {
        let mut buf = vec![0; n];
        r.read_exact(&mut buf).map_err(|e| e.to_string())?;
        buf
    } else if lower.contains("transfer-encoding: chunked") {
        let mut buf = Vec::new();
        loop {
            let mut size = String::new();
            r.read_line(&mut size).map_err(|e| e.to_string())?;
            let n = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf
    } else {
        return Err(format!("{method} {path}: a response without a length: {head}"));
    };
    let body = String::from_utf8_lossy(&body);
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
        Ok(v["value"].clone())
    } else {
        Err(format!(
            "{method} {path}: {} {}",
            v["value"]["error"],
            v["value"]["message"]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ))
    }
}

/// One browser session.
pub struct Browser {
    port: u16,
    session: String,
}

impl Browser {
    pub fn new(port: u16, profile: &Path) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": chromium_args(profile)}
        }}});
        let v = http(port, "POST", "/session", Some(&caps)).expect("chromedriver starts chromium");
        Browser {
            port,
            session: v["sessionId"].as_str().unwrap().to_string(),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        http(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        )
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn goto(&self, url: &str) {
        self.ok("POST", "/url", Some(json!({ "url": url })));
    }

    /// The element `css` selects, waiting for it up to `within`.
    pub fn find(&self, css: &str, within: Duration) -> String {
        let t = Instant::now();
        loop {
            match self.call("POST", "/element", Some(json!({"using": "css selector", "value": css}))) {
                Ok(v) => return v[ELEMENT].as_str().unwrap().to_string(),
                Err(e) if t.elapsed() > within => panic!("{css} did not appear in {within:?}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Clicks what `css` selects; again if the page re-rendered it between finding and clicking.
    pub fn click(&self, css: &str) {
        for _ in 0..20 {
            let e = self.find(css, Duration::from_secs(20));
            match self.call("POST", &format!("/element/{e}/click"), Some(json!({}))) {
                Ok(_) => return,
                Err(err) if err.contains("stale element") => std::thread::sleep(Duration::from_millis(100)),
                Err(err) => panic!("{err}"),
            }
        }
        panic!("{css} kept going stale");
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css, Duration::from_secs(20));
        self.ok("POST", &format!("/element/{e}/value"), Some(json!({ "text": text })));
    }

    /// Presses `keys` on the keyboard, one after the other, into whatever has focus (WebDriver's key
    /// codes: "\u{E007}" Enter, "\u{E00C}" Escape, "\u{E004}" Tab, "\u{E014}" arrow right).
    pub fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.ok(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the current frame.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.ok("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// Runs `script` whose last argument is a callback it calls with the result.
    pub fn js_async(&self, script: &str, args: Value) -> Value {
        self.ok("POST", "/execute/async", Some(json!({"script": script, "args": args})))
    }

    /// Waits until `script` returns true.
    pub fn wait_for(&self, what: &str, script: &str, within: Duration) {
        let t = Instant::now();
        while self.js(script, json!([])) != Value::Bool(true) {
            assert!(t.elapsed() < within, "{what}: not within {within:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn enter_frame(&self, css: &str) {
        let e = self.find(css, Duration::from_secs(30));
        self.ok("POST", "/frame", Some(json!({ "id": { ELEMENT: e } })));
    }

    pub fn leave_frame(&self) {
        self.ok("POST", "/frame/parent", Some(json!({})));
    }

    /// Sets the viewport (not the window) to `width` x `height` CSS pixels.
    pub fn viewport(&self, width: i64, height: i64) {
        let (mut outer_w, mut outer_h) = (width, height);
        for _ in 0..3 {
            self.ok(
                "POST",
                "/window/rect",
                Some(json!({"width": outer_w, "height": outer_h})),
            );
            let inner = self.js("return [window.top.innerWidth, window.top.innerHeight]", json!([]));
            let (w, h) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
            if (w, h) == (width, height) {
                return;
            }
            outer_w += width - w;
            outer_h += height - h;
        }
    }

    pub fn screenshot(&self, to: &Path) {
        let b64 = self.ok("GET", "/screenshot", None);
        let png = base64ct::Base64::decode_vec(b64.as_str().unwrap()).unwrap();
        std::fs::write(to, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(self.port, "DELETE", &format!("/session/{}", self.session), None);
    }
}
