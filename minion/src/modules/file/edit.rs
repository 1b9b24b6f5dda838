//! The text edits behind `file.replace`, `file.search`, `file.line`,
//! `file.blockreplace` and `file.comment_line`, as pure functions over a
//! file's content, ported from Salt's algorithms quirks and all (Salt's docs
//! call `file.line` "a lot of quirks"; users depend on them).
//!
//! Lines keep their endings (`\n`, `\r\n` or `\r`) as Salt reads them.

use super::diff::unified_diff;
use super::pyre::{self, DOTALL};

/// Lines with their endings, split at `\n`, `\r\n` and `\r` (Python's
/// `readlines()` on a file opened with `newline=""`).
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\n' => i + 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..end]);
        start = end;
        i = end;
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// `bytes.splitlines(True)`, decoded (invalid UTF-8 replaced) for diffs.
fn lines_lossy(data: &[u8]) -> Vec<String> {
    split_lines(&String::from_utf8_lossy(data))
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The line ending a line ends with, or "" (Salt's `_get_eol`).
fn eol(line: &str) -> &'static str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else if line.ends_with('\r') {
        "\r"
    } else {
        ""
    }
}

// ---------------------------------------------------------------------------
// replace / search

/// The arguments of `file.replace` that shape the edit.
#[derive(Debug, Clone, Default)]
pub struct Replace<'a> {
    pub pattern: &'a str,
    pub repl: &'a str,
    /// 0 replaces every match.
    pub count: usize,
    pub flags: u32,
    pub append_if_not_found: bool,
    pub prepend_if_not_found: bool,
    pub not_found_content: Option<&'a str>,
    pub backslash_literal: bool,
}

/// What `file.replace` would write.
#[derive(Debug, Clone, PartialEq)]
pub struct Replaced {
    pub has_changes: bool,
    pub content: Vec<u8>,
    /// The unified diff of the whole file ("" when nothing changes).
    pub diff: String,
}

fn compile(pattern: &str, flags: u32) -> Result<regex::bytes::Regex, String> {
    pyre::compile(pattern, flags)
        .map_err(|e| format!("Invalid regular expression '{pattern}': {e}"))
}

/// `file.search`: does the pattern occur in the data?
pub fn search(data: &[u8], pattern: &str, flags: u32) -> Result<bool, String> {
    let regex = compile(pattern, flags)?;
    // Without MULTILINE, Python's `$` also matches before a final newline.
    let before_final_newline =
        flags & pyre::MULTILINE == 0 && data.strip_suffix(b"\n").is_some_and(|d| regex.is_match(d));
    Ok(regex.is_match(data) || before_final_newline)
}

/// `file.replace`'s edit of the whole file.
pub fn replace(data: &[u8], r: &Replace<'_>) -> Result<Replaced, String> {
    let regex = compile(r.pattern, r.flags)?;
    let repl = if r.backslash_literal {
        r.repl.replace('\\', "\\\\")
    } else {
        r.repl.to_string()
    };
    let template = pyre::parse_template(repl.as_bytes())?;
    let (result, nrepl) = pyre::subn(&regex, &template, data, r.count)?;
    let mut found = nrepl > 0;
    let pre_or_append = r.append_if_not_found || r.prepend_if_not_found;
    let not_found = r.not_found_content.filter(|c| !c.is_empty());
    let added = not_found.unwrap_or(r.repl);
    if pre_or_append && content_present(data, added, r.flags)? {
        found = true;
    }
    let orig_lines = lines_lossy(data);
    let mut new_lines = lines_lossy(&result);
    let mut has_changes = nrepl > 0 && orig_lines != new_lines;
    let mut content = result;
    if !found && pre_or_append {
        if r.prepend_if_not_found {
            new_lines.insert(0, format!("{added}\n"));
        } else {
            if let Some(last) = new_lines.last_mut().filter(|l| !l.ends_with('\n')) {
                last.push('\n');
            }
            new_lines.push(format!("{added}\n"));
        }
        content = new_lines.concat().into_bytes();
        has_changes = true;
    }
    Ok(Replaced {
        has_changes,
        content,
        diff: unified_diff(&orig_lines, &new_lines),
    })
}

