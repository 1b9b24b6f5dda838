//! Salt's `highstate` outputter (`salt/output/highstate.py`): one block per
//! state in `__run_num__` order (ID, Function, Name when it differs from the
//! ID, Result, Comment, Started, Duration, Changes as `nested` at column 14),
//! then the Summary. `state_verbose: False` hides successful states without
//! changes; `state_output` `terse` prints one line per state, `mixed` one line
//! unless it failed, `changes` one line unless it failed or changed. A list
//! return is Salt's "Data failed to compile" block; a string is printed as is.

use serde_json::{Map, Value};

use brine_common::output::python;

/// Salt's colour codes (`salt/utils/color.py`).
struct Colors {
    green: &'static str,
    cyan: &'static str,
    red: &'static str,
    light_red: &'static str,
    light_yellow: &'static str,
    endc: &'static str,
}

const COLORS: Colors = Colors {
    green: "\x1b[0;32m",
    cyan: "\x1b[0;36m",
    red: "\x1b[0;31m",
    light_red: "\x1b[0;1;31m",
    light_yellow: "\x1b[0;1;33m",
    endc: "\x1b[0;0m",
};

const PLAIN: Colors = Colors {
    green: "",
    cyan: "",
    red: "",
    light_red: "",
    light_yellow: "",
    endc: "",
};

/// The options that shape the output (Salt's `state_verbose`, `state_output`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct HighstateOptions {
    pub color: bool,
    /// Show successful states without changes (default true).
    pub state_verbose: bool,
    /// `full` (default), `terse`, `mixed` or `changes`.
    pub state_output: String,
    /// Print Started/Duration and the total run time (default true).
    pub state_output_profile: bool,
}

impl Default for HighstateOptions {
    fn default() -> Self {
        HighstateOptions {
            color: false,
            state_verbose: true,
            state_output: "full".into(),
            state_output_profile: true,
        }
    }
}

/// Render every minion's return (`{minion: ret}`), as the CLI prints it.
pub fn render_highstate_all(returns: &Map<String, Value>, opts: &HighstateOptions) -> String {
    let blocks: Vec<String> = returns
        .iter()
        .map(|(id, ret)| format_host(id, ret, opts))
        .collect();
    finish(&blocks.join("\n"))
}

/// Render one minion's state return, ending in a newline.
pub fn render_highstate(minion_id: &str, ret: &Value, opts: &HighstateOptions) -> String {
    finish(&format_host(minion_id, ret, opts))
}

