//! A PAM application for pam_tap's security tests: drives the real libpam in one process and reports
//! what a module could leak into its host.
//!
//! ```text
//! sec_probe MODE CONFDIR SERVICE USER [ARGS...]
//! USER: a name, or @FILE to read the name's raw bytes from a file (non-UTF-8, 1 MiB ...).
//! stdin: the answers, one per line, used in turn and then again from the first; a line `<null>`
//!        gives a NULL reply, `<fail>` fails the conversation. Bytes, not text: NUL passes through
//!        to the reply buffer (where the C string ends at it).
//! MODE auth        pam_start, pam_authenticate, pam_end; prints `result authenticate=PAM_...`.
//! MODE leaks       as auth plus setcred, with descriptors, threads, signal handlers and the signal
//!                  mask compared before the handle, after authentication, and after pam_end.
//! MODE cycles N    N rounds of pam_start/pam_authenticate/pam_end (for valgrind); prints a tally.
//! MODE time N U2 U3   N interleaved rounds for USER, U2 and U3; prints the median µs of each.
//! ```

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void, CString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

#[path = "support/libpam.rs"]
mod libpam;
use libpam::*;

/// The scripted answers and which one comes next.
struct Script {
    answers: Vec<Vec<u8>>,
    next: usize,
}

extern "C" fn conversation(n: c_int, msgs: *mut *const Message, resp: *mut *mut Response, data: *mut c_void) -> c_int {
    // SAFETY: appdata is the Script main() owns for the life of every handle; libpam passes n valid
    // messages; the response array and strings are malloc'd for libpam to free.
    unsafe {
        let script = &mut *(data as *mut Script);
        let out = libc::calloc(n.max(1) as usize, std::mem::size_of::<Response>()) as *mut Response;
        for i in 0..n as usize {
            let m = &**msgs.add(i);
            if m.style != 1 && m.style != 2 {
                continue;
            }
            let answer = if script.answers.is_empty() {
                &b"<null>"[..]
            } else {
                let a = &script.answers[script.next % script.answers.len()];
                script.next += 1;
                a.as_slice()
            };
            match answer {
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
        *resp = out;
    }
    0
}

fn user_arg(a: &std::ffi::OsStr) -> CString {
    let bytes = a.as_bytes();
    let raw = match bytes.strip_prefix(b"@") {
        Some(path) => std::fs::read(std::ffi::OsStr::from_bytes(path)).expect("user file"),
        None => bytes.to_vec(),
    };
    CString::new(raw).expect("a user name cannot hold NUL")
}

struct Pam {
    h: *mut c_void,
}

impl Pam {
    fn start(service: &CString, user: &CString, confdir: &CString, conv: &Conv) -> Result<Self, c_int> {
        let mut h = std::ptr::null_mut();
        // SAFETY: valid C strings and a conversation that outlives the handle.
        let rc = unsafe { pam_start_confdir(service.as_ptr(), user.as_ptr(), conv, confdir.as_ptr(), &mut h) };
        if rc == 0 {
            Ok(Pam { h })
        } else {
            Err(rc)
        }
    }

    fn authenticate(&self) -> c_int {
        // SAFETY: a live handle.
        unsafe { pam_authenticate(self.h, 0) }
    }

    fn setcred(&self) -> c_int {
        // SAFETY: a live handle; PAM_ESTABLISH_CRED.
        unsafe { pam_setcred(self.h, 0x2) }
    }

    fn end(self, status: c_int) {
        // SAFETY: the handle is not used again.
        unsafe { pam_end(self.h, status) };
    }
}

/// The process's descriptors and what each points at (the listing's own descriptor left out).
fn fds() -> BTreeMap<i32, String> {
    let mut out = BTreeMap::new();
    let dir = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    let entries: Vec<_> = dir.flatten().collect();
    for e in entries {
        let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let target = std::fs::read_link(e.path())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !target.is_empty() {
            out.insert(fd, target);
        }
    }
    // read_dir's own descriptor was open during the listing and is closed now.
    // SAFETY: F_GETFD only queries.
    out.retain(|fd, _| unsafe { libc::fcntl(*fd, libc::F_GETFD) != -1 });
    out
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// Every signal's disposition (handler, flags, mask bytes) and the thread's signal mask.
fn signals() -> Vec<String> {
    let mut out = Vec::new();
    for sig in 1..=64 {
        // SAFETY: querying only (act = NULL).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 {
                let mask: [u8; 16] = std::mem::transmute_copy(&old.sa_mask);
                out.push(format!(
                    "sig{sig}:handler={:#x},flags={:#x},mask={mask:?}",
                    old.sa_sigaction, old.sa_flags
                ));
            }
        }
    }
    // SAFETY: querying the mask only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
        let mask: [u8; 16] = std::mem::transmute_copy(&set);
        out.push(format!("sigmask={mask:?}"));
    }
    out
}