/// Salt's check that appended/prepended content is already there: a whole
/// line equal to it (`^content($|(?=\r\n))` with the caller's flags).
fn content_present(data: &[u8], content: &str, flags: u32) -> Result<bool, String> {
    let pattern = format!("^{}(?:$|\\r\\n|\\n\\z)", pyre::escape(content));
    Ok(compile(&pattern, flags)?.is_match(data))
}

// ---------------------------------------------------------------------------
// line

/// What to do with the line (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ensure,
    Replace,
    Insert,
    Delete,
}

impl Mode {
    /// Salt's mode check and messages.
    pub fn parse(mode: Option<&str>) -> Result<Mode, String> {
        let Some(mode) = mode else {
            return Err("Mode was not defined. How to process the file?".into());
        };
        match mode.to_lowercase().as_str() {
            "ensure" => Ok(Mode::Ensure),
            "replace" => Ok(Mode::Replace),
            "insert" => Ok(Mode::Insert),
            "delete" => Ok(Mode::Delete),
            other => Err(format!("Unknown mode: \"{other}\"")),
        }
    }
}

/// The arguments of `file.line`.
#[derive(Debug, Clone)]
pub struct LineEdit<'a> {
    pub content: Option<&'a str>,
    pub matches: Option<&'a str>,
    pub mode: Mode,
    pub location: Option<&'a str>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub indent: bool,
}

/// Salt's `_regex_to_static`: the lines a regex (or plain fragment) finds,
/// `None` when there are no lines or no expression.
fn matching_lines(lines: &[String], expr: Option<&str>) -> Result<Option<Vec<String>>, String> {
    let Some(expr) = expr.filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    if lines.is_empty() {
        return Ok(None);
    }
    let regex = pyre::compile(expr, DOTALL).map_err(|e| format!("{e}: '{expr}'"))?;
    // Python's `$` also matches before a final newline.
    let hit = |l: &String| {
        regex.is_match(l.as_bytes())
            || l.strip_suffix('\n')
                .is_some_and(|s| regex.is_match(s.as_bytes()))
            || l.contains(expr)
    };
    Ok(Some(lines.iter().filter(|l| hit(l)).cloned().collect()))
}

/// Salt's `_assert_occurrence`: exactly one line must match.
fn assert_one(probe: &[String], target: &str) -> Result<(), String> {
    let msg = match probe.len() {
        0 => "less than",
        1 => return Ok(()),
        _ => "more than",
    };
    Err(format!(
        "Found {msg} expected occurrences in \"{target}\" expression"
    ))
}

/// Salt's `_set_line_indent`: the content with `src`'s leading blanks.
fn indented(src: &str, line: &str, indent: bool) -> String {
    if !indent {
        return line.to_string();
    }
    let idt: String = src
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    format!("{idt}{}", line.trim_start())
}

/// Salt's `_set_line_eol`: the content with `src`'s line ending.
fn with_eol(src: &str, line: &str) -> String {
    let ending = match eol(src) {
        "" => "\n",
        e => e,
    };
    format!("{}{ending}", line.trim_end())
}

fn index_of(lines: &[String], line: &str) -> usize {
    lines.iter().position(|l| l == line).unwrap_or_default()
}

/// Python's `lines[i]` with a possibly negative index.
fn at(lines: &[String], i: isize) -> &str {
    let len = lines.len() as isize;
    let i = if i < 0 { i + len } else { i };
    usize::try_from(i)
        .ok()
        .and_then(|i| lines.get(i))
        .map_or("", String::as_str)
}

