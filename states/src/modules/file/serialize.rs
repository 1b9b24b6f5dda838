//! `file.serialize`: a data set (`dataset`, or `dataset_pillar`) written as
//! YAML or JSON, Salt's way: keys sorted, YAML in block style, JSON indented
//! by 2, a final newline added; with `merge_if_exists` the file's current
//! data is merged under the new one first.
//!
//! Writing (and the test-mode prediction) is `file.managed`'s: the same
//! comparison, diff, owner and mode handling, only the test-mode comment
//! is `file.serialize`'s own.

use brine_common::output::{OutputFormat, OutputOptions, render_value};
use serde_json::{Map, Value, json};

use super::absolute_error;
use super::managed::{Body, ensure};
use super::perms::stats;
use crate::lowstate::{StateCall, StateResult};
use crate::modules::{arg, call, name_of, text, truthy};
use brine_common::typed_key::sorted_as_python;

/// Salt's placeholder for a key the old data did not have (`recursive_diff`).
const NONE_VALUE: &str = "<_null_>";

pub fn serialize(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if name.is_empty() {
        return StateResult::fail(name, "Must provide name to file.serialize");
    }
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    let is_file = || stats(c.host, name).is_some_and(|st| st.get("type") == Some(&json!("file")));
    if !c.chunk.bool_arg("create", true) && !is_file() {
        return StateResult::ok(
            name,
            format!("File {name} is not present and is not set for creation"),
        );
    }
    let format = match serializer_name(c) {
        Ok(format) => format,
        Err(e) => return StateResult::fail(name, e),
    };
    let dataset = match dataset(c) {
        Ok(dataset) => dataset,
        Err(e) => return StateResult::fail(name, e),
    };
    if !matches!(format.as_str(), "yaml" | "json") {
        return StateResult::fail(
            name,
            format!(
                "The {format} serializer could not be found. It either does not exist or its prerequisites are not installed."
            ),
        );
    }
    let mut merged_from = None;
    let dataset = if c.chunk.bool_arg("merge_if_exists", false) && is_file() {
        match merge_existing(c, &format, dataset) {
            Ok(Merge::Unchanged) => {
                return StateResult::ok(name, format!("The file {name} is in the correct state"));
            }
            Ok(Merge::Merged { existing, merged }) => {
                merged_from = Some(existing);
                merged
            }
            Ok(Merge::Nothing(dataset)) => dataset,
            Err(e) => return StateResult::fail(name, e),
        }
    } else {
        dataset
    };
    // Salt lets YAML write non-ASCII text as it is only with an `encoding`.
    let allow_unicode = c.chunk.arg("encoding").is_some_and(truthy);
    let contents = format!("{}\n", dump(&format, &dataset, allow_unicode));
    let mut result = ensure(c, Body::Text(contents));
    if c.test && result.result.is_none() {
        result.comment = format!("Dataset will be serialized and stored into {name}");
        if !c.chunk.bool_arg("show_changes", true) {
            result
                .changes
                .insert("diff".into(), json!("<show_changes=False>"));
        }
    }
    if let Some(existing) = merged_from
        && existing.is_object()
        && dataset.is_object()
    {
        result.changes.insert(
            "diff".into(),
            Value::Object(recursive_diff(&dataset, &existing)),
        );
    }
    result
}

/// `serializer` or `formatter` (not both), lower-cased; YAML by default.
fn serializer_name(c: &StateCall<'_>) -> Result<String, String> {
    let given = |key: &str| c.chunk.arg(key).filter(|v| truthy(v)).map(text);
    match (given("serializer"), given("formatter")) {
        (Some(_), Some(_)) => Err("Only one of serializer and formatter are allowed".into()),
        (Some(name), None) | (None, Some(name)) => Ok(name.to_lowercase()),
        (None, None) => Ok("yaml".into()),
    }
}

/// `dataset`, or the pillar value `dataset_pillar` names (unmasked, as
/// Salt reads it; `""` when the pillar lacks it, `pillar.get`'s default).
fn dataset(c: &StateCall<'_>) -> Result<Value, String> {
    let dataset = arg(c.chunk, "dataset");
    let pillar_key = arg(c.chunk, "dataset_pillar");
    if truthy(&dataset) && truthy(&pillar_key) {
        return Err("Only one of 'dataset' and 'dataset_pillar' is permitted".into());
    }
    if truthy(&pillar_key) {
        return call(
            c.host,
            "pillar.get",
            vec![json!(text(&pillar_key))],
            &[("unmask", json!(true))],
        );
    }
    if dataset.is_null() {
        return Err("Neither 'dataset' nor 'dataset_pillar' was defined".into());
    }
    Ok(dataset)
}

