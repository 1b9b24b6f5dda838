//! Unified diffs exactly as Python's `difflib.unified_diff` writes them, which
//! is what Salt's `stringutils.get_diff` returns from `file.replace`,
//! `file.line`, `file.blockreplace` and `file.comment`.
//!
//! The matching is difflib's `SequenceMatcher` (longest matching blocks,
//! with its "popular element" heuristic for sequences of 200 lines or more),
//! so hunks come out where Salt puts them, not where another diff algorithm
//! would. Lines keep their line endings; a last line without one is printed
//! without one, as difflib does.

use std::collections::HashMap;

/// One stretch of a [`opcodes`] edit script: `a[i1..i2]` becomes `b[j1..j2]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op {
    tag: Tag,
    i1: usize,
    i2: usize,
    j1: usize,
    j2: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Equal,
    Replace,
    Delete,
    Insert,
}

/// `SequenceMatcher(None, a, b)` over lines.
struct Matcher<'a> {
    a: &'a [&'a str],
    b: &'a [&'a str],
    /// Where each (non-popular) line of `b` occurs.
    b2j: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Matcher<'a> {
    fn new(a: &'a [&'a str], b: &'a [&'a str]) -> Self {
        let mut b2j: HashMap<&str, Vec<usize>> = HashMap::new();
        for (j, line) in b.iter().enumerate() {
            b2j.entry(line).or_default().push(j);
        }
        // difflib's autojunk: in long sequences, lines that occur in more
        // than 1% of them are not used to seed matches.
        if b.len() >= 200 {
            let limit = b.len() / 100 + 1;
            b2j.retain(|_, idxs| idxs.len() <= limit);
        }
        Matcher { a, b, b2j }
    }

    /// `find_longest_match(alo, ahi, blo, bhi)`.
    fn longest_match(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
    ) -> (usize, usize, usize) {
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0);
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for i in alo..ahi {
            let mut new_j2len = HashMap::new();
            if let Some(js) = self.b2j.get(self.a[i]) {
                for &j in js {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    let k = j
                        .checked_sub(1)
                        .and_then(|p| j2len.get(&p))
                        .copied()
                        .unwrap_or(0)
                        + 1;
                    new_j2len.insert(j, k);
                    if k > bestsize {
                        (besti, bestj, bestsize) = (i + 1 - k, j + 1 - k, k);
                    }
                }
            }
            j2len = new_j2len;
        }
        // Extend over equal lines the seeding skipped (popular ones).
        while besti > alo && bestj > blo && self.a[besti - 1] == self.b[bestj - 1] {
            (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1);
        }
        while besti + bestsize < ahi
            && bestj + bestsize < bhi
            && self.a[besti + bestsize] == self.b[bestj + bestsize]
        {
            bestsize += 1;
        }
        (besti, bestj, bestsize)
    }

    /// `get_matching_blocks()`, adjacent blocks merged, with the sentinel.
    fn matching_blocks(&self) -> Vec<(usize, usize, usize)> {
        let (la, lb) = (self.a.len(), self.b.len());
        let mut queue = vec![(0, la, 0, lb)];
        let mut blocks = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let (i, j, k) = self.longest_match(alo, ahi, blo, bhi);
            if k > 0 {
                blocks.push((i, j, k));
                if alo < i && blo < j {
                    queue.push((alo, i, blo, j));
                }
                if i + k < ahi && j + k < bhi {
                    queue.push((i + k, ahi, j + k, bhi));
                }
            }
        }
        blocks.sort_unstable();
        let mut merged: Vec<(usize, usize, usize)> = Vec::new();
        let (mut i1, mut j1, mut k1) = (0, 0, 0);
        for (i2, j2, k2) in blocks {
            if i1 + k1 == i2 && j1 + k1 == j2 {
                k1 += k2;
            } else {
                if k1 > 0 {
                    merged.push((i1, j1, k1));
                }
                (i1, j1, k1) = (i2, j2, k2);
            }
        }
        if k1 > 0 {
            merged.push((i1, j1, k1));
        }
        merged.push((la, lb, 0));
        merged
    }

    /// `get_opcodes()`.
    fn opcodes(&self) -> Vec<Op> {
        let (mut i, mut j) = (0, 0);
        let mut ops = Vec::new();
        for (ai, bj, size) in self.matching_blocks() {
            let tag = match (i < ai, j < bj) {
                (true, true) => Some(Tag::Replace),
                (true, false) => Some(Tag::Delete),
                (false, true) => Some(Tag::Insert),
                (false, false) => None,
            };
            if let Some(tag) = tag {
                ops.push(Op {
                    tag,
                    i1: i,
                    i2: ai,
                    j1: j,
                    j2: bj,
                });
            }
            (i, j) = (ai + size, bj + size);
            if size > 0 {
                ops.push(Op {
                    tag: Tag::Equal,
                    i1: ai,
                    i2: i,
                    j1: bj,
                    j2: j,
                });
            }
        }
        ops
    }

    /// `get_grouped_opcodes(n)`: hunks with `n` lines of context.
    fn grouped(&self, n: usize) -> Vec<Vec<Op>> {
        let mut codes = self.opcodes();
        if codes.is_empty() {
            codes.push(Op {
                tag: Tag::Equal,
                i1: 0,
                i2: 1,
                j1: 0,
                j2: 1,
            });
        }
        if let Some(first) = codes.first_mut().filter(|c| c.tag == Tag::Equal) {
            first.i1 = first.i1.max(first.i2.saturating_sub(n));
            first.j1 = first.j1.max(first.j2.saturating_sub(n));
        }
        if let Some(last) = codes.last_mut().filter(|c| c.tag == Tag::Equal) {
            last.i2 = last.i2.min(last.i1 + n);
            last.j2 = last.j2.min(last.j1 + n);
        }
        let mut groups = Vec::new();
        let mut group = Vec::new();
        for mut op in codes {
            if op.tag == Tag::Equal && op.i2 - op.i1 > 2 * n {
                group.push(Op {
                    i2: op.i2.min(op.i1 + n),
                    j2: op.j2.min(op.j1 + n),
                    ..op
                });
                groups.push(std::mem::take(&mut group));
                op.i1 = op.i1.max(op.i2.saturating_sub(n));
                op.j1 = op.j1.max(op.j2.saturating_sub(n));
            }
            group.push(op);
        }
        let only_equal = group.len() == 1 && group[0].tag == Tag::Equal;
        if !group.is_empty() && !only_equal {
            groups.push(group);
        }
        groups
    }
}

