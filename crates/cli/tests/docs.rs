//! The repository's front door and its documents hold together: the README fits on a screen
//! and starts with the two commands, `.ci/run` runs the README's test command, every
//! citation of a document section (`docs/protocol.md §3.4`) names a section that exists, every
//! relative link in the documents reaches a file and a heading, and nothing points outside
//! the repository for its contract.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const DEMO: &str = "cargo run --release -- demo";
const TESTS: &str = "cargo test --workspace";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every file under `dir` (relative to the root) whose name ends with `ext`.
fn files(dir: &str, ext: &str, out: &mut Vec<String>) {
    for entry in fs::read_dir(root().join(dir)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let relative = format!("{dir}/{name}");
        if entry.file_type().unwrap().is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&relative, ext, out);
            }
        } else if name.ends_with(ext) {
            out.push(relative);
        }
    }
}

fn markdown_files() -> Vec<String> {
    let mut out = vec!["README.md".to_owned(), "CONTRIBUTING.md".to_owned()];
    files("docs", ".md", &mut out);
    out
}

fn sources() -> Vec<String> {
    let mut out = Vec::new();
    files("crates", ".rs", &mut out);
    out.push(".ci/run".to_owned());
    out
}

/// The section numbers a document has: `## 3. Title` gives "3", `### 3.4 Title` gives "3.4".
fn sections(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|line| {
            let heading = line.trim_start_matches('#');
            if heading.len() == line.len() {
                return None;
            }
            let number: String = heading
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            (!number.is_empty()).then(|| number.to_owned())
        })
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// The documents a citation may name.
const CITABLE: [&str; 3] = ["docs/", "CONTRIBUTING.md", "README.md"];

/// Every `(document, section)` cited in `text`: `docs/protocol.md §3.4`, `§1 to §4`,
/// `§11 and §12`; a bare `docs/cli.md` cites the document only.
fn citations(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for prefix in CITABLE {
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let tail = &rest[at..];
            let doc: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'))
                .collect();
            rest = &tail[doc.len().max(1)..];
            let doc = doc.trim_end_matches('.').to_owned();
            if !doc.ends_with(".md") {
                continue;
            }
            let mut after = rest;
            let mut cited = false;
            loop {
                let trimmed = after
                    .trim_start_matches(' ')
                    .trim_start_matches("to ")
                    .trim_start_matches("and ")
                    .trim_start_matches(", ");
                let Some(number) = trimmed.strip_prefix('§') else {
                    break;
                };
                let digits: String = number
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let digits = digits.trim_end_matches('.');
                if digits.is_empty() {
                    break;
                }
                out.push((doc.clone(), Some(digits.to_owned())));
                cited = true;
                after = &number[digits.len()..];
            }
            if !cited {
                out.push((doc, None));
            }
        }
    }
    out
}

#[test]
fn the_readme_is_a_front_door_with_the_two_commands_first() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; details go to docs/"
    );
    let block: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect();
    let commands: Vec<&str> = block
        .iter()
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(commands, [DEMO, TESTS], "the README's first block");
    let before: Vec<&str> = readme
        .lines()
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert!(before.len() <= 3, "the commands come first: {before:?}");
}

#[test]
fn ci_runs_the_readmes_test_command() {
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == TESTS),
        ".ci/run must call `{TESTS}` exactly as the README gives it"
    );
    assert!(
        !ci.contains("requirements.txt"),
        "the tests install their own Python packages; CI must not do it for them"
    );
}

#[test]
fn every_cited_document_and_section_exists() {
    let mut checked = 0;
    for file in sources().into_iter().chain(markdown_files()) {
        let text = read(&file);
        for (doc, section) in citations(&text) {
            let path = root().join(&doc);
            assert!(path.is_file(), "{file} cites {doc}, which does not exist");
            if let Some(section) = section {
                let have = sections(&fs::read_to_string(&path).unwrap());
                assert!(
                    have.contains(&section),
                    "{file} cites {doc} §{section}, which has no such section"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked > 40,
        "only {checked} citations found: is the scan broken?"
    );
}

#[test]
fn every_relative_link_in_the_documents_resolves() {
    for file in markdown_files() {
        let text = read(&file);
        let base = root().join(&file);
        let base = base.parent().unwrap();
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap();
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
            let resolved = if path.is_empty() {
                root().join(&file)
            } else {
                base.join(path)
            };
            assert!(resolved.exists(), "{file}: link {target} does not resolve");
            if !fragment.is_empty() && resolved.is_file() {
                let have = anchors(&fs::read_to_string(&resolved).unwrap());
                assert!(
                    have.contains(fragment),
                    "{file}: link {target}: no heading with anchor #{fragment}"
                );
            }
        }
    }
}

#[test]
fn the_repository_does_not_point_outside_itself_for_its_contract() {
    for file in sources().into_iter().chain(markdown_files()) {
        let text = read(&file);
        // Spelled in parts, so this file does not find itself.
        for outside in ["PROTOCOL", "DESIGN", "STYLE"].map(|d| format!("{d}.md")) {
            assert!(!text.contains(&outside), "{file} refers to {outside}");
        }
        assert!(
            !text.contains(&["..", "/shared"].concat()),
            "{file} refers to the lead's notes"
        );
    }
}

#[test]
fn the_citation_scanner_reads_ranges_and_bare_documents() {
    let found = citations("see docs/protocol.md §1 to §4, docs/cli.md, and CONTRIBUTING.md §1.");
    assert_eq!(
        found,
        [
            ("docs/protocol.md".to_owned(), Some("1".to_owned())),
            ("docs/protocol.md".to_owned(), Some("4".to_owned())),
            ("docs/cli.md".to_owned(), None),
            ("CONTRIBUTING.md".to_owned(), Some("1".to_owned())),
        ]
    );
    assert_eq!(
        sections("## 3. Push\n### 3.4 Checks\n## Tests\n"),
        ["3", "3.4"].map(String::from).into()
    );
    assert_eq!(anchor(" 16. Not yet implemented"), "16-not-yet-implemented");
}
