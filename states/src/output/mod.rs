//! Salt's `highstate` outputter, as Salt 3008.5's `salt/output/highstate.py`
//! prints (tests/conformance's `highstate-output*` cases compare the bytes):
//! one block per state in `__run_num__` order (ID, Function, Name when it
//! differs from the ID, Result, Comment, Started, Duration, Changes as
//! `nested` at column 14, warnings), then the Summary. `state_verbose: False`
//! and `state_output_diff` hide successful states without changes;
//! `state_output` `terse` prints one line per state, `mixed` one line unless
//! it failed, `changes` one line unless it failed or changed, `filter` drops
//! or shortens the results `state_output_exclude`/`state_output_terse` name,
//! and each with `_id` names terse lines by ID. A list return is Salt's
//! "Data failed to compile" block; a string is printed as is.

use serde_json::{Map, Value};

use brine_common::cli::OutputArgs;
use brine_common::config::StateOutputConfig;
use brine_common::output::python;

/// The functions whose return is a state run: the CLIs (`brine`,
/// `brine-call`, `brine-ssh`) print them with the `highstate` outputter.
pub const RUN_FUNCTIONS: &[&str] = &[
    "state.apply",
    "state.highstate",
    "state.sls",
    "state.sls_id",
    "state.single",
    "state.test",
];

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
    /// `full` (default), `terse`, `mixed`, `changes` or `filter`, each also
    /// with `_id`.
    pub state_output: String,
    /// Print Started/Duration and the total run time (default true).
    pub state_output_profile: bool,
    /// Hide successful states without changes, whatever `state_verbose` says.
    pub state_output_diff: bool,
    /// Success and failure percentages in the summary.
    pub state_output_pct: bool,
    /// `filter`: results (`True`, `False`, `None`) not printed.
    pub state_output_exclude: Vec<String>,
    /// `filter`: results printed as one terse line.
    pub state_output_terse: Vec<String>,
}

impl Default for HighstateOptions {
    fn default() -> Self {
        HighstateOptions::new(false, &StateOutputConfig::default(), &OutputArgs::default())
    }
}

