//! The claim map (docs/claims.md) holds: every row names exactly one test, as
//! `` `path.rs::name` ``, and that test exists where it says, marked `#[test]` or
//! `#[tokio::test]` (a `proptest!` entry carries `#[test]` too) and not ignored; the files the
//! map says the code is in exist; and each of the four patents has a section of at least five
//! rows, thirty or more in all.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs;
use std::path::{Path, PathBuf};

const MAP: &str = "docs/claims.md";

/// The patents whose first claim is mapped, as their sections' headings name them.
const PATENTS: [&str; 4] = ["10,243,958", "10,140,615", "10,699,267", "8,060,449"];

const MIN_ROWS_PER_PATENT: usize = 5;
const MIN_ROWS: usize = 30;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One row of a patent's table.
#[derive(Debug)]
struct Row {
    /// The map's line number (1-based), for messages.
    line: usize,
    /// The "where" cell.
    place: String,
    /// The "test" cell.
    test: String,
}

/// A patent's section: its heading and its table rows.
#[derive(Debug)]
struct Section {
    heading: String,
    rows: Vec<Row>,
}

/// The map's `## ` sections with the rows of their tables (header and separator rows left
/// out).
fn sections(map: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut in_table = false;
    for (i, line) in map.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            out.push(Section {
                heading: heading.trim().to_owned(),
                rows: Vec::new(),
            });
            in_table = false;
            continue;
        }
        let trimmed = line.trim();
        if !trimmed.starts_with('|') {
            in_table = false;
            continue;
        }
        // The first line of a table is its header, the second its separator.
        if !in_table {
            in_table = true;
            continue;
        }
        if trimmed.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            continue;
        }
        let cells: Vec<&str> = trimmed
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let Some(section) = out.last_mut() else {
            panic!("{MAP}:{}: a table row before any `## ` section", i + 1);
        };
        assert_eq!(
            cells.len(),
            3,
            "{MAP}:{}: a row has three cells (element, where, test): {line}",
            i + 1
        );
        section.rows.push(Row {
            line: i + 1,
            place: cells[1].to_owned(),
            test: cells[2].to_owned(),
        });
    }
    out
}

/// The code spans of a cell: what stands between pairs of backticks.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// The `path.rs::name` references of a test cell.
fn test_refs(cell: &str) -> Vec<(&str, &str)> {
    code_spans(cell)
        .into_iter()
        .filter_map(|span| span.split_once(".rs::"))
        .collect()
}

/// The attributes and doc comments directly above line `at`: every line back to the end of
/// the previous item (a line ending in `}`, `;` or `{`, such as `proptest! {`), comments
/// left out.
fn preamble(lines: &[&str], at: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines[..at].iter().rev() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        if t.ends_with('}') || t.ends_with(';') || t.ends_with('{') {
            break;
        }
        out.push(t.to_owned());
    }
    out
}

/// Why `name` in `path` is not a test that runs, if it is not.
fn not_a_test(path: &str, name: &str) -> Option<String> {
    let file = format!("{path}.rs");
    let Ok(text) = fs::read_to_string(root().join(&file)) else {
        return Some(format!("{file} does not exist"));
    };
    let lines: Vec<&str> = text.lines().collect();
    let signature = format!("fn {name}(");
    let found: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            let t = t.strip_prefix("async ").unwrap_or(t);
            t.starts_with(&signature)
        })
        .map(|(i, _)| i)
        .collect();
    let [at] = found[..] else {
        return Some(format!(
            "{file} has {} functions `{name}`, not one",
            found.len()
        ));
    };
    let attributes = preamble(&lines, at);
    let is_test = attributes
        .iter()
        .any(|a| a.starts_with("#[test]") || a.starts_with("#[tokio::test"));
    if !is_test {
        return Some(format!(
            "{file}:{}: `{name}` is not marked #[test] or #[tokio::test]",
            at + 1
        ));
    }
    if attributes.iter().any(|a| a.starts_with(IGNORE)) {
        return Some(format!(
            "{file}:{}: `{name}` is ignored ({IGNORE}])",
            at + 1
        ));
    }
    None
}