fn finish(text: &str) -> String {
    let trimmed = text.trim_end();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

/// Salt's `_format_host`.
fn format_host(host: &str, data: &Value, opts: &HighstateOptions) -> String {
    let c = if opts.color { &COLORS } else { &PLAIN };
    let mut hcolor = c.green;
    let mut lines: Vec<String> = Vec::new();
    match data {
        Value::Array(errors) => {
            hcolor = c.light_red;
            lines.push(format!("    {hcolor}Data failed to compile:{}", c.endc));
            for err in errors {
                lines.push(format!(
                    "{hcolor}----------\n    {}{}",
                    python::to_str(err),
                    c.endc
                ));
            }
        }
        Value::Object(states) => {
            hcolor = format_states(states, host, opts, c, &mut lines);
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {
            lines.push(format!("{hcolor}    {}{}", python::to_str(data), c.endc));
            hcolor = c.cyan;
        }
        Value::String(s) => {
            for line in python::splitlines(s) {
                lines.push(format!("{hcolor}    {line}{}", c.endc));
            }
            hcolor = c.cyan;
        }
    }
    lines.insert(0, format!("{hcolor}{host}:{}", c.endc));
    lines.join("\n")
}

/// The per-state blocks and the summary; returns the host line's colour.
fn format_states(
    states: &Map<String, Value>,
    host: &str,
    opts: &HighstateOptions,
    c: &Colors,
    lines: &mut Vec<String>,
) -> &'static str {
    let mut hcolor = c.green;
    let mut ordered: Vec<(&String, &Map<String, Value>)> = states
        .iter()
        .filter_map(|(tag, v)| {
            v.as_object()
                .filter(|o| o.contains_key("result"))
                .map(|o| (tag, o))
        })
        .collect();
    ordered.sort_by_key(|(_, r)| r.get("__run_num__").and_then(Value::as_u64).unwrap_or(0));
    let mut counts = Counts::default();
    for (tag, ret) in ordered {
        let result = ret.get("result").and_then(Value::as_bool);
        counts.add(result);
        let duration = ret.get("duration").and_then(Value::as_f64);
        counts.durations += duration.unwrap_or(0.0);
        let changes = ret.get("changes").unwrap_or(&Value::Null);
        let (changed, ctext) = format_changes(changes, opts.color);
        if changed {
            counts.changed += 1;
        }
        if !opts.state_verbose && result == Some(true) && !changed {
            continue;
        }
        let mut tcolor = if changed { c.cyan } else { c.green };
        match result {
            Some(false) => {
                hcolor = c.red;
                tcolor = c.red;
            }
            None => {
                hcolor = c.light_yellow;
                tcolor = c.light_yellow;
            }
            Some(true) => {}
        }
        let comps: Vec<&str> = tag.split("_|-").collect();
        let terse = match opts.state_output.to_lowercase().as_str() {
            "terse" => true,
            "mixed" => result != Some(false),
            "changes" => result == Some(true) && !changed,
            _ => false,
        };
        if terse {
            lines.push(format_terse(tcolor, &comps, ret, result, opts, c));
        } else {
            lines.extend(format_full(tcolor, &comps, ret, &ctext, opts, c));
        }
    }
    lines.push(counts.summary(host, opts, c));
    hcolor
}

fn comp<'a>(comps: &[&'a str], i: usize) -> &'a str {
    comps.get(i).copied().unwrap_or("")
}

fn result_text(result: Option<bool>) -> &'static str {
    match result {
        Some(true) => "True",
        Some(false) => "False",
        None => "None",
    }
}

fn duration_text(ret: &Map<String, Value>) -> String {
    match ret.get("duration") {
        Some(Value::Number(n)) => format!("{} ms", python::number_repr(n)),
        Some(Value::String(s)) if !s.is_empty() => format!("{s} ms"),
        _ => String::new(),
    }
}

fn start_text(ret: &Map<String, Value>) -> String {
    ret.get("start_time")
        .map(python::to_str)
        .unwrap_or_default()
}

/// The full block of one state.
fn format_full(
    tcolor: &str,
    comps: &[&str],
    ret: &Map<String, Value>,
    ctext: &str,
    opts: &HighstateOptions,
    c: &Colors,
) -> Vec<String> {
    let e = c.endc;
    let comment = match ret.get("comment") {
        Some(Value::String(s)) => s.trim().replace('\n', &format!("\n{}", " ".repeat(14))),
        Some(other) => python::to_str(other),
        None => String::new(),
    };
    let result = result_text(ret.get("result").and_then(Value::as_bool));
    let mut out = vec![
        format!("{tcolor}----------{e}"),
        format!("    {tcolor}      ID: {}{e}", comp(comps, 1)),
        format!(
            "    {tcolor}Function: {}.{}{e}",
            comp(comps, 0),
            comp(comps, 3)
        ),
    ];
    if comp(comps, 1) != comp(comps, 2) {
        out.push(format!("    {tcolor}    Name: {}{e}", comp(comps, 2)));
    }
    out.push(format!("    {tcolor}  Result: {result}{e}"));
    out.push(format!("    {tcolor} Comment: {comment}{e}"));
    if opts.state_output_profile {
        out.push(format!("    {tcolor} Started: {}{e}", start_text(ret)));
        out.push(format!("    {tcolor}Duration: {}{e}", duration_text(ret)));
    }
    out.push(format!("{tcolor}     Changes:   {ctext}{e}"));
    out
}

