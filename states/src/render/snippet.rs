//! The lines around an error, printed as Salt's `get_context` prints them:
//! a `---` block, `[...]` where lines were left out, and the failing line
//! marked with `    <======================`.

/// How many lines to show on each side of the failing line.
const NEIGHBOURS: usize = 3;

const MARKER: &str = "    <======================";

/// The lines of `text` around 1-based `line`, or `None` when `line` is not in
/// the text.
pub(crate) fn context(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if line == 0 || line > lines.len() {
        return None;
    }
    let start = line.saturating_sub(NEIGHBOURS + 1);
    let end = (line + NEIGHBOURS).min(lines.len());
    let mut out = vec!["---".to_owned()];
    if start > 0 {
        out.push("[...]".to_owned());
    }
    for (index, text) in lines.iter().enumerate().take(end).skip(start) {
        if index + 1 == line {
            out.push(format!("{text}{MARKER}"));
        } else {
            out.push((*text).to_owned());
        }
    }
    if end < lines.len() {
        out.push("[...]".to_owned());
    }
    out.push("---".to_owned());
    Some(out.join("\n"))
}

/// `message; line N of FILE`, followed by the context block when the line is known.
pub(crate) fn describe(
    message: &str,
    file: &str,
    line: Option<usize>,
    text: Option<&str>,
) -> String {
    match line {
        Some(line) => {
            let mut out = format!("{message}; line {line} of {file}");
            if let Some(block) = text.and_then(|t| context(t, line)) {
                out.push_str("\n\n");
                out.push_str(&block);
            }
            out
        }
        None => format!("{message} (in {file})"),
    }
}
