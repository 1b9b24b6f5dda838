//! Salt's outputters: how `brine` and `brine-call` print returns.
//!
//! The input is always a dict of minion id -> return (for `brine-call` the one
//! key is `local`). Like Salt, the `brine` CLI prints each minion's return on
//! its own as it arrives ([`render_minion`]: the outputter sees a one-key dict),
//! and with `--static`, or for `brine-call`, everything at once
//! ([`render_all`]). So `--out json` prints one object per minion, and
//! `--out json --static` one object holding all of them.
//!
//! Every format follows Salt 3008's `salt/output/*.py` and the samples
//! captured from it, down to the bytes: [`OutputFormat::Nested`] (the default),
//! `json` (`json.dumps`, 4-space indent, keys in arrival order), `yaml`
//! (PyYAML block style with sorted keys, via [`crate::yaml::dump_block`]), `txt`
//! (`minion: line`), `raw` (Python `str()` of the dict) and `quiet`.
//! As `salt.output.display_output` does, the text is right-stripped and ends
//! in one newline; output with nothing to show is the empty string.
//!
//! One deliberate difference: ESC characters inside returned strings become
//! `?` in the `nested` and `txt` output (Salt's `strip_colors` option, off by
//! default in Salt). A minion's data must not be able to drive the operator's
//! terminal; `json` and `raw` escape ESC anyway.

mod json;
mod nested;
pub mod python;
mod text;

use crate::typed_key::sorted_as_python;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// An outputter, named as Salt names it on `--out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputFormat {
    /// Salt's default: indented keys, `----------` before nested dicts.
    #[default]
    Nested,
    /// `json.dumps` of the dict, 4-space indent unless `--out-indent`.
    Json,
    /// PyYAML `safe_dump(default_flow_style=False)`.
    Yaml,
    /// `minion: value`, one line per line of a string return.
    Txt,
    /// Python `str()` of the dict: `{'m1': True}`.
    Raw,
    /// Prints nothing.
    Quiet,
    /// Salt's `highstate` outputter, for state runs. It lives in
    /// `brine_states::output`; the CLIs send every return to it when
    /// [`crate::cli::OutputArgs::wants_highstate`] says so. Reaching the
    /// renderers here, it prints as `nested`.
    Highstate,
}

impl OutputFormat {
    /// Every format, in the order error messages list them.
    pub const ALL: [OutputFormat; 7] = [
        OutputFormat::Nested,
        OutputFormat::Highstate,
        OutputFormat::Json,
        OutputFormat::Yaml,
        OutputFormat::Txt,
        OutputFormat::Raw,
        OutputFormat::Quiet,
    ];

    /// Salt's name for the format (`nested`, `json`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Nested => "nested",
            OutputFormat::Json => "json",
            OutputFormat::Yaml => "yaml",
            OutputFormat::Txt => "txt",
            OutputFormat::Raw => "raw",
            OutputFormat::Quiet => "quiet",
            OutputFormat::Highstate => "highstate",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `--out` named an outputter we do not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown outputter '{name}'; valid outputters: nested, highstate, json, yaml, txt, raw, quiet"
)]
pub struct UnknownOutputFormat {
    /// The name as given.
    pub name: String,
}

impl FromStr for OutputFormat {
    type Err = UnknownOutputFormat;

    /// Salt's names; `text` is accepted for `txt`, as Salt accepts it.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == "text" {
            return Ok(OutputFormat::Txt);
        }
        OutputFormat::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| UnknownOutputFormat {
                name: name.to_owned(),
            })
    }
}

/// Options from the command line that change what the outputters print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputOptions {
    /// Colour the `nested` output (Salt: a terminal and no `--no-color`, or
    /// `--force-color`). Off means no escape sequence at all.
    pub color: bool,
    /// `--static`: the caller prints everything at once with [`render_all`]
    /// instead of [`render_minion`] per return. The renderers themselves do
    /// not look at it; it travels here so the CLI keeps one options value.
    pub static_: bool,
    /// `--out-indent` for `json`: `None` (not given) is Salt's 4 spaces, a
    /// negative value one line per object, `0` line breaks without
    /// indentation, `n` n spaces per level. Signed because Salt's flag is.
    pub indent: Option<i64>,
}

/// What the CLI prints for one minion's return as it arrives: the outputter
/// applied to `{minion_id: ret}`. A minion that did not return is passed as
/// the string `"Minion did not return. [No response]"` (or `[Not connected]`).
pub fn render_minion(
    format: OutputFormat,
    opts: &OutputOptions,
    minion_id: &str,
    ret: &Value,
) -> String {
    render_minion_with_retcode(format, opts, minion_id, ret, 0)
}

