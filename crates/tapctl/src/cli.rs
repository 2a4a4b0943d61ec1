// tapctl's command line, in one place so man pages and completions are generated from it.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use pam_tap_core::config::DEFAULT_CONFIG;

#[derive(Debug, Parser)]
#[command(
    name = "tapctl",
    version,
    about = "Issue and manage Temporary Access Passes for pam_tap",
    long_about = "Issue and manage Temporary Access Passes (TAPs) for pam_tap.\n\n\
        Runs as root; a helpdesk runs it through sudo, and the invoking user (SUDO_USER) is the operator \
        whose role (roles.* in the config) decides what they may do."
)]
pub struct Cli {
    /// Policy file [default: /etc/security/pam_tap.toml]. Root only: an operator (sudo) who passes
    /// it, or PAM_TAP_CONFIG, is refused
    #[arg(long, global = true, env = "PAM_TAP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The policy file in force: the one given (root only), else the default.
    pub fn config_path(&self) -> &Path {
        self.config.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database (0600 in a 0700 directory) and, if missing, the config; upgrade the schema
    Init,
    /// Issue a pass for USER and print it (the only time it is ever shown); --csv FILE: one per row
    Issue(IssueArgs),
    /// List passes (those that still matter; --all for every one)
    List {
        /// Include expired, used and revoked passes
        #[arg(long)]
        all: bool,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Show USER's newest pass and why it can or cannot be used now
    Show {
        user: String,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Would USER's pass log in now (here, or on --host), and if not, why and until when
    ///
    /// The module's own decision for the right answer, minus the answer: one reason of `tapctl
    /// vocabulary`'s, with the moment it changes where there is one. Reads only (settles nothing).
    Status {
        user: String,
        /// The host to ask about (its host_name) [default: this host]
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// The PAM service to ask about [default: any service the policy allows]
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Revoke USER's pass (an unused pass also gives back the account's previous password)
    Revoke {
        user: String,
        /// Recorded in the audit log
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// End the rest of USER's pass after too many wrong answers (roles as for revoke)
    Unlock { user: String },
    /// Delete passes that can no longer be used; the audit log is kept
    ///
    /// Reset passes that ended are settled first (the previous password back, or the account
    /// locked). With a PostgreSQL store, run on a host it settles the reset passes accepted there
    /// (a host's role is enough for that part); the fleet's passes are purged by the admin role.
    Purge {
        /// Only passes that ended at least this long ago (10m, 1h, 7d)
        #[arg(long, value_name = "DURATION", default_value = "1d")]
        older_than: String,
    },
    /// Show the audit log (`tapctl vocabulary` says what each event means)
    Log {
        /// Only this user's entries
        user: Option<String>,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Copy the SQLite store into an empty PostgreSQL store, all or nothing (root only)
    ///
    /// Copies the store the config names (passes with their ids, the audit log, the clock mark) into
    /// the PostgreSQL store at --to, initialising its schema if needed; then point `database` at it.
    /// Refused while a reset pass's password change still matters.
    Migrate {
        /// The PostgreSQL store: a libpq URI (postgresql://...) of a pam_tap_admin member
        #[arg(long, value_name = "URI")]
        to: String,
    },
    /// Bind fleet hosts' database roles to their host names (a PostgreSQL store)
    ///
    /// Every host function of the fleet store acts only as the host its caller's login role is
    /// bound to: its passes, its audit rows. A host whose role is bound to no host logs no one in
    /// with a pass.
    Hosts {
        #[command(subcommand)]
        action: HostsAction,
    },
    /// SSH keys enrolled with a pass (key-only servers): list them, revoke one
    ///
    /// A pass issued with --enroll-key enrolls the key its holder proves over SSH in the same
    /// connection; from then on that key logs in alone. Revoking a key stops it at once.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Show the resolved policy (every default filled in)
    Policy {
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// The words pam_tap uses (pass statuses, audit events, roles) and what your role may run
    Vocabulary {
        /// JSON output (what the Cockpit page reads)
        #[arg(long)]
        json: bool,
    },
    /// Approve another operator's request ID for a pass (two-person approval, `[approval]`)
    ///
    /// You must be allowed to issue for its user, and be neither its requester nor that user.
    /// Its requester then collects the pass (`tapctl collect ID`) within approval.collect_within.
    Approve {
        /// The request's number (`tapctl requests` lists them)
        id: i64,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Deny another operator's request ID for a pass; its requester sees the reason
    Deny {
        /// The request's number (`tapctl requests` lists them)
        id: i64,
        /// Why, shown to the requester and recorded in the audit log
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Collect the pass of your approved request ID: issued now and shown once
    Collect {
        /// The request's number (`tapctl requests` lists them)
        id: i64,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// List requests for a pass waiting for a decision or a collection
    Requests {
        /// JSON output (with what you may do with each)
        #[arg(long)]
        json: bool,
    },
    /// Check what locks people out or lets strangers in: file modes, schema, PAM wiring, sshd, clock
    Doctor {
        /// JSON output
        #[arg(long)]
        json: bool,
        /// Check the system mounted at DIR instead of / (an image, or a test fixture)
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum HostsAction {
    /// List the bindings: each host's database role and its host name
    List {
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Bind ROLE (a host's login role, a pam_tap_host member) to HOST (its config's host_name)
    Bind { role: String, host: String },
    /// Remove ROLE's binding: that host's logins with a pass stop until it is bound again
    Unbind { role: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// List enrolled keys (all, or USER's): fingerprint, type, when, where, with which pass
    List {
        user: Option<String>,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Remove USER's enrolled key FINGERPRINT (SHA256:…, as ssh-keygen -l prints it; roles as for revoke)
    Revoke {
        user: String,
        fingerprint: String,
        /// Recorded in the audit log
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The user who will log in with the pass
    #[arg(required_unless_present = "csv")]
    pub user: Option<String>,
    /// Bulk: one pass per row of FILE (`-` for stdin): `user[,lifetime,one_time,reason]`, or a header
    /// naming those columns (and `host`: host names separated by spaces). All rows or none; the
    /// other options are defaults for empty fields. Prints CSV (or a JSON array with --json) with the passes
    #[arg(long, value_name = "FILE", conflicts_with = "user")]
    pub csv: Option<PathBuf>,
    /// How long the pass is valid (within the policy's lifetime_min ..= lifetime_max)
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,
    /// When the pass becomes valid: RFC 3339 time or +DURATION from now
    #[arg(long, value_name = "RFC3339|+DURATION")]
    pub start: Option<String>,
    /// The pass works once
    #[arg(long, conflicts_with = "reusable")]
    pub one_time: bool,
    /// The pass works until it expires (unless policy forces one-time)
    #[arg(long)]
    pub reusable: bool,
    /// Characters in the pass (policy length ..= 48)
    #[arg(long, value_name = "N")]
    pub length: Option<usize>,
    /// Revoke the user's live pass and issue a new one
    #[arg(long)]
    pub replace: bool,
    /// Leave the account's password alone: no reset, no forced change
    #[arg(long)]
    pub keep_password: bool,
    /// Why, for the audit log
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The pass works only at this PAM service (repeatable; each must be in the policy's services)
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// The pass works only on this host, as its config's host_name says (repeatable)
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// The pass only enrolls the SSH key (or FIDO2 security key) its holder proves over SSH with
    /// it, on key-only servers; it never resets the password and no password login accepts it
    #[arg(long)]
    pub enroll_key: bool,
    /// Print one JSON object (with the pass) instead of text
    #[arg(long)]
    pub json: bool,
}