fn diff(label: &str, before: &BTreeMap<i32, String>, now: &BTreeMap<i32, String>) {
    let new: Vec<String> = now
        .iter()
        .filter(|(fd, t)| before.get(fd) != Some(t))
        .map(|(fd, t)| format!("{fd}->{t}"))
        .collect();
    println!("new_fds_{label}={} {new:?}", new.len());
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: sec_probe MODE CONFDIR SERVICE USER [ARGS...]");
        std::process::exit(2);
    }
    let mode = args[0].to_string_lossy().into_owned();
    let confdir = CString::new(args[1].as_bytes()).unwrap();
    let service = CString::new(args[2].as_bytes()).unwrap();
    let user = user_arg(&args[3]);
    let rest: Vec<String> = args[4..].iter().map(|a| a.to_string_lossy().into_owned()).collect();

    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).expect("stdin");
    if input.last() == Some(&b'\n') {
        input.pop();
    }
    let answers: Vec<Vec<u8>> = if input.is_empty() {
        vec![]
    } else {
        input.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
    };
    let mut script = Box::new(Script { answers, next: 0 });
    let conv = Conv {
        conv: conversation,
        appdata: (&mut *script as *mut Script).cast(),
    };

    match mode.as_str() {
        "auth" => match Pam::start(&service, &user, &confdir, &conv) {
            Ok(p) => {
                let rc = p.authenticate();
                println!("result authenticate={}", name(rc));
                p.end(rc);
            }
            Err(rc) => println!("result pam_start={}", name(rc)),
        },
        "leaks" => {
            let (fd0, th0, sig0) = (fds(), threads(), signals());
            let p = Pam::start(&service, &user, &confdir, &conv).expect("pam_start");
            let (fd_started, th_started, sig_started) = (fds(), threads(), signals());
            let rc = p.authenticate();
            println!("result authenticate={}", name(rc));
            let rc2 = p.setcred();
            println!("result setcred={}", name(rc2));
            let (fd1, th1, sig1) = (fds(), threads(), signals());
            // What the module opened: compared with the handle as pam_start left it (libpam's own
            // state, such as the loaded stack, is not the module's).
            diff("after_auth", &fd_started, &fd1);
            println!("threads_before={th0} threads_started={th_started} threads_after_auth={th1}");
            let changed: Vec<&String> = sig1.iter().filter(|s| !sig_started.contains(s)).collect();
            println!("sig_changed_after_auth={} {changed:?}", changed.len());
            p.end(rc);
            let (fd2, th2, sig2) = (fds(), threads(), signals());
            diff("after_end", &fd0, &fd2);
            println!("threads_after_end={th2}");
            let changed: Vec<&String> = sig2.iter().filter(|s| !sig0.contains(s)).collect();
            println!("sig_changed_after_end={} {changed:?}", changed.len());
            let cloexec_missing: Vec<i32> = fd1
                .keys()
                .filter(|fd| !fd_started.contains_key(fd))
                .filter(|fd| {
                    // SAFETY: F_GETFD only queries.
                    unsafe { libc::fcntl(**fd, libc::F_GETFD) & libc::FD_CLOEXEC == 0 }
                })
                .copied()
                .collect();
            println!("new_fds_without_cloexec={}", cloexec_missing.len());
        }
        "cycles" => {
            let n: usize = rest.first().and_then(|s| s.parse().ok()).unwrap_or(100);
            let mut tally: BTreeMap<String, usize> = BTreeMap::new();
            for _ in 0..n {
                match Pam::start(&service, &user, &confdir, &conv) {
                    Ok(p) => {
                        let rc = p.authenticate();
                        *tally.entry(name(rc)).or_default() += 1;
                        p.end(rc);
                    }
                    Err(rc) => *tally.entry(format!("start:{}", name(rc))).or_default() += 1,
                }
            }
            println!("tally {tally:?}");
        }
        "time" => {
            let n: usize = rest.first().and_then(|s| s.parse().ok()).unwrap_or(200);
            let mut users = vec![user.clone()];
            users.extend(rest[1..].iter().map(|u| CString::new(u.as_bytes()).unwrap()));
            let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(n); users.len()];
            let mut codes: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); users.len()];
            for round in 0..n {
                // Rotate the order each round so no user always runs first after a pause.
                for k in 0..users.len() {
                    let i = (round + k) % users.len();
                    script.next = 0;
                    let p = Pam::start(&service, &users[i], &confdir, &conv).expect("pam_start");
                    let t = Instant::now();
                    let rc = p.authenticate();
                    samples[i].push(t.elapsed().as_secs_f64() * 1e6);
                    *codes[i].entry(name(rc)).or_default() += 1;
                    p.end(rc);
                }
            }
            for (i, s) in samples.iter_mut().enumerate() {
                for us in s.iter() {
                    println!("sample {i} {us:.0}");
                }
                s.sort_by(f64::total_cmp);
                let median = s[s.len() / 2];
                println!(
                    "timing user={} n={} median_us={median:.0} codes={:?}",
                    users[i].to_string_lossy(),
                    s.len(),
                    codes[i]
                );
            }
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
    drop(script);
}