/// [`render_minion`] for a return whose job retcode is known: Salt passes it
/// to the outputter, and `nested` then colours keys, dividers and `|_` red
/// when it is not 0. Without colour the text is the same.
pub fn render_minion_with_retcode(
    format: OutputFormat,
    opts: &OutputOptions,
    minion_id: &str,
    ret: &Value,
    retcode: i64,
) -> String {
    render(format, opts, &[(minion_id, ret)], retcode)
}

/// Everything at once (`--static`, `brine-call`): the outputter applied to the
/// whole dict. `json` and `raw` keep the map's order; `nested` sorts the
/// minion ids, as Salt's does for any dict.
/// Write `text` to standard output. A reader that went away (`| head`) is
/// no reason to panic, as `print!` does: the rest is dropped, as with any
/// shell tool.
pub fn print_stdout(text: &str) {
    print_fmt(format_args!("{text}"));
}

/// `println!` without the panic: the formatted text and a newline on stdout.
pub fn print_line(args: std::fmt::Arguments<'_>) {
    print_fmt(format_args!("{args}\n"));
}

/// `print!` without the panic: a closed stdout (`brine ... | head`) ends
/// the output quietly instead of aborting the command.
pub fn print_fmt(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args).and_then(|()| out.flush());
}

pub fn render_all(
    format: OutputFormat,
    opts: &OutputOptions,
    returns: &Map<String, Value>,
) -> String {
    let entries: Vec<(&str, &Value)> = returns.iter().map(|(k, v)| (k.as_str(), v)).collect();
    render(format, opts, &entries, 0)
}

/// Salt's `nested` outputter for any value, starting `indent` columns in,
/// lines joined by `\n`, no trailing newline. The highstate outputter embeds
/// this for a state's changes (at indent 14).
pub fn render_nested(value: &Value, indent: usize, color: bool) -> String {
    nested::render_value(value, indent, color)
}

/// A bare value, not keyed by minion: what `brine-run` prints for a runner's
/// return (Salt's runner output applies the outputter to the return itself).
pub fn render_value(format: OutputFormat, opts: &OutputOptions, value: &Value) -> String {
    let text = match format {
        OutputFormat::Nested | OutputFormat::Highstate => {
            nested::render_value(value, 0, opts.color)
        }
        OutputFormat::Json => json::render_value(value, opts.indent),
        OutputFormat::Yaml => crate::yaml::dump_block(&sorted_as_python(value)),
        OutputFormat::Txt => strip_esc(&python::to_str(value)).into_owned(),
        OutputFormat::Raw => python::repr(value),
        OutputFormat::Quiet => String::new(),
    };
    finish(&text)
}

/// The one dispatch point: format the top-level dict, then finish it the way
/// `display_output` prints it.
fn render(
    format: OutputFormat,
    opts: &OutputOptions,
    entries: &[(&str, &Value)],
    retcode: i64,
) -> String {
    let text = match format {
        OutputFormat::Nested | OutputFormat::Highstate => {
            nested::render_top(entries, opts.color, retcode)
        }
        OutputFormat::Json => json::render_top(entries, opts.indent),
        OutputFormat::Yaml => render_yaml(entries),
        OutputFormat::Txt => text::render_txt(entries),
        OutputFormat::Raw => text::render_raw(entries),
        OutputFormat::Quiet => String::new(),
    };
    finish(&text)
}

/// PyYAML's `safe_dump` sorts the keys of every plain dict, and returns
/// arrive as plain dicts; so the copy handed to the emitter is sorted.
fn render_yaml(entries: &[(&str, &Value)]) -> String {
    let mut sorted: Vec<(&str, &Value)> = entries.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let map: Map<String, Value> = sorted
        .into_iter()
        .map(|(key, value)| (key.to_owned(), sorted_as_python(value)))
        .collect();
    crate::yaml::dump_block(&Value::Object(map))
}

/// `display_output`: `rstrip()` the outputter's text and print it with one
/// newline, or print nothing at all when nothing is left.
fn finish(text: &str) -> String {
    let text = python::rstrip(text);
    if text.is_empty() {
        String::new()
    } else {
        format!("{text}\n")
    }
}

/// Salt's `strip_esc_sequence`: ESC becomes `?`, so returned data cannot
/// send terminal control sequences.
fn strip_esc(text: &str) -> Cow<'_, str> {
    if text.contains('\x1b') {
        Cow::Owned(text.replace('\x1b', "?"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests;
