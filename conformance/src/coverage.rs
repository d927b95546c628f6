//! Which requirements of spec.md the conformance tests check.
//!
//! **Requirements.** Every MUST and MUST NOT of spec.md carries an id
//! `[S-n.k]` placed right after its sentence. [`requirements`] finds them
//! by that placement: the text is split into sentences (a `.`, `?` or `!`
//! followed by white space ends one; fenced code blocks, headings, list
//! items and table rows are blocks of their own), and an id that *opens* a
//! sentence — i.e. directly follows the end of the previous one — defines
//! a requirement; every other occurrence (inside a sentence, a list or a
//! table, or in backticks) is a cross-reference. The parser then checks
//! that the spec is consistent: each defining id follows a sentence with
//! MUST in it; each sentence with MUST (outside §1, which only explains
//! the key words) is followed by an id; each id is defined once, in its own
//! top-level section, numbered 1, 2, … in order; and every cross-reference
//! names a defined id.
//!
//! **Citations.** A test names what it checks in its doc comment, on a line
//! that starts with `Checks` and runs to the first line ending with a
//! period: `/// Checks [S-5.6], [S-5.25].`. The doc comment must belong to
//! a `#[test]` function, or to a function that a test of the same file
//! runs (an input case listed in the file's `cases!` table). A test marked
//! `#[ignore = "…"]` still cites what it checks; it is counted, and listed
//! apart, so that a requirement covered only by an ignored test is visible.
//! Any `[S-n.k]` anywhere in a test file must name a defined requirement.
//!
//! [`summary`] reads spec.md (compiled in) and every `.rs` file under this
//! crate's `tests/` directory (read at run time from the source tree), and
//! [`Coverage`] says what is covered and what is wrong.
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// spec.md, as compiled into this crate.
pub const SPEC: &str = include_str!("../../spec.md");

/// One numbered requirement of the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The id without brackets, such as `S-5.6`.
    pub id: String,
    /// The top-level section (the `5` of `S-5.6`).
    pub section: u32,
    /// The number within the section (the `6` of `S-5.6`).
    pub number: u32,
    /// The sentence the id follows.
    pub sentence: String,
    /// The 1-based line of spec.md the id is on.
    pub line: usize,
}

/// One function whose doc comment cites requirements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Citation {
    /// The file, relative to `tests/`.
    pub file: String,
    /// The 1-based line of the `fn`.
    pub line: usize,
    /// The function's name.
    pub item: String,
    /// The ids cited, without brackets, in order.
    pub ids: Vec<String>,
    /// Whether the function carries `#[test]`.
    pub is_test: bool,
    /// The reason of its `#[ignore = "…"]`, or `Some("")` for a bare
    /// `#[ignore]`; `None` if it is not ignored.
    pub ignored: Option<String>,
}

/// What the conformance tests cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Requirements the spec defines.
    pub requirements: usize,
    /// Requirements cited by at least one test (ignored tests included).
    pub tested: usize,
    /// Functions that cite at least one requirement (tests and cases).
    pub citing_tests: usize,
    /// Requirements no test cites, in spec order.
    pub missing: Vec<String>,
    /// Ids used in a test file that the spec does not define: (id, where).
    pub unknown: Vec<(String, String)>,
    /// Ignored tests that cite requirements.
    pub ignored: Vec<Citation>,
    /// Requirements cited only by ignored tests.
    pub only_ignored: Vec<String>,
    /// Citing functions per requirement, in spec order.
    pub per_requirement: Vec<(String, usize)>,
    /// Inconsistencies in the spec's numbering or in the citations (a
    /// citation on something that is not a test, a test file that cannot
    /// be read, …).
    pub problems: Vec<String>,
}

