//! The guide (docs/guide, an mdBook that `make guide` builds into target/guide): no broken internal
//! link, #anchor or image in it or in the README that points into it, and no page SUMMARY.md leaves out.

#[path = "guide/links.rs"]
mod links;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn guide_src() -> PathBuf {
    repo().join("docs/guide/src")
}

#[test]
fn the_guide_and_the_readme_have_no_broken_link_anchor_or_image() {
    let report = links::check(&repo(), &guide_src(), &[repo().join("README.md")]);
    assert!(
        report.problems.is_empty(),
        "broken in the guide or README.md:\n{}",
        report.problems.join("\n")
    );
    // The screenshots (7 of a first login, 10 of the console) and the README's picture; the README's
    // table of contents and the chapters' cross-references.
    assert!(report.images >= 17, "only {} images checked", report.images);
    assert!(report.links >= 40, "only {} links checked", report.links);
    assert!(report.anchors >= 8, "only {} anchors checked", report.anchors);
}

#[test]
fn every_guide_page_is_reachable_from_the_summary() {
    let unreachable = links::unreachable_pages(&guide_src()).unwrap();
    assert!(
        unreachable.is_empty(),
        "pages SUMMARY.md does not name (mdBook leaves them out): {unreachable:?}"
    );
    let chapters = links::summary_chapters(&guide_src()).unwrap();
    assert!(chapters.len() >= 10, "{chapters:?}");
}

/// A book with one of each fault beside links that are fine: each fault is reported once, by page
/// and destination, and nothing else is.
#[test]
fn the_link_check_reports_each_broken_link_anchor_image_and_unlisted_page() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("docs/guide/src");
    std::fs::create_dir_all(src.join("shots")).unwrap();
    let write = |p: &Path, text: &str| std::fs::write(p, text).unwrap();
    write(&src.join("SUMMARY.md"), "# Summary\n\n- [A](a.md)\n- [B](b.md)\n");
    write(&src.join("shots/here.png"), "png");
    write(&t.path().join("outside.png"), "png");
    write(&t.path().join("notes.txt"), "text");
    write(
        &src.join("a.md"),
        "# Page A\n\n## Roles and a `sudo` rule (helpdesk)\n\n## Roles and a `sudo` rule (helpdesk)\n\n\
         [fine](b.md#second-part) [fine](#roles-and-a-sudo-rule-helpdesk-1) [outside](../../../notes.txt)\n\
         [fine](https://example.org/missing.md) ![fine](shots/here.png)\n\n\
         [gone](missing.md) [no anchor](b.md#nowhere) [no anchor here](#nothere)\n\
         ![gone](shots/gone.png) ![outside](../../../outside.png) [unlisted](c.md)\n\
         [anchor into text](../../../notes.txt#top)\n\
         {{#include ../../../notes.txt}} {{#include ../../../gone.txt:anchor}}\n",
    );
    write(&src.join("b.md"), "# Page B\n\n## Second part\n");
    write(&src.join("c.md"), "# Not in the summary\n");
    let readme = t.path().join("README.md");
    write(
        &readme,
        "[fine](docs/guide/src/a.md#page-a) [no anchor](docs/guide/src/b.md#first-part) ![gone](docs/x.png)\n",
    );
    let report = links::check(t.path(), &src, &[readme]);
    let expected = [
        "docs/guide/src/a.md: link `missing.md`: no such file docs/guide/src/missing.md",
        "docs/guide/src/a.md: link `b.md#nowhere`: docs/guide/src/b.md has no heading with id `nowhere`",
        "docs/guide/src/a.md: link `#nothere`: docs/guide/src/a.md has no heading with id `nothere`",
        "docs/guide/src/a.md: image `shots/gone.png`: no such file docs/guide/src/shots/gone.png",
        "docs/guide/src/a.md: image `../../../outside.png`: outside the book's src, so missing from the built book",
        "docs/guide/src/a.md: link `c.md`: docs/guide/src/c.md is no chapter of SUMMARY.md",
        "docs/guide/src/a.md: link `../../../notes.txt`: outside the book's src, so missing from the built book",
        "docs/guide/src/a.md: link `../../../notes.txt#top`: outside the book's src, so missing from the built book",
        "docs/guide/src/a.md: link `../../../notes.txt#top`: an anchor into a file that is not Markdown",
        "docs/guide/src/a.md: include `../../../gone.txt`: no such file",
        "README.md: link `docs/guide/src/b.md#first-part`: docs/guide/src/b.md has no heading with id `first-part`",
        "README.md: image `docs/x.png`: no such file docs/x.png",
    ];
    let mut got = report.problems.clone();
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(links::unreachable_pages(&src).unwrap(), [src.join("c.md")]);
}

#[test]
fn heading_ids_are_mdbooks() {
    assert_eq!(
        links::heading_id("7. A graphical greeter (LightDM with lightdm-gtk-greeter)"),
        "7-a-graphical-greeter-lightdm-with-lightdm-gtk-greeter"
    );
    assert_eq!(links::heading_id("Wiring pam.d on Debian"), "wiring-pamd-on-debian");
    assert_eq!(links::heading_id("The reset's shadow state"), "the-resets-shadow-state");
}