/// The attribute that keeps a test from running, spelled in two pieces so that a search of
/// the tree for ignored tests does not find the checker itself.
const IGNORE: &str = concat!("#[", "ignore");
/// [`IGNORE`] as a whole attribute.
const IGNORED: &str = concat!("#[", "ignore", "]");

fn read_map() -> String {
    fs::read_to_string(root().join(MAP)).unwrap_or_else(|e| panic!("{MAP}: {e}"))
}

#[test]
fn every_row_names_one_test_that_exists_and_runs() {
    let map = read_map();
    let mut problems = Vec::new();
    let mut checked = 0;
    for section in sections(&map) {
        for row in &section.rows {
            let refs = test_refs(&row.test);
            let [(path, name)] = refs[..] else {
                problems.push(format!(
                    "{MAP}:{}: the test cell names {} tests, not one: {}",
                    row.line,
                    refs.len(),
                    row.test
                ));
                continue;
            };
            if let Some(why) = not_a_test(path, name) {
                problems.push(format!(
                    "{MAP}:{}: missing test `{path}.rs::{name}`: {why}",
                    row.line
                ));
            }
            checked += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "the claim map names tests that do not run:\n{}",
        problems.join("\n")
    );
    assert!(checked > 0, "no rows found in {MAP}: is the parser broken?");
}

#[test]
fn every_file_the_map_places_code_in_exists() {
    let map = read_map();
    let mut missing = Vec::new();
    for section in sections(&map) {
        for row in &section.rows {
            for span in code_spans(&row.place) {
                let path = span.trim_end_matches(':');
                if path.ends_with(".rs") && !root().join(path).is_file() {
                    missing.push(format!("{MAP}:{}: {path}", row.line));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the claim map places code in files that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn each_patent_has_a_section_of_five_rows_and_thirty_in_all() {
    let map = read_map();
    assert!(
        map.lines()
            .take(5)
            .any(|l| l.contains("crates/cli/tests/claims.rs")),
        "{MAP} opens by saying which test checks it"
    );
    let sections = sections(&map);
    for patent in PATENTS {
        let found: Vec<&Section> = sections
            .iter()
            .filter(|s| s.heading.contains(patent))
            .collect();
        let [section] = found[..] else {
            panic!(
                "{MAP} has {} sections for US {patent}, not one",
                found.len()
            );
        };
        assert!(
            section.rows.len() >= MIN_ROWS_PER_PATENT,
            "{MAP}: US {patent} maps {} elements, fewer than {MIN_ROWS_PER_PATENT}",
            section.rows.len()
        );
    }
    let total: usize = sections.iter().map(|s| s.rows.len()).sum();
    assert!(
        total >= MIN_ROWS,
        "{MAP} maps {total} elements, fewer than {MIN_ROWS}"
    );
}

#[test]
fn the_parser_reads_rows_references_and_test_markers() {
    let map = "intro\n## US 1\n| element | where | test |\n|---|---|---|\n\
               | \"a\" | `x.rs`: `f` | `crates/a.rs::t` |\n\ntext\n## US 2\n";
    let s = sections(map);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].rows.len(), 1);
    assert_eq!(s[0].rows[0].line, 5);
    assert_eq!(test_refs(&s[0].rows[0].test), [("crates/a", "t")]);
    assert!(s[1].rows.is_empty());
    let source = [
        "use x;",
        "/// Doc.",
        "#[tokio::test(flavor = \"multi_thread\")]",
        IGNORED,
        "async fn a() {}",
        "proptest! {",
        "    #[test]",
        "    fn b(x in 0u8..1) {}",
        "}",
        "fn c() {}",
    ];
    assert_eq!(
        preamble(&source, 4),
        [IGNORED, "#[tokio::test(flavor = \"multi_thread\")]"]
    );
    assert_eq!(preamble(&source, 7), ["#[test]"]);
    assert!(preamble(&source, 9).is_empty());
}
