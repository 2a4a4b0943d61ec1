//! A small PAM application for pam_tap's tests and benchmarks: it runs PAM operations on one handle
//! through the real libpam, answering prompts from stdin, and prints every prompt and result.
//!
//! ```text
//! pam_drive [--confdir DIR] SERVICE USER OP...
//! OP: authenticate | acct_mgmt | chauthtok | chauthtok_expired | setcred | open_session | close_session
//!     | env (prints the names, never the values, of the PAM environment modules have set)
//!     | putenv:NAME=VALUE (sets a PAM environment variable, as sshd sets SSH_AUTH_INFO_0)
//! stdin: one answer per line; a line `<null>` answers with a NULL reply, `<fail>` fails the conversation.
//! ```

use std::ffi::{c_int, c_void, CStr, CString};
use std::io::BufRead;

#[path = "support/libpam.rs"]
mod libpam;
use libpam::*;

extern "C" fn conversation(n: c_int, msgs: *mut *const Message, resp: *mut *mut Response, _: *mut c_void) -> c_int {
    let stdin = std::io::stdin();
    // SAFETY: libpam passes n valid message pointers; the response array is ours to calloc.
    unsafe {
        let out = libc::calloc(n as usize, std::mem::size_of::<Response>()) as *mut Response;
        for i in 0..n as usize {
            let m = &**msgs.add(i);
            let text = CStr::from_ptr(m.msg).to_string_lossy();
            match m.style {
                1 | 2 => {
                    println!("prompt: {text}");
                    let mut line = Vec::new();
                    stdin.lock().read_until(b'\n', &mut line).ok();
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    match line.as_slice() {
                        b"<null>" => {}
                        b"<fail>" => {
                            libc::free(out.cast());
                            return 19; // PAM_CONV_ERR
                        }
                        bytes => {
                            let p = libc::malloc(bytes.len() + 1) as *mut u8;
                            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
                            *p.add(bytes.len()) = 0;
                            (*out.add(i)).resp = p.cast();
                        }
                    }
                }
                3 => println!("error: {text}"),
                _ => println!("info: {text}"),
            }
        }
        *resp = out;
    }
    0
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let confdir = if args.first().map(String::as_str) == Some("--confdir") {
        let d = args.remove(1);
        args.remove(0);
        Some(CString::new(d).unwrap())
    } else {
        None
    };
    if args.len() < 3 {
        eprintln!("usage: pam_drive [--confdir DIR] SERVICE USER OP...");
        std::process::exit(2);
    }
    let service = CString::new(args[0].clone()).unwrap();
    let user = CString::new(args[1].clone()).unwrap();
    let conv = Conv {
        conv: conversation,
        appdata: std::ptr::null_mut(),
    };
    let mut h: *mut c_void = std::ptr::null_mut();
    // SAFETY: plain libpam calls on a handle this process owns.
    let rc = unsafe {
        match &confdir {
            Some(d) => pam_start_confdir(service.as_ptr(), user.as_ptr(), &conv, d.as_ptr(), &mut h),
            None => pam_start(service.as_ptr(), user.as_ptr(), &conv, &mut h),
        }
    };
    if rc != 0 {
        println!("result pam_start={}", name(rc));
        std::process::exit(1);
    }
    let mut last = 0;
    for op in &args[2..] {
        if op == "env" {
            print_env_names(h);
            continue;
        }
        if let Some(kv) = op.strip_prefix("putenv:") {
            let kv = CString::new(kv).unwrap();
            // SAFETY: a live handle; libpam copies the string.
            let rc = unsafe { pam_putenv(h, kv.as_ptr()) };
            println!("result putenv={}", name(rc));
            continue;
        }
        let rc = unsafe {
            match op.as_str() {
                "authenticate" => pam_authenticate(h, 0),
                "acct_mgmt" => pam_acct_mgmt(h, 0),
                "chauthtok" => pam_chauthtok(h, 0),
                "chauthtok_expired" => pam_chauthtok(h, 0x20),
                "setcred" => pam_setcred(h, 0x2),
                "open_session" => pam_open_session(h, 0),
                "close_session" => pam_close_session(h, 0),
                other => {
                    eprintln!("unknown op {other}");
                    std::process::exit(2);
                }
            }
        };
        println!("result {op}={}", name(rc));
        last = rc;
    }
    unsafe { pam_end(h, last) };
}

/// `env NAME` for each variable in the handle's PAM environment (values may be secrets).
fn print_env_names(h: *mut c_void) {
    // SAFETY: pam_getenvlist returns a NULL-terminated malloc'd array of malloc'd "NAME=value"
    // strings that the caller frees.
    unsafe {
        let list = pam_getenvlist(h);
        if list.is_null() {
            return;
        }
        let mut i = 0;
        while !(*list.add(i)).is_null() {
            let entry = *list.add(i);
            let text = CStr::from_ptr(entry).to_string_lossy();
            println!("env {}", text.split('=').next().unwrap_or_default());
            libc::free(entry.cast());
            i += 1;
        }
        libc::free(list.cast());
    }
}