/// What `merge_if_exists` made of the file's current data.
enum Merge {
    /// The file holds no data: the data set is written as it is.
    Nothing(Value),
    /// Merging changes nothing: the file is left alone.
    Unchanged,
    Merged {
        existing: Value,
        merged: Value,
    },
}

/// Read the file with the same format and merge the data set over it
/// (Salt's `dictupdate.merge_recurse`).
fn merge_existing(c: &StateCall<'_>, format: &str, dataset: Value) -> Result<Merge, String> {
    let raw = text(&call(c.host, "file.read", vec![json!(name_of(c))], &[])?);
    let existing =
        load(format, &raw).map_err(|e| format!("Failed to deserialize existing data: {e}"))?;
    if existing.is_null() {
        return Ok(Merge::Nothing(dataset));
    }
    if !existing.is_object() || !dataset.is_object() {
        // Salt's `dictupdate.update` raises a TypeError here.
        return Err("Cannot update using non-dict types in dictupdate.update()".into());
    }
    let merged = call(
        c.host,
        "slsutil.update",
        vec![existing.clone(), dataset],
        &[],
    )?;
    if merged == existing {
        return Ok(Merge::Unchanged);
    }
    Ok(Merge::Merged { existing, merged })
}

/// The file's text read back with the serializer's loader.
fn load(format: &str, raw: &str) -> Result<Value, String> {
    if format == "json" {
        serde_json::from_str(raw).map_err(|e| e.to_string())
    } else {
        brine_common::yaml::load(raw, "<unicode string>").map_err(|e| e.to_string())
    }
}

/// Salt's serializers with `file.serialize`'s options, before the final
/// newline: YAML `default_flow_style=False` (without the `...` end or the
/// last newline; non-ASCII escaped unless `allow_unicode`), JSON `indent=2,
/// sort_keys=True` (non-ASCII as it is); keys sorted in both.
fn dump(format: &str, dataset: &Value, allow_unicode: bool) -> String {
    let sorted = sorted_as_python(dataset);
    if format == "json" {
        let opts = OutputOptions {
            indent: Some(2),
            ..OutputOptions::default()
        };
        return render_value(OutputFormat::Json, &opts, &sorted)
            .trim_end_matches('\n')
            .to_string();
    }
    let text = if allow_unicode {
        brine_common::yaml::dump_block(&sorted)
    } else {
        brine_common::yaml::dump_block_ascii(&sorted)
    };
    match text.strip_suffix("\n...\n") {
        Some(stripped) => stripped.to_string(),
        None => text.strip_suffix('\n').unwrap_or(&text).to_string(),
    }
}

/// Salt's `recursive_diff(old, new).diffs` (missing keys ignored): per key
/// that differs, `{"new": ..., "old": ...}`, nested for two mappings.
fn recursive_diff(new: &Value, old: &Value) -> Map<String, Value> {
    let (Some(new), Some(old)) = (new.as_object(), old.as_object()) else {
        return Map::new();
    };
    let mut out = Map::new();
    for (key, value) in new {
        match old.get(key) {
            None => {
                out.insert(key.clone(), json!({"new": value, "old": NONE_VALUE}));
            }
            Some(before) if before != value => {
                if value.is_object() && before.is_object() {
                    let inner = recursive_diff(value, before);
                    if !inner.is_empty() {
                        out.insert(key.clone(), Value::Object(inner));
                    }
                } else {
                    out.insert(key.clone(), json!({"new": value, "old": before}));
                }
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn yaml_is_block_style_with_sorted_keys() {
        let data = json!({"b": {"y": [1, 2], "x": "0644"}, "a": true});
        assert_eq!(
            dump("yaml", &data, false),
            "a: true\nb:\n  x: '0644'\n  y:\n  - 1\n  - 2"
        );
        assert_eq!(dump("yaml", &json!("text"), false), "text");
        assert_eq!(dump("yaml", &json!({"a": "é"}), false), "a: \"\\xE9\"");
        assert_eq!(dump("yaml", &json!({"a": "é"}), true), "a: é");
    }

    #[test]
    fn json_is_indented_by_two_with_sorted_keys() {
        let data = json!({"b": [1], "a": "é"});
        assert_eq!(
            dump("json", &data, false),
            "{\n  \"a\": \"é\",\n  \"b\": [\n    1\n  ]\n}"
        );
    }

    #[test]
    fn recursive_diff_reports_new_and_changed_keys_only() {
        let old = json!({"a": 1, "n": {"x": 1, "y": 2}, "gone": 1});
        let new = json!({"a": 1, "n": {"x": 1, "y": 3}, "add": [1], "gone": 1});
        assert_eq!(
            Value::Object(recursive_diff(&new, &old)),
            json!({"n": {"y": {"new": 3, "old": 2}}, "add": {"new": [1], "old": "<_null_>"}})
        );
    }
}