/// Salt's one-line form.
fn format_terse(
    tcolor: &str,
    comps: &[&str],
    ret: &Map<String, Value>,
    result: Option<bool>,
    opts: &HighstateOptions,
    c: &Colors,
) -> String {
    let changed = ret.get("changes").is_some_and(|v| !is_empty(v));
    let word = match result {
        Some(false) => "Failed",
        None => "Differs",
        Some(true) if changed => "Changed",
        Some(true) => "Clean",
    };
    let mut line = format!(
        " {tcolor} Name: {} - Function: {}.{} - Result: {word}",
        comp(comps, 2),
        comp(comps, 0),
        comps.last().copied().unwrap_or("")
    );
    if opts.state_output_profile {
        line.push_str(&format!(
            " Started: - {} Duration: {}",
            start_text(ret),
            duration_text(ret)
        ));
    }
    line.push_str(c.endc);
    line
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(_) => false,
    }
}

/// Salt's `_format_changes`: whether anything changed, and the text after `Changes:`.
fn format_changes(changes: &Value, color: bool) -> (bool, String) {
    if is_empty(changes) {
        return (false, String::new());
    }
    if !changes.is_object() {
        return (
            true,
            format!("Invalid Changes data: {}", python::to_str(changes)),
        );
    }
    (
        true,
        format!(
            "\n{}",
            brine_common::output::render_nested(changes, 14, color)
        ),
    )
}

/// The result counts behind the Summary.
#[derive(Default)]
struct Counts {
    succeeded: usize,
    failed: usize,
    not_run: usize,
    changed: usize,
    durations: f64,
}

impl Counts {
    fn add(&mut self, result: Option<bool>) {
        match result {
            Some(true) => self.succeeded += 1,
            Some(false) => self.failed += 1,
            None => self.not_run += 1,
        }
    }

    fn summary(&self, host: &str, opts: &HighstateOptions, c: &Colors) -> String {
        let e = c.endc;
        let present: Vec<usize> = [
            (self.succeeded, self.succeeded > 0),
            (self.failed, self.failed > 0),
            (self.not_run, self.not_run > 0),
        ]
        .iter()
        .filter(|(_, p)| *p)
        .map(|(n, _)| *n)
        .collect();
        let count_len = present
            .iter()
            .map(|n| n.to_string().len())
            .max()
            .unwrap_or(0);
        let width = "Succeeded".len() + count_len + 2;
        let counts =
            |label: &str, n: usize| format!("{label}: {n:>w$}", w = width - (label.len() + 2));
        let mut out = vec![format!(
            "{}\nSummary for {host}\n{}{e}",
            c.cyan,
            "-".repeat(width)
        )];
        let mut stats = Vec::new();
        if self.not_run > 0 {
            stats.push(format!("{}unchanged={}{e}", c.light_yellow, self.not_run));
        }
        if self.changed > 0 {
            stats.push(format!("{}changed={}{e}", c.green, self.changed));
        }
        let stats = if stats.is_empty() {
            String::new()
        } else {
            format!(" ({})", stats.join(", "))
        };
        out.push(format!(
            "{}{}{e}{stats}",
            c.green,
            counts("Succeeded", self.succeeded + self.not_run)
        ));
        let fcolor = if self.failed > 0 { c.red } else { c.cyan };
        out.push(format!("{fcolor}{}{e}", counts("Failed", self.failed)));
        let total = self.succeeded + self.failed + self.not_run;
        out.push(format!(
            "{}{}\nTotal states run: {total:>w$}{e}",
            c.cyan,
            "-".repeat(width),
            w = width - 7
        ));
        if opts.state_output_profile {
            let (value, unit) = if self.durations > 999.0 {
                (self.durations / 1000.0, "s")
            } else {
                (self.durations, "ms")
            };
            out.push(format!(
                "{}Total run time: {:>w$} {unit}{e}",
                c.cyan,
                format!("{value:.3}"),
                w = width - 5
            ));
        }
        out.join("\n")
    }
}

#[cfg(test)]
mod tests;
