//! Generates the man pages and shell completions that the packages ship.
//!
//! `cargo run --example gen_docs -- OUT_DIR` writes
//! - `OUT_DIR/man/tapctl.8` from the clap definitions (`cli::Cli`) plus the hand-written
//!   sections of `docs/man/tapctl.8.md`,
//! - `OUT_DIR/man/pam_tap.8` and `OUT_DIR/man/pam_tap.toml.5` from `docs/man/*.md`,
//! - `OUT_DIR/completions/{tapctl.bash,_tapctl,tapctl.fish}`.
//!
//! The Markdown is CommonMark with definition lists, converted by mandown (see
//! `markdown_to_roff`). The date on every page comes from `SOURCE_DATE_EPOCH` when set, for
//! reproducible builds.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use tapctl::{cli, table};

const MANUAL: &str = "pam_tap manual";

/// Where tapctl(8) takes the command table.
const TABLE_MARKER_MD: &str = "<!-- command-table -->";

/// Where pam_tap.toml(5) takes the key reference generated from the shipped example config.
const KEYS_MARKER: &str = ".\\\" <!-- keys: conf/pam_tap.toml -->\n";
/// The same marker in the Markdown source.
const KEYS_MARKER_MD: &str = "<!-- keys: conf/pam_tap.toml -->\n";

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/pkg-docs"));
    if let Err(e) = run(&out) {
        eprintln!("gen_docs: {e}");
        std::process::exit(1);
    }
}

fn run(out: &Path) -> Result<(), String> {
    // The repository root: the docs and the shipped config live there.
    let root = &Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let man_dir = out.join("man");
    let comp_dir = out.join("completions");
    for d in [&man_dir, &comp_dir] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let date = page_date();
    let source = format!("pam_tap {}", env!("CARGO_PKG_VERSION"));

    let example = read(&root.join("conf/pam_tap.toml"))?;
    for (md, page) in [("pam_tap.8.md", "pam_tap.8"), ("pam_tap.toml.5.md", "pam_tap.toml.5")] {
        let text = read(&root.join("docs/man").join(md))?;
        let roff = markdown_to_roff(&text, &date, &source)?.replace(KEYS_MARKER, &config_keys_roff(&example));
        write(&man_dir.join(page), roff.as_bytes())?;
    }

    let extra = read(&root.join("docs/man/tapctl.8.md"))?.replace(TABLE_MARKER_MD, &command_table_md());
    let tapctl = tapctl_page(&extra, &date, &source)?;
    write(&man_dir.join("tapctl.8"), &tapctl)?;

    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = cli::Cli::command();
        clap_complete::generate_to(shell, &mut cmd, "tapctl", &comp_dir)
            .map_err(|e| format!("{shell} completion: {e}"))?;
    }
    println!("gen_docs: wrote {} and {}", man_dir.display(), comp_dir.display());
    Ok(())
}

fn read(p: &Path) -> Result<String, String> {
    fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn write(p: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::File::create(p)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// The command table as a definition list: each command, the roles that may run it, what only
/// root may give it, and what it can do.
fn command_table_md() -> String {
    use pam_tap_store::operator::Role;
    let roles = [Role::Root, Role::PrivilegedIssuer, Role::Issuer, Role::Viewer];
    let mut out = String::new();
    for rule in table::COMMAND_TABLE {
        let who: Vec<&str> = roles.iter().filter(|r| **r >= rule.least).map(|r| r.word()).collect();
        let _ = write!(
            out,
            "**tapctl {}**\n: {}: {}.",
            rule.path.join(" "),
            who.join(", "),
            rule.why
        );
        if !rule.root_args.is_empty() {
            let args: Vec<String> = rule.root_args.iter().map(|a| format!("--{a}")).collect();
            let _ = write!(out, " Only root may give {}.", args.join(", "));
        }
        out.push_str("\n\n");
    }
    let global: Vec<String> = table::GLOBAL_ROOT_ARGS.iter().map(|a| format!("--{a}")).collect();
    let _ = writeln!(
        out,
        "Every command: {} (and PAM_TAP_CONFIG) is root's only. A command this table does not name is root's alone.",
        global.join(", ")
    );
    out
}

/// YYYY-MM-DD of `SOURCE_DATE_EPOCH`, or of today.
#[allow(clippy::disallowed_methods)] // the page date, read once; no pass logic here
fn page_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let when = match secs {
        Some(s) => chrono::DateTime::from_timestamp(s, 0).unwrap_or_default(),
        None => chrono::Utc::now(),
    };
    when.format("%Y-%m-%d").to_string()
}

/// tapctl(8): clap's synopsis, description and options for the tool and for each command, then
/// the hand-written sections (exit status, roles, files, examples) from Markdown.
fn tapctl_page(extra_md: &str, date: &str, source: &str) -> Result<Vec<u8>, String> {
    let mut cmd = cli::Cli::command().name("tapctl").disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("TAPCTL")
        .section("8")
        .date(date)
        .source(source)
        .manual(MANUAL);
    let io = |e: std::io::Error| e.to_string();
    let mut out = Vec::new();
    man.render_title(&mut out).map_err(io)?;
    man.render_name_section(&mut out).map_err(io)?;
    man.render_synopsis_section(&mut out).map_err(io)?;
    man.render_description_section(&mut out).map_err(io)?;
    man.render_options_section(&mut out).map_err(io)?;

    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // Global options (--config) are described once, at the top.
        let globals: Vec<String> = sub
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect();
        let mut sub = sub.clone();
        for id in globals {
            sub = sub.mut_arg(id, |a| a.hide(true));
        }
        let sub_man = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        sub_man.render_synopsis_section(&mut part).map_err(io)?;
        sub_man.render_description_section(&mut part).map_err(io)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            sub_man.render_options_section(&mut part).map_err(io)?;
        }
        let part = String::from_utf8(part).map_err(|e| e.to_string())?;
        // Fold the sub-page's sections into one subsection per command.
        out.extend_from_slice(format!(".SS \"tapctl {}\"\n", sub.get_name()).as_bytes());
        for line in part.lines() {
            match line {
                ".SH SYNOPSIS" => continue,
                ".SH DESCRIPTION" => out.extend_from_slice(b".PP\n"),
                ".SH OPTIONS" => out.extend_from_slice(b".PP\nOptions:\n"),
                l if l.starts_with(".SH ") => {
                    out.extend_from_slice(format!(".PP\n{}:\n", l.trim_start_matches(".SH ")).as_bytes());
                }
                l => {
                    out.extend_from_slice(l.as_bytes());
                    out.push(b'\n');
                }
            }
        }
    }

    let body = markdown_to_roff(extra_md, date, source)?;
    // The Markdown page's own header and NAME are replaced by clap's: keep the sections after them.
    let sections = body
        .split_once("\n.SH NAME\n")
        .and_then(|(_, rest)| rest.split_once("\n.SH "))
        .map(|(_, rest)| format!(".SH {rest}"))
        .unwrap_or_default();
    out.extend_from_slice(sections.as_bytes());
    Ok(out)
}