impl HighstateOptions {
    /// The config's keys, with `--state-output` and `--state-verbose` over
    /// them; `color` is the CLI's decision (`OutputArgs::options`).
    pub fn new(color: bool, config: &StateOutputConfig, args: &OutputArgs) -> Self {
        HighstateOptions {
            color,
            state_verbose: args.state_verbose.unwrap_or(config.state_verbose),
            state_output: args
                .state_output
                .clone()
                .unwrap_or_else(|| config.state_output.clone()),
            state_output_profile: config.state_output_profile,
            state_output_diff: config.state_output_diff,
            state_output_pct: config.state_output_pct,
            state_output_exclude: config.state_output_exclude.clone(),
            state_output_terse: config.state_output_terse.clone(),
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
        // Python's `isinstance(data, int)`: booleans and integers print;
        // a float or None prints only the host line.
        Value::Bool(_) | Value::Number(_) if !data.is_f64() => {
            lines.push(format!("{hcolor}    {}{}", python::to_str(data), c.endc));
            hcolor = c.cyan;
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
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
    let mode = opts.state_output.to_lowercase();
    let mut counts = Counts::default();
    for (tag, ret) in ordered {
        let result = ret.get("result").and_then(Value::as_bool);
        counts.add(result, ret);
        let changes = ret.get("changes").unwrap_or(&Value::Null);
        let (changed, ctext) = format_changes(changes, opts.color);
        if changed {
            counts.changed += 1;
        }
        let quiet = result == Some(true) && !changed;
        if quiet && (opts.state_output_diff || !opts.state_verbose) {
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
        let mut comps: Vec<&str> = tag.split("_|-").collect();
        if mode.ends_with("_id") && comps.len() > 2 {
            // Terse lines name the state by its ID (Salt's #35137).
            comps[2] = comps[1];
        }
        let result_name = result_text(result);
        let terse = if mode.starts_with("filter") {
            if opts.state_output_terse.iter().any(|r| r == result_name) {
                true
            } else if opts.state_output_exclude.iter().any(|r| r == result_name) {
                continue;
            } else {
                false
            }
        } else {
            mode.starts_with("terse")
                || (mode.starts_with("mixed") && result != Some(false))
                || (mode.starts_with("changes") && quiet)
        };
        if terse {
            lines.push(format_terse(tcolor, &comps, ret, result, opts, c));
        } else {
            lines.extend(format_full(tcolor, &comps, ret, &ctext, opts, c));
            if let Some(warnings) = ret.get("warnings") {
                counts.warnings += 1;
                lines.push(format_warnings(warnings, c));
            }
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

/// `duration` as Salt prints it: `str()` of the value, then " ms".
fn duration_text(ret: &Map<String, Value>) -> String {
    match ret.get("duration") {
        None => String::new(),
        Some(Value::String(s)) if s.is_empty() => String::new(),
        Some(d) => format!("{} ms", python::to_str(d)),
    }
}

fn start_text(ret: &Map<String, Value>) -> String {
    ret.get("start_time")
        .map(python::to_str)
        .unwrap_or_default()
}

/// Whether the Started/Duration parts are printed for this state.
fn shows_profile(ret: &Map<String, Value>, opts: &HighstateOptions) -> bool {
    opts.state_output_profile && ret.contains_key("start_time")
}

/// The comment as Salt prints it: `str()` of it, stripped, continuation
/// lines indented to column 14, then what the result's `data` adds.
fn comment_text(ret: &Map<String, Value>) -> String {
    let raw = match ret.get("comment") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => python::to_str(other),
        None => String::new(),
    };
    let mut comment = raw.trim().replace('\n', &format!("\n{}", " ".repeat(14)));
    match ret.get("data") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                comment.push(' ');
                comment.push_str(&python::to_str(item));
            }
        }
        Some(Value::Object(map)) => {
            for (key, value) in map {
                comment.push_str(&format!("\n\t\t{key}: {}", python::to_str(value)));
            }
        }
        Some(other) => {
            comment.push(' ');
            comment.push_str(&python::to_str(other));
        }
    }
    comment
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
    out.push(format!("    {tcolor} Comment: {}{e}", comment_text(ret)));
    if shows_profile(ret, opts) {
        out.push(format!("    {tcolor} Started: {}{e}", start_text(ret)));
        out.push(format!("    {tcolor}Duration: {}{e}", duration_text(ret)));
    }
    out.push(format!("{tcolor}     Changes:   {ctext}{e}"));
    out
}

/// A state's `warnings` list, one per line.
fn warnings_text(warnings: &Value) -> String {
    match warnings {
        Value::Array(items) => items
            .iter()
            .map(python::to_str)
            .collect::<Vec<_>>()
            .join("\n"),
        other => python::to_str(other),
    }
}

/// A state's `warnings`, wrapped at 80 columns under the block.
fn format_warnings(warnings: &Value, c: &Colors) -> String {
    let text = warnings_text(warnings);
    // textwrap.fill(width=80) with 14-space indents, the first one stripped.
    let wrapped = python::wrap(&text, 80 - 14).join(&format!("\n{}", " ".repeat(14)));
    format!("   {} Warnings: {wrapped}{}", c.light_red, c.endc)
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
    let mut line = String::new();
    if let Some(warnings) = ret.get("warnings") {
        let text = warnings_text(warnings);
        line.push_str(&format!("{}Warnings:\n{text}{}", c.light_red, c.endc));
    }
    line.push_str(&format!(
        " {tcolor} Name: {} - Function: {}.{} - Result: {word}",
        comp(comps, 2),
        comp(comps, 0),
        comps.last().copied().unwrap_or("")
    ));
    if shows_profile(ret, opts) {
        line.push_str(&format!(
            " - Started: {} - Duration: {}",
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
    warnings: usize,
    changed: usize,
    /// The durations of the states run one after another, summed.
    serial_ms: f64,
    /// The longest of the states run in parallel (`parallel: True`).
    parallel_ms: Option<f64>,
}

impl Counts {
    fn add(&mut self, result: Option<bool>, ret: &Map<String, Value>) {
        match result {
            Some(true) => self.succeeded += 1,
            Some(false) => self.failed += 1,
            None => self.not_run += 1,
        }
        let ms = ret.get("duration").and_then(duration_ms).unwrap_or(0.0);
        if ret.contains_key("__parallel__") {
            self.parallel_ms = Some(self.parallel_ms.map_or(ms, |p| p.max(ms)));
        } else {
            self.serial_ms += ms;
        }
    }

    fn summary(&self, host: &str, opts: &HighstateOptions, c: &Colors) -> String {
        let e = c.endc;
        // Only the results that occurred set the width, warnings included.
        let count_len = [self.succeeded, self.failed, self.not_run, self.warnings]
            .into_iter()
            .filter(|n| *n > 0)
            .map(|n| n.to_string().len())
            .max()
            .unwrap_or(0);
        let width = "Succeeded".len() + count_len + 2;
        let counts = |label: &str, n: &dyn std::fmt::Display| {
            format!("{label}: {n:>w$}", w = width - (label.len() + 2))
        };
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
            counts("Succeeded", &(self.succeeded + self.not_run))
        ));
        let fcolor = if self.failed > 0 { c.red } else { c.cyan };
        out.push(format!("{fcolor}{}{e}", counts("Failed", &self.failed)));
        let total = self.succeeded + self.failed + self.not_run;
        if opts.state_output_pct && total > 0 {
            let pct = |n: usize| python::float_repr(round2(n as f64 / total as f64 * 100.0));
            out.push(format!(
                "{}{}{e}",
                c.green,
                counts("Success %", &pct(self.succeeded + self.not_run))
            ));
            out.push(format!(
                "{fcolor}{}{e}",
                counts("Failure %", &pct(self.failed))
            ));
        }
        if self.warnings > 0 {
            out.push(format!(
                "{}{}{e}",
                c.light_red,
                counts("Warnings", &self.warnings)
            ));
        }
        out.push(format!(
            "{}{}\nTotal states run: {total:>w$}{e}",
            c.cyan,
            "-".repeat(width),
            w = width - 7
        ));
        if opts.state_output_profile {
            let ms = self.serial_ms + self.parallel_ms.unwrap_or(0.0);
            let (value, unit) = if ms > 999.0 {
                (ms / 1000.0, "s")
            } else {
                (ms, "ms")
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

/// A state's `duration` in ms: a number, or a string like "1.5 ms".
fn duration_ms(d: &Value) -> Option<f64> {
    match d {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim_end_matches(" ms").trim().parse().ok(),
        _ => None,
    }
}

/// Python's `round(x, 2)` for the percentages.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests;
