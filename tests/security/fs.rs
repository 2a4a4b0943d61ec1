//! The database on a full filesystem, on a read-only mount, removed mid-run; and every file the
//! module trusts replaced by an unsafe one.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::accounts::User;
use crate::support::drive::line;
use crate::support::figures::alerts;
use crate::support::figures::figure;
use crate::support::site::write_file;
use crate::support::site::Site;
use crate::{site, user};

/// Full, read-only and vanishing storage.
mod storage;
/// Every trusted file replaced by an unsafe one.
mod trust;