fn strip_eol(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// `file.line`'s edit: the new file's lines, or the error Salt raises.
pub fn edit_line(text: &str, e: &LineEdit<'_>) -> Result<Vec<String>, String> {
    let content = e.content;
    if e.mode != Mode::Delete && content.is_none() {
        return Err("Content can only be empty if mode is \"delete\"".into());
    }
    let matches = match e.matches.filter(|m| !m.is_empty()) {
        None if e.before.is_none() && e.after.is_none() => content,
        m => m,
    };
    let mut body: Vec<String> = split_lines(text).into_iter().map(str::to_string).collect();
    if body.last().is_some_and(|l| !eol(l).is_empty()) {
        body.push(String::new());
    }
    if text.is_empty() && matches!(e.mode, Mode::Delete | Mode::Replace) {
        tracing::warn!("Cannot find text to {:?}. File is empty.", e.mode);
        body.clear();
    }
    let mut body = set_line(body, content.unwrap_or_default(), matches, e)?;
    fix_line_endings(&mut body);
    Ok(body)
}

/// The line-ending pass of `file.line`: every line but the last gets one.
fn fix_line_endings(body: &mut Vec<String>) {
    for idx in 0..body.len() {
        if eol(&body[idx]).is_empty() && idx + 1 < body.len() {
            // Salt's `idx and idx - 1 or 1`: index 1 for the first two lines.
            let prev = if idx <= 1 { 1 } else { idx - 1 };
            let src = body[prev].clone();
            body[idx] = with_eol(&src, &body[idx]);
        }
    }
    if body.last().is_some_and(String::is_empty) {
        body.pop();
    }
}

/// Salt's `_set_line`.
fn set_line(
    mut lines: Vec<String>,
    content: &str,
    matches: Option<&str>,
    e: &LineEdit<'_>,
) -> Result<Vec<String>, String> {
    let after = matching_lines(&lines, e.after)?;
    let before = matching_lines(&lines, e.before)?;
    let found = matching_lines(&lines, matches)?;
    let first = |v: &Option<Vec<String>>| v.as_ref().and_then(|v| v.first().cloned());
    if lines.is_empty() && matches!(e.mode, Mode::Delete | Mode::Replace) {
        return Ok(lines);
    }
    match e.mode {
        Mode::Delete => {
            if let Some(target) = first(&found) {
                lines.retain(|l| *l != target);
            }
        }
        Mode::Replace => {
            if let Some(target) = first(&found) {
                let idx = index_of(&lines, &target);
                let original = lines.remove(idx);
                lines.insert(idx, indented(&original, content, e.indent));
            }
        }
        Mode::Insert => insert_line(&mut lines, content, e, before, after)?,
        Mode::Ensure => ensure_line(&mut lines, content, e, before, after)?,
    }
    Ok(lines)
}

fn insert_line(
    lines: &mut Vec<String>,
    content: &str,
    e: &LineEdit<'_>,
    before: Option<Vec<String>>,
    after: Option<Vec<String>>,
) -> Result<(), String> {
    if before.is_none() && after.is_none() && e.location.is_none() {
        return Err(
            "On insert either \"location\" or \"before/after\" conditions are required.".into(),
        );
    }
    if let Some(location) = e.location.filter(|l| !l.is_empty()) {
        match location {
            "end" => match lines.last() {
                Some(last) => {
                    let line = indented(last, content, e.indent);
                    lines.push(line);
                }
                None => lines.push(content.to_string()),
            },
            "start" => match lines.first() {
                Some(first) => {
                    let line = with_eol(first, content);
                    lines.insert(0, line);
                }
                None => *lines = vec![format!("{content}\n")],
            },
            _ => {}
        }
        return Ok(());
    }
    let before = before.filter(|b| !b.is_empty());
    let after = after.filter(|a| !a.is_empty());
    match (before, after) {
        (Some(before), Some(after)) => {
            assert_one(&before, "before")?;
            assert_one(&after, "after")?;
            let last = index_of(lines, &before[0]);
            let line = indented(&lines[last], content, e.indent);
            lines.insert(last, line);
        }
        (None, Some(after)) => {
            assert_one(&after, "after")?;
            let idx = index_of(lines, &after[0]);
            let next = lines.get(idx + 1);
            if next.is_none_or(|n| strip_eol(n) != strip_eol(content)) {
                let line = indented(&lines[idx], content, e.indent);
                lines.insert(idx + 1, line);
            }
        }
        (Some(before), None) => {
            assert_one(&before, "before")?;
            let idx = index_of(lines, &before[0]);
            if strip_eol(at(lines, idx as isize - 1)) != strip_eol(content) {
                let line = indented(&lines[idx], content, e.indent);
                lines.insert(idx, line);
            }
        }
        (None, None) => return Err("Neither before or after was found in file".into()),
    }
    Ok(())
}

fn ensure_line(
    lines: &mut Vec<String>,
    content: &str,
    e: &LineEdit<'_>,
    before: Option<Vec<String>>,
    after: Option<Vec<String>>,
) -> Result<(), String> {
    let before = before.filter(|b| !b.is_empty());
    let after = after.filter(|a| !a.is_empty());
    match (before, after) {
        (Some(before), Some(after)) => {
            assert_one(&after, "after")?;
            assert_one(&before, "before")?;
            let after_index = index_of(lines, &after[0]);
            let before_index = index_of(lines, &before[0]);
            let already_there = lines.iter().any(|l| l.trim_start() == content);
            if already_there {
                return Ok(());
            }
            let line = indented(&lines[after_index], content, e.indent);
            if after_index + 1 == before_index {
                lines.insert(after_index + 1, line);
            } else if after_index + 2 == before_index {
                lines[after_index + 1] = line;
            } else {
                return Err(
                    "Found more than one line between boundaries \"before\" and \"after\".".into(),
                );
            }
        }
        (Some(before), None) => {
            assert_one(&before, "before")?;
            let idx = index_of(lines, &before[0]);
            let prev = at(lines, idx as isize - 1).to_string();
            if idx == 0 || strip_eol(&prev) != strip_eol(content) {
                lines.insert(idx, indented(&prev, content, e.indent));
            }
        }
        (None, Some(after)) => {
            assert_one(&after, "after")?;
            let idx = index_of(lines, &after[0]);
            let next = lines.get(idx + 1);
            if next.is_none_or(|n| strip_eol(n) != strip_eol(content)) {
                let line = indented(&lines[idx], content, e.indent);
                lines.insert(idx + 1, line);
            }
        }
        (None, None) => {
            return Err(
                "Wrong conditions? Unable to ensure line without knowing where to put it before and/or after."
                    .into(),
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// blockreplace

/// The arguments of `file.blockreplace`.
#[derive(Debug, Clone)]
pub struct Block<'a> {
    pub marker_start: &'a str,
    pub marker_end: &'a str,
    pub content: &'a str,
    pub append_if_not_found: bool,
    pub prepend_if_not_found: bool,
    /// `None`: add a newline only if the content lacks one.
    pub append_newline: Option<bool>,
    pub insert_before_match: Option<&'a str>,
    pub insert_after_match: Option<&'a str>,
}

impl Block<'_> {
    /// Salt's `_add_content`: (the start marker,) the content lines and the
    /// end line, all with `linesep`.
    fn lines(&self, linesep: &str, include_start: bool, end_line: Option<&str>) -> Vec<String> {
        let end = format!(
            "{}{linesep}",
            strip_eol(end_line.unwrap_or(self.marker_end))
        );
        let append_newline = self.append_newline.unwrap_or(!self.content.ends_with('\n'));
        let content: Vec<&str> = self
            .content
            .split("\r\n")
            .flat_map(|l| l.split('\n'))
            .collect();
        let mut out = Vec::new();
        if include_start {
            out.push(format!("{}{linesep}", self.marker_start));
        }
        for (i, line) in content.iter().enumerate() {
            if i + 1 != content.len() {
                out.push(format!("{line}{linesep}"));
            } else if append_newline {
                out.push(format!("{line}{linesep}"));
                out.push(end.clone());
            } else {
                out.push(format!("{line}{end}"));
            }
        }
        out
    }
}

/// `file.blockreplace`'s edit: the new text and the diff ("" if unchanged).
pub fn block_replace(text: &str, b: &Block<'_>) -> Result<(String, String), String> {
    let exclusive = [
        b.append_if_not_found,
        b.prepend_if_not_found,
        b.insert_before_match.is_some_and(|m| !m.is_empty()),
        b.insert_after_match.is_some_and(|m| !m.is_empty()),
    ];
    if exclusive.iter().filter(|x| **x).count() > 1 {
        return Err("Only one of append_if_not_found, prepend_if_not_found, insert_before_match, and insert_after_match is permitted".into());
    }
    let orig: Vec<String> = split_lines(text).into_iter().map(str::to_string).collect();
    let linesep = orig
        .first()
        .map(|l| match eol(l) {
            "\r\n" => "\r\n",
            _ => "\n",
        })
        .unwrap_or("\n");
    let mut new: Vec<String> = Vec::new();
    let (mut in_block, mut found) = (false, false);
    for line in &orig {
        if line.contains(b.marker_start) {
            in_block = true;
        } else if in_block {
            if let Some(pos) = line.find(b.marker_end) {
                in_block = false;
                found = true;
                new.extend(b.lines(linesep, false, Some(&line[pos..])));
            }
            continue;
        }
        new.push(line.clone());
    }
    if in_block {
        return Err("Unterminated marked block. End of file reached before marker_end.".into());
    }
    if !found {
        place_missing_block(&orig, &mut new, b, linesep)?;
    }
    let diff = unified_diff(&orig, &new);
    Ok((new.concat(), diff))
}

/// Markers not found: prepend, append or insert by match, or fail.
fn place_missing_block(
    orig: &[String],
    new: &mut Vec<String>,
    b: &Block<'_>,
    linesep: &str,
) -> Result<(), String> {
    let missing = || "Cannot edit marked block. Markers were not found in file.".to_string();
    if b.prepend_if_not_found {
        let mut lines = b.lines(linesep, true, None);
        lines.append(new);
        *new = lines;
    } else if b.append_if_not_found {
        if let Some(last) = new.last_mut().filter(|l| !l.ends_with(linesep)) {
            last.push_str(linesep);
        }
        new.extend(b.lines(linesep, true, None));
    } else if let Some(expr) = b
        .insert_before_match
        .filter(|m| !m.is_empty())
        .or(b.insert_after_match.filter(|m| !m.is_empty()))
    {
        let regex = pyre::compile(expr, 0)
            .map_err(|e| format!("Invalid regular expression '{expr}': {e}"))?;
        let Some(mut idx) = orig.iter().position(|l| regex.is_match(l.as_bytes())) else {
            return Err(missing());
        };
        let after = b.insert_before_match.is_none_or(str::is_empty);
        for line in b.lines(linesep, true, None) {
            if after {
                idx += 1;
            }
            new.insert(idx, line);
            if !after {
                idx += 1;
            }
        }
    } else {
        return Err(missing());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// comment_line

/// `file.comment_line`'s edit: `None` when no line matches, else the new
/// text and the diff of the changed lines only (as Salt returns it).
pub fn comment_line(
    text: &str,
    regex: &str,
    ch: &str,
    comment: bool,
) -> Result<Option<(String, String)>, String> {
    let inner = regex.trim_start_matches('^').trim_end_matches('$');
    let tail = if regex.ends_with('$') { "$" } else { "" };
    let full = if comment {
        let head = if regex.starts_with('^') { "^" } else { "" };
        format!("{head}({inner}){tail}")
    } else {
        format!("^{ch}\\s*({inner}){tail}")
    };
    // `re.match`: anchored at the start of the line.
    let anchored = pyre::compile(&format!("\\A(?:{full})"), 0)
        .map_err(|e| format!("Invalid regular expression '{full}': {e}"))?;
    let hit = |l: &str| {
        anchored.is_match(l.as_bytes())
            || l.strip_suffix('\n')
                .is_some_and(|s| anchored.is_match(s.as_bytes()))
    };
    let (mut orig, mut changed, mut out) = (Vec::new(), Vec::new(), String::new());
    for line in split_lines(text) {
        if !hit(line) {
            out.push_str(line);
            continue;
        }
        let new = if comment {
            format!("{ch}{line}")
        } else {
            line.trim_start_matches(|c| ch.contains(c)).to_string()
        };
        orig.push(line.to_string());
        out.push_str(&new);
        changed.push(new);
    }
    if orig.is_empty() {
        return Ok(None);
    }
    let diff = unified_diff(&orig, &changed);
    Ok(Some((out, diff)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_edit<'a>(mode: Mode, content: Option<&'a str>) -> LineEdit<'a> {
        LineEdit {
            content,
            matches: None,
            mode,
            location: None,
            before: None,
            after: None,
            indent: true,
        }
    }

    #[test]
    fn lines_keep_their_endings() {
        assert_eq!(split_lines("a\nb\r\nc\rd"), ["a\n", "b\r\n", "c\r", "d"]);
        assert_eq!(split_lines(""), Vec::<&str>::new());
    }

    #[test]
    fn replace_counts_and_reports_a_diff() {
        let r = Replace {
            pattern: "^port = (\\d+)$",
            repl: "port = 8080",
            flags: pyre::MULTILINE,
            ..Default::default()
        };
        let out = replace(b"name = x\nport = 80\n", &r).expect("replace");
        assert!(out.has_changes);
        assert_eq!(out.content, b"name = x\nport = 8080\n");
        assert_eq!(
            out.diff,
            "--- \n+++ \n@@ -1,2 +1,2 @@\n name = x\n-port = 80\n+port = 8080\n"
        );
        // Already replaced: a match, but no change.
        let again = replace(&out.content, &r).expect("replace");
        assert!(!again.has_changes);
        assert_eq!(again.diff, "");
    }

    #[test]
    fn replace_appends_once_when_not_found() {
        let r = Replace {
            pattern: "^colour = .*$",
            repl: "colour = blue",
            flags: pyre::MULTILINE,
            append_if_not_found: true,
            ..Default::default()
        };
        let out = replace(b"a = 1", &r).expect("replace");
        assert_eq!(out.content, b"a = 1\ncolour = blue\n");
        assert!(out.has_changes);
        let again = replace(&out.content, &r).expect("replace");
        assert!(!again.has_changes);
        let pre = Replace {
            prepend_if_not_found: true,
            append_if_not_found: false,
            not_found_content: Some("# managed"),
            ..r
        };
        assert_eq!(
            replace(b"a = 1\n", &pre).expect("replace").content,
            b"# managed\na = 1\n"
        );
    }

    #[test]
    fn line_modes_follow_salt() {
        let text = "[conf]\nhere=False\naway=True\n";
        let mut del = line_edit(Mode::Delete, None);
        del.matches = Some("away");
        assert_eq!(
            edit_line(text, &del).expect("delete").concat(),
            "[conf]\nhere=False\n"
        );

        let mut rep = line_edit(Mode::Replace, Some("here=True"));
        rep.matches = Some("here=");
        assert_eq!(
            edit_line(text, &rep).expect("replace").concat(),
            "[conf]\nhere=True\naway=True\n"
        );

        let mut ensure = line_edit(Mode::Ensure, Some("new=1"));
        ensure.after = Some("^here");
        let once = edit_line(text, &ensure).expect("ensure").concat();
        assert_eq!(once, "[conf]\nhere=False\nnew=1\naway=True\n");
        assert_eq!(
            edit_line(&once, &ensure).expect("ensure again").concat(),
            once
        );

        let mut insert = line_edit(Mode::Insert, Some("first"));
        insert.location = Some("start");
        assert_eq!(
            edit_line(text, &insert).expect("start").concat(),
            format!("first\n{text}")
        );

        let mut twice = line_edit(Mode::Insert, Some("x"));
        twice.before = Some("=");
        assert_eq!(
            edit_line(text, &twice),
            Err("Found more than expected occurrences in \"before\" expression".into())
        );
        assert!(Mode::parse(Some("bogus")).is_err());
        assert_eq!(Mode::parse(Some("ENSURE")), Ok(Mode::Ensure));
    }

    #[test]
    fn line_keeps_indentation_of_the_anchor() {
        let text = "server {\n    listen 80;\n}\n";
        let mut e = line_edit(Mode::Ensure, Some("server_name x;"));
        e.after = Some("listen");
        assert_eq!(
            edit_line(text, &e).expect("ensure").concat(),
            "server {\n    listen 80;\n    server_name x;\n}\n"
        );
    }

    #[test]
    fn blockreplace_replaces_between_markers() {
        let b = Block {
            marker_start: "# START",
            marker_end: "# END",
            content: "new line",
            append_if_not_found: false,
            prepend_if_not_found: false,
            append_newline: None,
            insert_before_match: None,
            insert_after_match: None,
        };
        let text = "top\n# START\nold\n# END\nbottom\n";
        let (new, diff) = block_replace(text, &b).expect("block");
        assert_eq!(new, "top\n# START\nnew line\n# END\nbottom\n");
        assert_eq!(
            diff,
            "--- \n+++ \n@@ -1,5 +1,5 @@\n top\n # START\n-old\n+new line\n # END\n bottom\n"
        );
        let (same, diff) = block_replace(&new, &b).expect("block");
        assert_eq!((same.as_str(), diff.as_str()), (new.as_str(), ""));
        assert_eq!(
            block_replace("x\n", &b),
            Err("Cannot edit marked block. Markers were not found in file.".into())
        );
        let append = Block {
            append_if_not_found: true,
            ..b.clone()
        };
        assert_eq!(
            block_replace("x", &append).expect("append").0,
            "x\n# START\nnew line\n# END\n"
        );
        let after = Block {
            insert_after_match: Some("^x"),
            ..b.clone()
        };
        assert_eq!(
            block_replace("x\ny\n", &after).expect("after").0,
            "x\n# START\nnew line\n# END\ny\n"
        );
        assert!(block_replace("# START\nno end\n", &b).is_err());
    }

    #[test]
    fn comment_and_uncomment() {
        let text = "pcspkr\nother\n";
        let (commented, diff) = comment_line(text, "pcspkr", "#", true)
            .expect("ok")
            .expect("found");
        assert_eq!(commented, "#pcspkr\nother\n");
        assert_eq!(diff, "--- \n+++ \n@@ -1 +1 @@\n-pcspkr\n+#pcspkr\n");
        let (back, _) = comment_line(&commented, "pcspkr", "#", false)
            .expect("ok")
            .expect("found");
        assert_eq!(back, text);
        assert_eq!(comment_line(text, "^nothing$", "#", true), Ok(None));
    }

    #[test]
    fn line_endings_of_inserted_lines_follow_salts_index_quirk() {
        // Salt takes the ending from line 1 for the first two lines, so a
        // line inserted at index 1 of a CRLF file ends with its own default.
        let mut e = line_edit(Mode::Insert, Some("new=1"));
        e.before = Some("a=");
        assert_eq!(
            edit_line("[sec]\r\na=1\n", &e).expect("insert"),
            ["[sec]\r\n", "new=1\n", "a=1\n"]
        );
    }
}