/// difflib's `_format_range_unified`.
fn range(start: usize, stop: usize) -> String {
    let length = stop - start;
    match length {
        1 => format!("{}", start + 1),
        0 => format!("{start},0"),
        _ => format!("{},{length}", start + 1),
    }
}

/// `"".join(difflib.unified_diff(a, b))`: empty when nothing differs.
pub fn unified_diff<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> String {
    unified_diff_lines(a, b).concat()
}

/// What `difflib.unified_diff(a, b)` yields, one item per output line: the
/// headers end in a newline, the other lines are the input lines with their
/// `' '`/`-`/`+` prefix. Salt's `file.append` joins them with newlines.
pub fn unified_diff_lines<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> Vec<String> {
    let a: Vec<&str> = a.iter().map(AsRef::as_ref).collect();
    let b: Vec<&str> = b.iter().map(AsRef::as_ref).collect();
    let matcher = Matcher::new(&a, &b);
    let mut out: Vec<String> = Vec::new();
    for group in matcher.grouped(3) {
        if out.is_empty() {
            out.push("--- \n".into());
            out.push("+++ \n".into());
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        out.push(format!(
            "@@ -{} +{} @@\n",
            range(first.i1, last.i2),
            range(first.j1, last.j2)
        ));
        for op in &group {
            let prefixed = |prefix: char, lines: &[&str]| -> Vec<String> {
                lines.iter().map(|line| format!("{prefix}{line}")).collect()
            };
            if op.tag == Tag::Equal {
                out.extend(prefixed(' ', &a[op.i1..op.i2]));
                continue;
            }
            if matches!(op.tag, Tag::Replace | Tag::Delete) {
                out.extend(prefixed('-', &a[op.i1..op.i2]));
            }
            if matches!(op.tag, Tag::Replace | Tag::Insert) {
                out.extend(prefixed('+', &b[op.j1..op.j2]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings produced by CPython 3.12's difflib.unified_diff.
    #[test]
    fn single_change_with_context() {
        let a = ["a\n", "b\n", "c\n", "d\n", "e\n", "f\n", "g\n", "h\n"];
        let b = ["a\n", "b\n", "c\n", "d\n", "E\n", "f\n", "g\n", "h\n"];
        assert_eq!(
            unified_diff(&a, &b),
            "--- \n+++ \n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
    }

    #[test]
    fn identical_and_empty() {
        assert_eq!(unified_diff(&["x\n"], &["x\n"]), "");
        assert_eq!(unified_diff::<&str, &str>(&[], &[]), "");
        assert_eq!(
            unified_diff::<&str, &str>(&[], &["new\n"]),
            "--- \n+++ \n@@ -0,0 +1 @@\n+new\n"
        );
        assert_eq!(
            unified_diff::<&str, &str>(&["old\n"], &[]),
            "--- \n+++ \n@@ -1 +0,0 @@\n-old\n"
        );
    }

    #[test]
    fn missing_final_newline_is_kept_as_difflib_does() {
        assert_eq!(
            unified_diff(&["foo"], &["bar"]),
            "--- \n+++ \n@@ -1 +1 @@\n-foo+bar"
        );
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let a: Vec<String> = (0..20).map(|i| format!("{i}\n")).collect();
        let mut b = a.clone();
        b[1] = "one\n".into();
        b[18] = "eighteen\n".into();
        assert_eq!(
            unified_diff(&a, &b),
            "--- \n+++ \n@@ -1,5 +1,5 @@\n 0\n-1\n+one\n 2\n 3\n 4\n@@ -16,5 +16,5 @@\n 15\n 16\n 17\n-18\n+eighteen\n 19\n"
        );
    }

    #[test]
    fn insertions_in_the_middle() {
        let a = ["a\n", "b\n", "c\n"];
        let b = ["a\n", "x\n", "y\n", "b\n", "c\n"];
        assert_eq!(
            unified_diff(&a, &b),
            "--- \n+++ \n@@ -1,3 +1,5 @@\n a\n+x\n+y\n b\n c\n"
        );
    }

    #[test]
    fn lines_without_endings_joined_with_newlines_as_salts_append() {
        let a = ["alpha=1", "beta=2"];
        let b = ["alpha=1", "beta=2", "gamma=3"];
        assert_eq!(
            unified_diff_lines(&a, &b).join("\n"),
            "--- \n\n+++ \n\n@@ -1,2 +1,3 @@\n\n alpha=1\n beta=2\n+gamma=3"
        );
    }
}
