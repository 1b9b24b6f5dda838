//! The `log` beacon: regular expressions over the lines appended to a file
//! since the last run (Salt's `salt.beacons.log_beacon`).
//!
//! ```yaml
//! beacons:
//!   log:
//!     - file: /var/log/messages
//!     - tags:
//!         goodbye/world:
//!           regex: .*good-bye.*
//! ```
//!
//! The first run only notes where the file ends. Each matching line is the
//! item `{tag: <tag>, match: yes, raw: <line>, error: ""}`; Salt matches
//! with `re.match`, so patterns are anchored at the start of the line.

use std::io::{Read, Seek, SeekFrom};

use serde_json::{Map, Value, json};

/// Where the beacon stopped reading.
#[derive(Debug, Default)]
pub struct LogState {
    offset: Option<u64>,
}

/// Salt's item skeleton.
fn skeleton(tag: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("tag".into(), json!(tag));
    map.insert("match".into(), json!("no"));
    map.insert("raw".into(), json!(""));
    map.insert("error".into(), json!(""));
    map
}

impl LogState {
    /// The items for the lines written since the last poll.
    pub fn poll(&mut self, config: &Map<String, Value>) -> Vec<Map<String, Value>> {
        let Some(path) = config.get("file").and_then(Value::as_str) else {
            let mut item = skeleton("global");
            item.insert("error".into(), json!("file not defined in config"));
            return vec![item];
        };
        match self.read_new(path) {
            Ok(Some(text)) => match_lines(&text, config.get("tags")),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::debug!("log beacon: cannot read {path}: {e}");
                Vec::new()
            }
        }
    }

    /// The text appended since the last call (`None` on the first call). A
    /// file that shrank was rotated: it is read from its start.
    fn read_new(&mut self, path: &str) -> std::io::Result<Option<String>> {
        let mut file = std::fs::File::open(path)?;
        let end = file.seek(SeekFrom::End(0))?;
        let Some(start) = self.offset.replace(end) else {
            return Ok(None);
        };
        let start = if start > end { 0 } else { start };
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(end - start).read_to_end(&mut bytes)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// Match every line against every tag's `regex`.
fn match_lines(text: &str, tags: Option<&Value>) -> Vec<Map<String, Value>> {
    let mut ret = Vec::new();
    let mut patterns = Vec::new();
    for (tag, opts) in tags.and_then(Value::as_object).into_iter().flatten() {
        let Some(pattern) = opts.get("regex").and_then(Value::as_str) else {
            continue;
        };
        if pattern.is_empty() {
            continue;
        }
        match regex::Regex::new(&format!("^(?:{pattern})")) {
            Ok(re) => patterns.push((tag.clone(), re)),
            Err(_) => {
                let mut item = skeleton(tag);
                item.insert("error".into(), json!("bad regex"));
                ret.push(item);
            }
        }
    }
    for line in text.lines() {
        for (tag, re) in &patterns {
            if re.is_match(line) {
                let mut item = skeleton(tag);
                item.insert("raw".into(), json!(line));
                item.insert("match".into(), json!("yes"));
                ret.push(item);
            }
        }
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn only_new_lines_matching_from_the_start_are_reported() {
        let dir = tempfile::tempdir().expect("test value");
        let path = dir.path().join("log");
        std::fs::write(&path, "good-bye old\n").expect("test value");
        let config = super::super::merge_config(&json!([
            {"file": path.to_string_lossy()},
            {"tags": {"bye": {"regex": "good-bye.*"}, "bad": {"regex": "("}}},
        ]));
        let mut state = LogState::default();
        assert!(state.poll(&config).is_empty());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("test value");
        writeln!(f, "good-bye new\nsay good-bye").expect("test value");
        let items = state.poll(&config);
        let raws: Vec<&str> = items.iter().filter_map(|i| i["raw"].as_str()).collect();
        assert!(raws.contains(&"good-bye new"), "{items:?}");
        assert!(!raws.contains(&"say good-bye"));
        assert!(items.iter().any(|i| i["error"] == "bad regex"));
    }
}
