//! The link check behind tests/tapctl/guide.rs, on the Markdown sources as pulldown-cmark (the parser
//! mdBook uses) reads them, so that a page on a forge and the same page in the built book agree.
//!
//! Rules, for a page of the book (under its `src`) or a page outside it (README.md):
//! - a link or image with a URL scheme (`https:`, `mailto:`) is not ours to check;
//! - a relative path is resolved against the page's folder and must exist;
//! - a `.md` target inside the book must be a chapter of SUMMARY.md (mdBook renders nothing else);
//! - a link or image of a book page must lie inside the book's `src` (mdBook copies nothing else:
//!   a file of the source tree is shown in the book by a page that `{{#include}}`s it);
//! - an `{{#include PATH}}` of a book page must name a file that exists;
//! - a `#fragment` into a Markdown page must be the id of one of its headings, as mdBook makes ids.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

/// What one check found and how much it looked at (a check that looked at nothing proves nothing).
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<String>,
    pub links: usize,
    pub anchors: usize,
    pub images: usize,
}

/// A link or image destination in a page, as written.
struct Target {
    image: bool,
    dest: String,
}

/// A parsed page: its heading ids, the links and images it holds, and the files it includes.
struct Page {
    ids: BTreeSet<String>,
    targets: Vec<Target>,
    includes: Vec<String>,
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// mdBook's id for a heading's text (mdbook's `normalize_id`): letters, digits, `_` and `-` kept in
/// ASCII lower case, whitespace turned into `-`, everything else dropped.
pub fn heading_id(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

fn parse(text: &str) -> Page {
    let mut ids = BTreeSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut targets = Vec::new();
    let mut heading: Option<(Option<String>, String)> = None;
    for event in Parser::new_ext(text, options()) {
        match event {
            Event::Start(Tag::Heading { id, .. }) => heading = Some((id.map(|i| i.to_string()), String::new())),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let (explicit, words) = heading.take().unwrap();
                let id = explicit.unwrap_or_else(|| heading_id(&words));
                // A repeated heading gets `-1`, `-2` ... as mdBook and forges number them.
                let n = seen.entry(id.clone()).or_insert(0);
                ids.insert(if *n == 0 { id.clone() } else { format!("{id}-{n}") });
                *n += 1;
            }
            Event::Start(Tag::Link { dest_url, .. }) => targets.push(Target {
                image: false,
                dest: dest_url.to_string(),
            }),
            Event::Start(Tag::Image { dest_url, .. }) => targets.push(Target {
                image: true,
                dest: dest_url.to_string(),
            }),
            _ => {}
        }
    }
    Page {
        ids,
        targets,
        includes: includes(text),
    }
}

/// The paths of mdBook's `{{#include PATH}}` (and `PATH:anchor` or `PATH:lines`) in `text`.
fn includes(text: &str) -> Vec<String> {
    text.split("{{#include ")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}"))
        .map(|(arg, _)| arg.trim().split(':').next().unwrap_or("").to_string())
        .collect()
}

/// `a/b/../c` as `a/c`, without touching the file system (a missing target must still resolve).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The chapters SUMMARY.md names, as paths under `src`.
pub fn summary_chapters(src: &Path) -> Result<BTreeSet<PathBuf>, String> {
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).map_err(|e| format!("SUMMARY.md: {e}"))?;
    Ok(parse(&summary)
        .targets
        .into_iter()
        .filter(|t| !t.image && !t.dest.is_empty())
        .map(|t| lexical(&src.join(t.dest.split('#').next().unwrap())))
        .collect())
}

/// Every `.md` file under `dir`.
pub fn markdown_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            markdown_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// Checks every link, anchor and image of the book under `src` and of `extra` pages (outside the
/// book, such as README.md), naming each page relative to `repo` in what it reports.
pub fn check(repo: &Path, src: &Path, extra: &[PathBuf]) -> Report {
    let mut report = Report::default();
    let src = lexical(src);
    let chapters = match summary_chapters(&src) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(e);
            return report;
        }
    };
    let mut pages = Vec::new();
    markdown_under(&src, &mut pages);
    pages.extend(extra.iter().map(|p| lexical(p)));
    let mut parsed: HashMap<PathBuf, Page> = HashMap::new();
    for p in &pages {
        let text = std::fs::read_to_string(p).unwrap();
        parsed.insert(p.clone(), parse(&text));
    }
    let name = |p: &Path| p.strip_prefix(repo).unwrap_or(p).display().to_string();
    for p in &pages {
        let in_book = p.starts_with(&src);
        if in_book {
            for inc in &parsed[p].includes {
                if !lexical(&p.parent().unwrap().join(inc)).is_file() {
                    report
                        .problems
                        .push(format!("{}: include `{inc}`: no such file", name(p)));
                }
            }
        }
        for t in &parsed[p].targets {
            if t.dest.contains("://") || t.dest.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = match t.dest.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (t.dest.as_str(), None),
            };
            let what = if t.image { "image" } else { "link" };
            let at = format!("{}: {what} `{}`", name(p), t.dest);
            let target = if path.is_empty() {
                p.clone()
            } else {
                lexical(&p.parent().unwrap().join(path))
            };
            if t.image {
                report.images += 1;
            } else {
                report.links += 1;
            }
            if !target.exists() {
                report.problems.push(format!("{at}: no such file {}", name(&target)));
                continue;
            }
            if in_book && !target.starts_with(&src) {
                report
                    .problems
                    .push(format!("{at}: outside the book's src, so missing from the built book"));
            }
            let is_md = target.extension().is_some_and(|x| x == "md");
            if is_md && target.starts_with(&src) && target != src.join("SUMMARY.md") && !chapters.contains(&target) {
                report
                    .problems
                    .push(format!("{at}: {} is no chapter of SUMMARY.md", name(&target)));
            }
            let Some(fragment) = fragment else { continue };
            report.anchors += 1;
            let ids = match parsed.get(&target) {
                Some(page) => page.ids.clone(),
                None if is_md => parse(&std::fs::read_to_string(&target).unwrap()).ids,
                None => {
                    report
                        .problems
                        .push(format!("{at}: an anchor into a file that is not Markdown"));
                    continue;
                }
            };
            if !ids.contains(fragment) {
                report
                    .problems
                    .push(format!("{at}: {} has no heading with id `{fragment}`", name(&target)));
            }
        }
    }
    report
}

/// The pages under `src` that SUMMARY.md does not reach (mdBook would leave them out of the book).
pub fn unreachable_pages(src: &Path) -> Result<Vec<PathBuf>, String> {
    let src = lexical(src);
    let chapters = summary_chapters(&src)?;
    let mut pages = Vec::new();
    markdown_under(&src, &mut pages);
    Ok(pages
        .into_iter()
        .filter(|p| *p != src.join("SUMMARY.md") && !chapters.contains(p))
        .collect())
}