impl Coverage {
    /// Whether every requirement is cited and nothing is wrong.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.unknown.is_empty() && self.problems.is_empty()
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "spec requirements: {}, tested: {}, by {} citing tests",
            self.requirements, self.tested, self.citing_tests
        )?;
        for id in &self.missing {
            writeln!(f, "  MISSING  [{id}]: no test cites it")?;
        }
        for (id, at) in &self.unknown {
            writeln!(f, "  UNKNOWN  [{id}] in {at}: the spec defines no such requirement")?;
        }
        for p in &self.problems {
            writeln!(f, "  PROBLEM  {p}")?;
        }
        for c in &self.ignored {
            let why = c.ignored.as_deref().unwrap_or("");
            writeln!(f, "  IGNORED  {}:{} {} ({}) cites {}", c.file, c.line, c.item, why, c.ids.join(", "))?;
        }
        for id in &self.only_ignored {
            writeln!(f, "  ONLY-IGNORED  [{id}] is cited by ignored tests only")?;
        }
        Ok(())
    }
}

// ----- the spec ----------------------------------------------------------------

/// An id occurrence: its text (without brackets) and byte range in a block.
fn ids_in(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find("[S-") {
        let start = i + off;
        let mut j = start + 3;
        let mut dots = 0;
        let mut digits = 0;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
            if bytes[j] == b'.' {
                dots += 1;
            } else {
                digits += 1;
            }
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b']' && dots == 1 && digits >= 2 {
            let id = &text[start + 1..j];
            let (sec, num) = id[2..].split_once('.').unwrap_or(("", ""));
            if !sec.is_empty() && !num.is_empty() {
                out.push((id.to_string(), start, j + 1));
            }
            i = j + 1;
        } else {
            i = start + 3;
        }
    }
    out
}

/// Whether `text` holds the key word MUST (as a whole upper-case word).
fn has_must(text: &str) -> bool {
    let b = text.as_bytes();
    text.match_indices("MUST").any(|(i, _)| {
        let before = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let after = i + 4 >= b.len() || !b[i + 4].is_ascii_alphanumeric();
        before && after
    })
}

/// One block of text: a paragraph, list item, table row or heading, its
/// lines joined with spaces, with the 1-based line each byte comes from.
struct Block {
    text: String,
    lines: Vec<usize>,
    section: u32,
}

impl Block {
    fn line_at(&self, byte: usize) -> usize {
        self.lines[byte.min(self.lines.len().saturating_sub(1))]
    }
}