/// A page of docs/man: `# name(S) -- summary` on the first line (ronn's layout) gives the title
/// line and NAME, written here with the date, source and manual that mandown's title lacks; the
/// rest is CommonMark (with definition lists for tagged paragraphs), converted by mandown. The
/// marker `<!-- keys: ... -->` is kept as a roff comment for [`config_keys_roff`] to replace.
fn markdown_to_roff(md: &str, date: &str, source: &str) -> Result<String, String> {
    let (first, body) = md.split_once('\n').ok_or("empty man page source")?;
    let head = first
        .strip_prefix("# ")
        .ok_or("the first line must be `# name(S) -- summary`")?;
    let (name_sec, summary) = head
        .split_once(" -- ")
        .ok_or("the first line must be `# name(S) -- summary`")?;
    let (name, sec) = name_sec
        .trim()
        .strip_suffix(')')
        .and_then(|s| s.split_once('('))
        .ok_or("the first line must be `# name(S) -- summary`")?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        ".TH \"{}\" \"{}\" \"{}\" \"{}\" \"{}\"",
        name.to_uppercase(),
        sec,
        date,
        source,
        MANUAL
    );
    out.push_str(".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n");
    let _ = writeln!(out, ".SH NAME\n{} \\- {}", escape(name), escape(summary.trim()));
    let parts: Vec<String> = body.split(KEYS_MARKER_MD).map(mandown_body).collect();
    out.push_str(&parts.join(KEYS_MARKER));
    Ok(out)
}

/// mandown's page without its own title line.
fn mandown_body(md: &str) -> String {
    let page = mandown::convert(md, "", 1);
    let body = page.split_once('\n').map_or("", |(_, rest)| rest);
    let mut body = body.trim_start_matches('\n').to_owned();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    body
}

/// The key reference of pam_tap.toml(5), read off the shipped, fully commented example config: each
/// `[table]` becomes a subsection, each `key = default` a tagged paragraph with the comment above it.
/// The comment block at the top of the file (up to its first blank line) is its preamble, skipped.
fn config_keys_roff(example: &str) -> String {
    let mut out = String::new();
    let mut comment: Vec<&str> = Vec::new();
    let mut in_preamble = true;
    let flush = |out: &mut String, comment: &mut Vec<&str>| {
        if !comment.is_empty() {
            let _ = writeln!(out, "{}", line_start(&inline(&comment.join(" "))));
            comment.clear();
        }
    };
    for line in example.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            comment.push(c.trim());
        } else if t.is_empty() {
            in_preamble = false;
            comment.clear();
        } else if t.starts_with('[') {
            in_preamble = false;
            let _ = writeln!(out, ".SS \"{}\"", escape(t));
            if !comment.is_empty() {
                out.push_str(".PP\n");
            }
            flush(&mut out, &mut comment);
        } else if let Some((key, value)) = t.split_once('=') {
            if in_preamble {
                comment.clear();
            }
            in_preamble = false;
            let _ = writeln!(out, ".TP\n\\fB{}\\fR = {}", escape(key.trim()), escape(value.trim()));
            flush(&mut out, &mut comment);
        }
    }
    out
}

/// Escapes roff's special characters in running text.
fn escape(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-").replace('\'', "\\*(Aq")
}

/// A text line beginning with `.` or `'` would be read as a request.
fn line_start(s: &str) -> String {
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s.to_owned()
    }
}

/// Inline markup: `**bold**`, `*italic*`, `` `code` ``, `[text](url)`.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('`') {
            if let Some((code, after)) = r.split_once('`') {
                let _ = write!(out, "\\fB{}\\fR", escape(code));
                rest = after;
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix("**") {
            if let Some((bold, after)) = r.split_once("**") {
                let _ = write!(out, "\\fB{}\\fR", inline(bold));
                rest = after;
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix('*') {
            if let Some((it, after)) = r.split_once('*') {
                if !it.is_empty() && !it.starts_with(' ') {
                    let _ = write!(out, "\\fI{}\\fR", inline(it));
                    rest = after;
                    continue;
                }
            }
        }
        if let Some(r) = rest.strip_prefix('[') {
            if let Some((text, after)) = r.split_once("](") {
                if let Some((_, after_url)) = after.split_once(')') {
                    out.push_str(&inline(text));
                    rest = after_url;
                    continue;
                }
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}
