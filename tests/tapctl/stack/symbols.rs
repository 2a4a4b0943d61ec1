//! The built module loads with RTLD_NOW (every symbol resolves) and exports exactly the six
//! `pam_sm_*` hooks libpam looks for.

use std::ffi::CString;
use std::process::Command;

const HOOKS: [&str; 6] = [
    "pam_sm_acct_mgmt",
    "pam_sm_authenticate",
    "pam_sm_chauthtok",
    "pam_sm_close_session",
    "pam_sm_open_session",
    "pam_sm_setcred",
];

#[test]
fn loads_with_rtld_now_and_exports_exactly_the_hooks() {
    let so = crate::support::paths::module();
    let path = CString::new(so.to_str().unwrap()).unwrap();
    // SAFETY: loading our own module; dlerror is read right after a failure.
    let h = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen: {:?}", unsafe {
        std::ffi::CStr::from_ptr(libc::dlerror())
    });
    for hook in HOOKS {
        let name = CString::new(hook).unwrap();
        assert!(!unsafe { libc::dlsym(h, name.as_ptr()) }.is_null(), "{hook} missing");
    }
    unsafe { libc::dlclose(h) };

    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("nm (binutils)");
    let mut exported: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.starts_with("pam_sm_"))
        .map(String::from)
        .collect();
    exported.sort();
    assert_eq!(exported, HOOKS);
}