/// Split the spec into blocks, dropping fenced code blocks.
fn blocks(spec: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    let mut section = 0u32;
    let mut fenced = false;
    let flush = |cur: &mut Option<Block>, out: &mut Vec<Block>| {
        if let Some(b) = cur.take() {
            out.push(b);
        }
    };
    for (n, line) in spec.lines().enumerate() {
        let n = n + 1;
        let t = line.trim();
        if t.starts_with("```") {
            flush(&mut cur, &mut out);
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if t.is_empty() {
            flush(&mut cur, &mut out);
            continue;
        }
        let heading = t.starts_with('#');
        if let Some(rest) = t.strip_prefix("## ") {
            if let Some(num) = rest.split('.').next().and_then(|s| s.trim().parse().ok()) {
                section = num;
            }
        }
        let starts_block = heading || t.starts_with("- ") || t.starts_with('|');
        if starts_block {
            flush(&mut cur, &mut out);
        }
        let b = cur.get_or_insert_with(|| Block { text: String::new(), lines: Vec::new(), section });
        if !b.text.is_empty() {
            b.text.push(' ');
            b.lines.push(n);
        }
        b.text.push_str(t);
        b.lines.extend(std::iter::repeat_n(n, t.len()));
        if heading || t.starts_with('|') {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// The sentences of a block, as byte ranges: a `.`, `?` or `!` followed by
/// white space (or the end of the block) ends a sentence.
fn sentences(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..b.len() {
        let end_mark = matches!(b[i], b'.' | b'?' | b'!');
        let followed = i + 1 == b.len() || b[i + 1].is_ascii_whitespace();
        if end_mark && followed {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < b.len() && !text[start..].trim().is_empty() {
        out.push((start, b.len()));
    }
    out
}

/// A sentence without the ids that open it or a list bullet.
fn clean_sentence(p: &str) -> String {
    let mut t = p.trim();
    loop {
        t = t.trim_start_matches("- ").trim_start();
        match ids_in(t).first() {
            Some((_, 0, z)) => t = &t[*z..],
            _ => return t.trim().to_string(),
        }
    }
}

/// The requirements spec.md defines, in order, and every inconsistency
/// found in their numbering (see the module documentation for the rules).
#[must_use]
pub fn requirements(spec: &str) -> (Vec<Requirement>, Vec<String>) {
    let mut reqs: Vec<Requirement> = Vec::new();
    let mut problems = Vec::new();
    let mut refs: Vec<(String, usize)> = Vec::new();
    for block in blocks(spec) {
        let text = block.text.as_str();
        let all = ids_in(text);
        let sents = sentences(text);
        let mut defining = Vec::new();
        for (k, &(s, e)) in sents.iter().enumerate() {
            // Ids that open this sentence define requirements of the one before.
            let mut pos = s;
            loop {
                let rest = &text[pos..e];
                let skipped = rest.len() - rest.trim_start().len();
                let Some(&(ref id, a, z)) = all.iter().find(|(_, a, _)| *a == pos + skipped) else { break };
                let prev = (k > 0).then(|| &text[sents[k - 1].0..sents[k - 1].1]);
                defining.push(a);
                let line = block.line_at(a);
                match prev {
                    Some(p) if has_must(p) => {
                        let (sec, num) = id[2..].split_once('.').expect("checked by ids_in");
                        reqs.push(Requirement {
                            id: id.clone(),
                            section: sec.parse().unwrap_or(0),
                            number: num.parse().unwrap_or(0),
                            sentence: clean_sentence(p),
                            line,
                        });
                        if sec.parse() != Ok(block.section) {
                            problems.push(format!(
                                "spec.md:{line}: [{id}] is defined in section {}",
                                block.section
                            ));
                        }
                    }
                    _ => problems.push(format!("spec.md:{line}: [{id}] follows a sentence without MUST")),
                }
                pos = z;
            }
            // A MUST sentence must be followed by an id (outside §1).
            let sentence = &text[s..e];
            if block.section >= 2 && has_must(sentence) {
                let next_opens_with_id = sents.get(k + 1).is_some_and(|&(ns, ne)| {
                    let t = text[ns..ne].trim_start();
                    t.starts_with("[S-") && ids_in(t).first().is_some_and(|(_, a, _)| *a == 0)
                });
                if !next_opens_with_id {
                    let line = block.line_at(s + (sentence.len() - sentence.trim_start().len()));
                    problems.push(format!(
                        "spec.md:{line}: a sentence with MUST has no id after it: {:?}",
                        sentence.trim()
                    ));
                }
            }
        }
        for (id, a, _) in all {
            if !defining.contains(&a) {
                refs.push((id, block.line_at(a)));
            }
        }
    }
    // Each id once, numbered in order within its section.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut next: BTreeMap<u32, u32> = BTreeMap::new();
    for r in &reqs {
        if let Some(first) = seen.insert(r.id.clone(), r.line) {
            problems.push(format!("spec.md:{}: [{}] is defined again (first at line {first})", r.line, r.id));
            continue;
        }
        let want = next.entry(r.section).or_insert(1);
        if r.number != *want {
            problems.push(format!(
                "spec.md:{}: [{}] should be [S-{}.{}] (requirements are numbered in order)",
                r.line, r.id, r.section, *want
            ));
        }
        *want = r.number + 1;
    }
    for (id, line) in refs {
        if !seen.contains_key(&id) {
            problems.push(format!("spec.md:{line}: [{id}] is referenced but never defined"));
        }
    }
    (reqs, problems)
}

// ----- the tests -----------------------------------------------------------------

/// Whether `line` starts a function item, and its name.
fn fn_name(line: &str) -> Option<&str> {
    let mut t = line.trim_start();
    for prefix in ["pub(crate) ", "pub ", "const ", "async ", "unsafe "] {
        t = t.strip_prefix(prefix).unwrap_or(t);
    }
    let rest = t.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The citations of one test file, and the problems found in it.
#[must_use]
pub fn citations(file: &str, source: &str) -> (Vec<Citation>, Vec<String>) {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut doc: Vec<(usize, &str)> = Vec::new();
    let mut attrs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        if let Some(d) = t.strip_prefix("///") {
            doc.push((i + 1, d.trim()));
            i += 1;
            continue;
        }
        if t.starts_with("#[") {
            // An attribute, possibly over several lines.
            let mut a = String::from(t);
            let mut depth = t.matches('[').count() as i64 - t.matches(']').count() as i64;
            while depth > 0 && i + 1 < lines.len() {
                i += 1;
                let more = lines[i].trim();
                depth += more.matches('[').count() as i64 - more.matches(']').count() as i64;
                a.push(' ');
                a.push_str(more);
            }
            attrs.push(a);
            i += 1;
            continue;
        }
        if t.starts_with("//") && !t.starts_with("///") || t.is_empty() {
            // Plain comments and blank lines between a doc comment and its
            // item are allowed.
            i += 1;
            continue;
        }
        let ids = checks(&doc);
        if let Some(name) = fn_name(t) {
            if let Some(ids) = ids {
                let is_test = attrs.iter().any(|a| a == "#[test]" || a.starts_with("#[test]"));
                let ignored = attrs.iter().find(|a| a.starts_with("#[ignore")).map(|a| {
                    a.split_once('"')
                        .and_then(|(_, r)| r.rsplit_once('"'))
                        .map_or(String::new(), |(s, _)| s.into())
                });
                if ids.is_empty() {
                    problems.push(format!("{file}:{}: `{name}` has a Checks line without ids", i + 1));
                }
                if !is_test && !mentions_elsewhere(&lines, i, name) {
                    problems.push(format!(
                        "{file}:{}: `{name}` cites requirements but is neither a #[test] nor run by one",
                        i + 1
                    ));
                }
                out.push(Citation {
                    file: file.to_string(),
                    line: i + 1,
                    item: name.to_string(),
                    ids,
                    is_test,
                    ignored,
                });
            }
        } else if ids.is_some() {
            let line = doc.first().map_or(i + 1, |d| d.0);
            problems.push(format!("{file}:{line}: a Checks line that is not on a function"));
        }
        doc.clear();
        attrs.clear();
        i += 1;
    }
    (out, problems)
}

/// The ids of the `Checks …` sentence of a doc comment, if it has one.
fn checks(doc: &[(usize, &str)]) -> Option<Vec<String>> {
    let start = doc.iter().position(|(_, d)| d.starts_with("Checks ") || *d == "Checks")?;
    let mut ids = Vec::new();
    for (_, d) in &doc[start..] {
        ids.extend(ids_in(d).into_iter().map(|(id, _, _)| id));
        if d.ends_with('.') {
            break;
        }
    }
    Some(ids)
}

/// Whether `name` appears as a word on a line other than `def`.
fn mentions_elsewhere(lines: &[&str], def: usize, name: &str) -> bool {
    lines.iter().enumerate().any(|(n, l)| {
        n != def
            && l.match_indices(name).any(|(i, _)| {
                let b = l.as_bytes();
                let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                (i == 0 || !word(b[i - 1])) && (i + name.len() >= b.len() || !word(b[i + name.len()]))
            })
    })
}

/// Compare the requirements of `spec` with the citations in `sources`
/// (file name, contents).
#[must_use]
pub fn analyze(spec: &str, sources: &[(String, String)]) -> Coverage {
    let (reqs, mut problems) = requirements(spec);
    let mut per: BTreeMap<&str, (usize, usize)> = reqs.iter().map(|r| (r.id.as_str(), (0, 0))).collect();
    let mut unknown = Vec::new();
    let mut ignored = Vec::new();
    let mut citing = 0;
    for (file, src) in sources {
        let (cits, p) = citations(file, src);
        problems.extend(p);
        for (n, line) in src.lines().enumerate() {
            for (id, _, _) in ids_in(line) {
                if !per.contains_key(id.as_str()) {
                    unknown.push((id, format!("{file}:{}", n + 1)));
                }
            }
        }
        for c in cits {
            if c.ids.is_empty() {
                continue;
            }
            citing += 1;
            for id in &c.ids {
                if let Some(e) = per.get_mut(id.as_str()) {
                    if c.ignored.is_some() {
                        e.1 += 1;
                    } else {
                        e.0 += 1;
                    }
                }
            }
            if c.ignored.is_some() {
                ignored.push(c);
            }
        }
    }
    let mut cov = Coverage {
        requirements: reqs.len(),
        citing_tests: citing,
        unknown,
        ignored,
        problems,
        ..Coverage::default()
    };
    for r in &reqs {
        let (live, ign) = per[r.id.as_str()];
        cov.per_requirement.push((r.id.clone(), live + ign));
        if live + ign == 0 {
            cov.missing.push(r.id.clone());
        } else {
            cov.tested += 1;
            if live == 0 {
                cov.only_ignored.push(r.id.clone());
            }
        }
    }
    cov
}

/// The directory of this crate's tests, in the source tree it was built from.
#[must_use]
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Every `.rs` file under `dir` (recursively), as (path relative to
/// `dir`, contents), sorted by path.
///
/// # Errors
/// If a directory or file cannot be read.
pub fn read_sources(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The coverage of spec.md by this crate's tests: spec.md as compiled in,
/// the test sources read from [`tests_dir`]. A test directory that cannot
/// be read is reported in [`Coverage::problems`].
#[must_use]
pub fn summary() -> Coverage {
    match read_sources(&tests_dir()) {
        Ok(sources) => analyze(SPEC, &sources),
        Err(e) => {
            let mut c = analyze(SPEC, &[]);
            c.problems.push(format!("cannot read {}: {e}", tests_dir().display()));
            c
        }
    }
}

/// The requirements of spec.md with the citing functions of each, as a
/// table (one line per requirement): for reports.
#[must_use]
pub fn table(sources: &[(String, String)]) -> String {
    let (reqs, _) = requirements(SPEC);
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, src) in sources {
        for c in citations(file, src).0 {
            for id in &c.ids {
                let mark = if c.ignored.is_some() { " (ignored)" } else { "" };
                by_id.entry(id.clone()).or_default().push(format!(
                    "{}::{}{mark}",
                    file.trim_end_matches(".rs"),
                    c.item
                ));
            }
        }
    }
    let mut s = String::new();
    for r in reqs {
        let tests = by_id.get(&r.id).map_or_else(Vec::new, Clone::clone);
        let _ = writeln!(s, "[{}] {} test(s): {}", r.id, tests.len(), tests.join(", "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_defines_its_requirements_consistently() {
        let (reqs, problems) = requirements(SPEC);
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(reqs.len(), 103);
        assert_eq!(reqs[0].id, "S-2.1");
        assert!(reqs[0].sentence.starts_with("Each side MUST send the preface"), "{}", reqs[0].sentence);
        assert_eq!(reqs.last().map(|r| r.id.as_str()), Some("S-14.20"));
    }

    #[test]
    fn cross_references_do_not_define() {
        let spec = "## 2. A\n\nA side MUST do x. [S-2.1] See also ([S-2.1]) and [S-2.1]: fine.\n\n\
                    ## 3. B\n\n- a list ([S-2.1]);\n\n| a | [S-3.1] |\n\nIt MUST NOT y. [S-3.1]\n";
        let (reqs, problems) = requirements(spec);
        assert!(problems.is_empty(), "{problems:#?}");
        let ids: Vec<_> = reqs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["S-2.1", "S-3.1"]);
        assert_eq!(reqs[1].sentence, "It MUST NOT y.");
        assert_eq!(reqs[1].line, 11);
    }

    #[test]
    fn spec_inconsistencies_are_reported() {
        let spec = "## 2. A\n\nA side may do x. [S-2.1]\n\nIt MUST do y.\n\nIt MUST do z. [S-2.3]\n\n\
                    Also [S-2.9].\n\n```\nIt MUST w. [S-2.4]\n```\n\n## 3. B\n\nIt MUST v. [S-2.4]\n";
        let (reqs, problems) = requirements(spec);
        assert_eq!(reqs.len(), 2, "{reqs:#?}");
        let all = problems.join("\n");
        assert!(all.contains("[S-2.1] follows a sentence without MUST"), "{all}");
        assert!(all.contains("a sentence with MUST has no id after it: \"It MUST do y.\""), "{all}");
        assert!(all.contains("[S-2.3] should be [S-2.1]"), "{all}");
        assert!(all.contains("[S-2.4] is defined in section 3"), "{all}");
        assert!(all.contains("[S-2.9] is referenced but never defined"), "{all}");
    }

    #[test]
    fn citations_are_read_from_doc_comments_of_tests_and_cases() {
        let src = r#"
/// A case.
/// Checks [S-2.1], [S-2.2] and
/// [S-2.3].
/// Not cited: [S-2.4].
fn case_a(chunk: usize) {}

cases! { a => case_a }

/// Checks [S-2.5].
#[test]
#[ignore = "engine bug: it does y"]
fn b() {}

/// Checks [S-2.6].
fn orphan() {}

/// Checks [S-2.7].
const X: u8 = 0;
"#;
        let (cits, problems) = citations("f.rs", src);
        assert_eq!(cits.len(), 3);
        assert_eq!(cits[0].item, "case_a");
        assert_eq!(cits[0].ids, ["S-2.1", "S-2.2", "S-2.3"]);
        assert!(!cits[0].is_test);
        assert_eq!(cits[1].ids, ["S-2.5"]);
        assert!(cits[1].is_test);
        assert_eq!(cits[1].ignored.as_deref(), Some("engine bug: it does y"));
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].contains("`orphan` cites requirements but is neither"), "{problems:#?}");
        assert!(problems[1].contains("f.rs:18: a Checks line that is not on a function"), "{problems:#?}");
    }

    #[test]
    fn analysis_finds_missing_unknown_and_ignored() {
        let spec = "## 2. A\n\nIt MUST a. [S-2.1] It MUST b. [S-2.2] It MUST c. [S-2.3]\n";
        let src = "/// Checks [S-2.1], [S-2.9].\n#[test]\nfn t() {}\n\
                   /// Checks [S-2.2].\n#[test]\n#[ignore = \"engine bug: z\"]\nfn u() {}\n";
        let c = analyze(spec, &[("t.rs".into(), src.into())]);
        assert_eq!(c.requirements, 3);
        assert_eq!(c.tested, 2);
        assert_eq!(c.citing_tests, 2);
        assert_eq!(c.missing, ["S-2.3"]);
        assert_eq!(c.unknown, [("S-2.9".to_string(), "t.rs:1".to_string())]);
        assert_eq!(c.only_ignored, ["S-2.2"]);
        assert_eq!(c.ignored.len(), 1);
        assert!(!c.is_complete());
        let text = c.to_string();
        assert!(
            text.contains("MISSING  [S-2.3]") && text.contains("IGNORED  t.rs:7 u (engine bug: z)"),
            "{text}"
        );
    }
}
