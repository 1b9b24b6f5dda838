//! APT source definitions as Salt reads and writes them
//! (`salt.utils.pkg.deb`): one-line entries of `sources.list` files
//! (`deb [arch=amd64 signed-by=/k.gpg] https://host/path dist main`),
//! deb822 stanzas of `.sources` files, and the dicts Salt's `aptpkg`
//! builds from them (`list_repos`, `get_repo`, `_expand_repo_def`).
//!
//! Pure text handling: reading and writing the files is the minion's
//! (`pkg.list_repos`, `pkg.mod_repo`, `pkg.del_repo`); the `pkgrepo` states
//! use the same parsing to predict, so both sides agree.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

/// Salt's `_APT_SOURCES_LIST`.
pub const SOURCES_LIST: &str = "/etc/apt/sources.list";
/// Salt's `_APT_SOURCES_PARTSDIR`.
pub const SOURCES_PARTSDIR: &str = "/etc/apt/sources.list.d/";

/// A bad repository definition (Salt's `SaltInvocationError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid repository definition: {0}")]
pub struct InvalidRepo(pub String);

/// One line of a `sources.list` file (Salt's `SourceEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineEntry {
    /// Not a repository line (blank, a comment, too short...).
    pub invalid: bool,
    /// Commented out with `#`.
    pub disabled: bool,
    pub kind: String,
    pub architectures: Vec<String>,
    pub signedby: String,
    pub trusted: Option<bool>,
    pub uri: String,
    pub dist: String,
    pub comps: Vec<String>,
    /// The text after a `#` inside the line.
    pub comment: String,
    /// The line as read.
    pub line: String,
    pub file: String,
}

/// One `[...]` option of a line: its text and value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LineOpt {
    full: String,
    value: OptValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OptValue {
    List(Vec<String>),
    Text(String),
}

/// Salt's `string_to_bool`.
pub fn string_to_bool(s: &str) -> Option<bool> {
    match s.to_lowercase().as_str() {
        "no" | "false" | "without" | "off" | "disable" | "0" => Some(false),
        "yes" | "true" | "with" | "on" | "enable" | "1" => Some(true),
        _ => None,
    }
}

/// Salt's `_invalid`: (disabled, invalid, comment, words).
fn classify(line: &str) -> (bool, bool, String, Vec<String>) {
    let mut line = line.trim();
    if line.is_empty() {
        return (false, true, String::new(), Vec::new());
    }
    let mut disabled = false;
    if let Some(rest) = line.strip_prefix('#') {
        disabled = true;
        line = rest;
    }
    let mut comment = String::new();
    let owned;
    if let Some(idx) = line.find('#').filter(|&i| i > 0) {
        comment = line[idx + 1..].to_string();
        owned = line[..idx].to_string();
        line = &owned;
    }
    let words = split_cdrom_aware(line.trim());
    let invalid = words.is_empty()
        || !["deb", "deb-src", "rpm", "rpm-src"].contains(&words[0].as_str())
        || words.len() < 3
        || (words[1].starts_with('[') && !words[1..].iter().any(|w| w.ends_with(']')));
    (disabled, invalid, comment, words)
}

/// Whitespace words, keeping a `cdrom:[...]/` URI in one piece.
fn split_cdrom_aware(line: &str) -> Vec<String> {
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    if let Some(start) = line.find("cdrom:")
        && let Some(end) = line.rfind('/').filter(|&e| e >= start)
    {
        let mut out = words(&line[..start]);
        out.push(line[start..=end].trim().to_string());
        out.extend(words(&line[end + 1..]));
        return out;
    }
    words(line)
}

/// Salt's `_get_opts`: the `key=value` options of the first `[...]` holding one.
fn line_opts(line: &str) -> IndexMap<String, LineOpt> {
    let mut out = IndexMap::new();
    let Some(inner) = first_bracket_with_eq(line) else {
        return out;
    };
    let mut arches = Vec::new();
    for opt in inner.split_whitespace() {
        let value = opt.split_once('=').map_or("", |(_, v)| v).to_string();
        if opt.starts_with("arch") {
            arches.extend(value.split(',').map(String::from));
            out.insert(
                "arch".to_string(),
                LineOpt {
                    full: opt.to_string(),
                    value: OptValue::List(arches.clone()),
                },
            );
        } else if opt.starts_with("signed-by") {
            out.insert(
                "signedby".to_string(),
                LineOpt {
                    full: opt.to_string(),
                    value: OptValue::Text(value),
                },
            );
        } else {
            let key = opt.split('=').next().unwrap_or(opt).to_string();
            out.insert(
                key,
                LineOpt {
                    full: opt.to_string(),
                    value: OptValue::Text(value),
                },
            );
        }
    }
    out
}

/// The text inside the first `[...]` that holds a `=` (Salt's `\[(.*?=.*?)\]`).
fn first_bracket_with_eq(line: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(open) = line[from..].find('[').map(|i| i + from) {
        let rest = &line[open + 1..];
        if let Some(eq) = rest.find('=') {
            // The shortest match: the first `]` after the first `=`.
            if let Some(close) = rest[eq..].find(']') {
                let inner = &rest[..eq + close];
                return Some(inner.trim_matches(|c| c == '[' || c == ']'));
            }
        }
        from = open + 1;
    }
    None
}

impl LineEntry {
    /// Salt's `SourceEntry(line, file)`.
    pub fn parse(line: &str, file: Option<&str>) -> Result<LineEntry, InvalidRepo> {
        let mut e = LineEntry {
            line: line.to_string(),
            file: file.unwrap_or(SOURCES_LIST).to_string(),
            ..LineEntry::default()
        };
        let (disabled, invalid, comment, mut words) = classify(line);
        e.disabled = disabled;
        e.invalid = invalid;
        e.comment = comment;
        if invalid {
            return Ok(e);
        }
        if words[1].starts_with('[') {
            words = words
                .iter()
                .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
                .filter(|w| !w.is_empty())
                .collect();
            let opts = line_opts(line);
            if let Some(LineOpt {
                value: OptValue::List(a),
                ..
            }) = opts.get("arch")
            {
                e.architectures.extend(a.iter().cloned());
            }
            if let Some(LineOpt {
                value: OptValue::Text(s),
                ..
            }) = opts.get("signedby")
            {
                e.signedby = s.clone();
            }
            if let Some(LineOpt {
                value: OptValue::Text(t),
                ..
            }) = opts.get("trusted")
            {
                e.trusted = string_to_bool(t);
            }
            for opt in opts.values() {
                if opt.full.is_empty() {
                    continue;
                }
                let bracketed = format!("[{}]", opt.full);
                if let Some(i) = words.iter().position(|w| *w == opt.full || *w == bracketed) {
                    words.remove(i);
                }
            }
        }
        if words.len() < 3 {
            return Err(InvalidRepo(words.join(" ")));
        }
        e.kind = words[0].clone();
        e.uri = words[1].clone();
        e.dist = words[2].clone();
        e.comps = words[3..].to_vec();
        Ok(e)
    }

    /// Salt's `repo_line()`: the line to write for this entry.
    pub fn repo_line(&self) -> String {
        if self.invalid {
            return self.line.clone();
        }
        let mut parts: Vec<String> = Vec::new();
        if self.disabled {
            parts.push("#".into());
        }
        parts.push(self.kind.clone());
        let mut opts = line_opts(&self.line);
        if !self.architectures.is_empty() {
            opts.insert(
                "arch".into(),
                LineOpt {
                    full: format!("arch={}", self.architectures.join(",")),
                    value: OptValue::List(self.architectures.clone()),
                },
            );
        }
        if !self.signedby.is_empty() {
            opts.insert(
                "signedby".into(),
                LineOpt {
                    full: format!("signed-by={}", self.signedby),
                    value: OptValue::Text(self.signedby.clone()),
                },
            );
        }
        if self.trusted == Some(true) {
            opts.insert(
                "trusted".into(),
                LineOpt {
                    full: "trusted=yes".into(),
                    value: OptValue::Text("yes".into()),
                },
            );
        }
        if matches!(opts.get("trusted"), Some(LineOpt { value: OptValue::Text(v), .. }) if v == "no")
        {
            opts.shift_remove("trusted");
        }
        let ordered: Vec<&str> = opts
            .values()
            .map(|o| o.full.as_str())
            .filter(|f| !f.is_empty())
            .collect();
        if !ordered.is_empty() {
            parts.push(format!("[{}]", ordered.join(" ")));
        }
        parts.push(self.uri.clone());
        parts.push(self.dist.clone());
        parts.push(self.comps.join(" "));
        if !self.comment.is_empty() {
            parts.push(format!("#{}", self.comment));
        }
        format!("{}\n", parts.join(" "))
    }

    /// Salt's `str(SourceEntry)`.
    pub fn render(&self) -> String {
        self.repo_line().trim().to_string()
    }

    pub fn suites(&self) -> Vec<String> {
        if self.dist.is_empty() {
            Vec::new()
        } else {
            vec![self.dist.clone()]
        }
    }
}

/// A deb822 stanza (Salt's `Deb822Section`): ordered fields, with the
/// comment lines before and after them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub tags: IndexMap<String, String>,
    pub header: Vec<String>,
    pub footer: Vec<String>,
}

impl Section {
    pub fn parse(text: &str) -> Section {
        let mut s = Section::default();
        let mut raw = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                if raw.is_empty() {
                    s.header.push(line.to_string());
                } else {
                    s.footer.push(line.to_string());
                }
            } else {
                raw.push(line);
            }
        }
        let mut current: Option<(String, String)> = None;
        for line in raw {
            match tag_of(line) {
                Some((tag, value)) => {
                    if let Some((t, v)) = current.take() {
                        s.tags.insert(t, v.trim().to_string());
                    }
                    current = Some((tag, value));
                }
                None if line.is_empty() => {
                    if let Some((t, v)) = &current {
                        s.tags.insert(t.clone(), v.trim().to_string());
                    }
                }
                None => {
                    if let Some((_, v)) = current.as_mut() {
                        v.push('\n');
                        v.push_str(line);
                    }
                }
            }
        }
        if let Some((t, v)) = current {
            s.tags.insert(t, v.trim().to_string());
        }
        s
    }

    /// A field, its name matched without case.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, key: &str, value: String) {
        match self
            .tags
            .keys()
            .find(|k| k.eq_ignore_ascii_case(key))
            .cloned()
        {
            Some(existing) => {
                self.tags.insert(existing, value);
            }
            None => {
                self.tags.insert(key.to_string(), value);
            }
        }
    }

    pub fn remove(&mut self, key: &str) {
        if let Some(existing) = self
            .tags
            .keys()
            .find(|k| k.eq_ignore_ascii_case(key))
            .cloned()
        {
            self.tags.shift_remove(&existing);
        }
    }

    /// Salt's `str(Deb822Section)`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            out.push_str(line);
            out.push('\n');
        }
        for (k, v) in &self.tags {
            if !v.is_empty() {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        for line in &self.footer {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// A multi-valued field split as Salt's `split_source_line`.
    pub fn words(&self, key: &str) -> Vec<String> {
        split_source_line(self.get(key).unwrap_or(""))
    }

    pub fn disabled(&self) -> bool {
        !string_to_bool(self.get("Enabled").unwrap_or("yes")).unwrap_or(true)
    }
}

/// `Tag: value` (Salt's `\A(\S+):\s*(\S.*|)`).
fn tag_of(line: &str) -> Option<(String, String)> {
    let colon = line.find(':')?;
    let tag = &line[..colon];
    if tag.is_empty() || tag.chars().any(char::is_whitespace) {
        return None;
    }
    Some((tag.to_string(), line[colon + 1..].trim_start().to_string()))
}

/// Salt's `SourceEntry.split_source_line`: whitespace words, `[...]` kept whole.
pub fn split_source_line(line: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut tmp = String::new();
    let mut in_brackets = false;
    let mut space_found = false;
    for c in line.trim().chars() {
        if c == '[' {
            if space_found {
                space_found = false;
                pieces.push(std::mem::take(&mut tmp));
            }
            in_brackets = true;
            tmp.push(c);
        } else if c == ']' {
            in_brackets = false;
            tmp.push(c);
        } else if space_found && !c.is_whitespace() {
            space_found = false;
            pieces.push(std::mem::take(&mut tmp));
            tmp.push(c);
        } else if c.is_whitespace() && !in_brackets {
            space_found = true;
        } else {
            tmp.push(c);
        }
    }
    if !tmp.is_empty() {
        pieces.push(tmp);
    }
    pieces
}

/// An entry of the sources, either form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Line(LineEntry),
    Deb822 { section: Section, file: String },
}

impl Source {
    pub fn file(&self) -> &str {
        match self {
            Source::Line(e) => &e.file,
            Source::Deb822 { file, .. } => file,
        }
    }

    pub fn invalid(&self) -> bool {
        match self {
            Source::Line(e) => e.invalid,
            Source::Deb822 { section, .. } => section.tags.is_empty(),
        }
    }

    pub fn types(&self) -> Vec<String> {
        match self {
            Source::Line(e) => vec![e.kind.clone()],
            Source::Deb822 { section, .. } => section.words("Types"),
        }
    }

    pub fn uris(&self) -> Vec<String> {
        match self {
            Source::Line(e) => vec![e.uri.clone()],
            Source::Deb822 { section, .. } => section.words("URIs"),
        }
    }

    pub fn suites(&self) -> Vec<String> {
        match self {
            Source::Line(e) => e.suites(),
            Source::Deb822 { section, .. } => section.words("Suites"),
        }
    }

    pub fn comps(&self) -> Vec<String> {
        match self {
            Source::Line(e) => e.comps.clone(),
            Source::Deb822 { section, .. } => section.words("Components"),
        }
    }

    pub fn architectures(&self) -> Vec<String> {
        match self {
            Source::Line(e) => e.architectures.clone(),
            Source::Deb822 { section, .. } => section.words("Architectures"),
        }
    }

    pub fn disabled(&self) -> bool {
        match self {
            Source::Line(e) => e.disabled,
            Source::Deb822 { section, .. } => section.disabled(),
        }
    }

    /// `signedby` as Salt reports it: a string for a line, `None` (null)
    /// for a stanza without `Signed-By`.
    pub fn signedby(&self) -> Value {
        match self {
            Source::Line(e) => json!(e.signedby),
            Source::Deb822 { section, .. } => {
                section.get("Signed-By").map_or(Value::Null, |s| json!(s))
            }
        }
    }

    /// The file text of this entry (Salt's `str(entry)`).
    pub fn render(&self) -> String {
        match self {
            Source::Line(e) => e.render(),
            Source::Deb822 { section, .. } => section.render().trim().to_string(),
        }
    }

    /// Salt's `_skip_source`: entries `list_repos` leaves out.
    pub fn skipped(&self) -> bool {
        match self {
            Source::Line(e) if e.invalid => {
                // An invalid line with a `[...]` option list is kept.
                let keep = !e.uri.is_empty()
                    && ["deb", "deb-src", "rpm", "rpm-src"].contains(&e.kind.as_str())
                    && split_source_line(&e.line)
                        .get(1)
                        .is_some_and(|p| p.trim().starts_with('['));
                !keep
            }
            other => other.invalid(),
        }
    }

    /// The dicts `list_repos` makes of this entry: one per URI, suite and
    /// type (a deb822 stanza may hold several).
    pub fn repo_dicts(&self) -> Vec<(String, Map<String, Value>)> {
        let mut out = Vec::new();
        for uri in self.uris() {
            for suite in self.suites() {
                for kind in self.types() {
                    let line = match self {
                        Source::Line(e) => e.line.trim().to_string(),
                        Source::Deb822 { .. } => self.compat_line(&kind, &uri, &suite),
                    };
                    let mut m = Map::new();
                    m.insert("file".into(), json!(self.file()));
                    m.insert("comps".into(), json!(self.comps()));
                    m.insert("disabled".into(), json!(self.disabled()));
                    m.insert("enabled".into(), json!(!self.disabled()));
                    m.insert("dist".into(), json!(suite));
                    m.insert("suites".into(), json!(self.suites()));
                    m.insert("type".into(), json!(kind));
                    m.insert("types".into(), json!(self.types()));
                    m.insert("uri".into(), json!(uri));
                    m.insert("uris".into(), json!(self.uris()));
                    m.insert("line".into(), json!(line));
                    m.insert("architectures".into(), json!(self.architectures()));
                    m.insert("signedby".into(), self.signedby());
                    out.push((uri.clone(), m));
                }
            }
        }
        out
    }

    /// A stanza as the one-line entry Salt reports for it.
    fn compat_line(&self, kind: &str, uri: &str, suite: &str) -> String {
        let Source::Deb822 { section, .. } = self else {
            return String::new();
        };
        let text = format!("{kind} {uri} {suite} {}", self.comps().join(" "));
        let Ok(mut e) = LineEntry::parse(&text, None) else {
            return text.trim().to_string();
        };
        e.disabled = section.disabled();
        e.architectures = self.architectures();
        e.signedby = section.get("Signed-By").unwrap_or("None").to_string();
        e.trusted = section.get("Trusted").and_then(string_to_bool);
        e.render()
    }
}

/// Parse a file's text: `.sources` files as deb822 stanzas, others by line.
pub fn parse_file(path: &str, text: &str) -> Vec<Source> {
    if path.ends_with(".sources") {
        let mut out = Vec::new();
        let mut stanza = String::new();
        for line in text.split_inclusive('\n') {
            if !line.trim().is_empty() {
                stanza.push_str(line);
            } else if !stanza.is_empty() {
                out.push(Source::Deb822 {
                    section: Section::parse(&stanza),
                    file: path.to_string(),
                });
                stanza.clear();
            }
        }
        if !stanza.is_empty() {
            out.push(Source::Deb822 {
                section: Section::parse(&stanza),
                file: path.to_string(),
            });
        }
        return out;
    }
    text.split_inclusive('\n')
        .filter_map(|line| LineEntry::parse(line, Some(path)).ok())
        .map(Source::Line)
        .collect()
}

/// The parts of a repository definition (Salt's `_split_repo_str`).
pub fn split_repo(repo: &str) -> Result<LineEntry, InvalidRepo> {
    LineEntry::parse(repo, None)
}

/// Salt's `strip_uri`: trailing slashes off the URLs of a definition.
pub fn strip_uri(repo: &str) -> String {
    repo.split_whitespace()
        .map(|w| {
            if ["http://", "https://", "ftp://"]
                .iter()
                .any(|p| w.starts_with(p))
            {
                w.trim_end_matches('/')
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Salt's `get_repo` match over `list_repos`' dicts: same type, URI (up to a
/// trailing slash) and dist, and a shared component when the definition has any.
pub fn find_repo<'a>(
    repos: impl IntoIterator<Item = &'a Map<String, Value>>,
    wanted: &LineEntry,
) -> Option<&'a Map<String, Value>> {
    let s = |m: &Map<String, Value>, k: &str| {
        m.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    };
    repos.into_iter().find(|sub| {
        let same = s(sub, "type") == wanted.kind
            && s(sub, "uri").trim_end_matches('/') == wanted.uri.trim_end_matches('/')
            && s(sub, "dist") == wanted.dist;
        if !same {
            return false;
        }
        if wanted.comps.is_empty() {
            return true;
        }
        let comps: Vec<&str> = sub
            .get("comps")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        wanted.comps.iter().any(|c| comps.contains(&c.as_str()))
    })
}

/// A comma-separated argument as Salt splits it (a list is taken as is).
pub fn comma_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| brine_common::output::python::to_str(i).trim().to_string())
            .collect(),
        Value::Null => Vec::new(),
        other => brine_common::output::python::to_str(other)
            .split(',')
            .map(|s| s.trim().to_string())
            .collect(),
    }
}

/// Salt's `_expand_repo_def` for Debian (no PPA): the dict of the entry
/// `mod_repo` would write, to compare with what `get_repo` found.
pub fn expand_repo_def(
    repo: &str,
    kwargs: &Map<String, Value>,
) -> Result<Map<String, Value>, InvalidRepo> {
    let mut entry = split_repo(repo)?;
    if let Some(v) = kwargs.get("comps") {
        entry.comps = comma_list(v);
    }
    if let Some(v) = kwargs.get("architectures") {
        entry.architectures = comma_list(v);
    }
    if let Some(v) = kwargs.get("disabled") {
        entry.disabled = brine_common::output::python::truthy(v);
    }
    if let Some(v) = kwargs.get("uri").and_then(Value::as_str) {
        entry.uri = v.to_string();
    }
    if let Some(v) = kwargs.get("dist").and_then(Value::as_str) {
        entry.dist = v.to_string();
    }
    let file = kwargs
        .get("file")
        .and_then(Value::as_str)
        .unwrap_or(SOURCES_LIST)
        .to_string();
    // `SourcesList.add` builds the line afresh from the parts.
    let mut opts = Vec::new();
    if !entry.architectures.is_empty() {
        opts.push(format!("arch={}", entry.architectures.join(",")));
    }
    if !entry.signedby.is_empty() {
        opts.push(format!("signed-by={}", entry.signedby));
    }
    if kwargs
        .get("trusted")
        .is_some_and(brine_common::output::python::truthy)
    {
        opts.push("trusted=yes".into());
    }
    let mut parts = vec![entry.kind.clone()];
    if !opts.is_empty() {
        parts.push(format!("[{}]", opts.join(" ")));
    }
    parts.push(entry.uri.clone());
    parts.push(entry.dist.clone());
    parts.extend(entry.comps.iter().cloned());
    let added_line = format!(
        "{}\n",
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut added = LineEntry::parse(&added_line, Some(&file))?;
    added.disabled = entry.disabled;
    added.line = added.repo_line();
    let mut m = Map::new();
    m.insert("file".into(), json!(file));
    m.insert("comps".into(), json!(added.comps));
    m.insert("disabled".into(), json!(added.disabled));
    m.insert("dist".into(), json!(added.dist));
    m.insert("suites".into(), json!(added.suites()));
    m.insert("type".into(), json!(added.kind));
    m.insert("types".into(), json!([added.kind]));
    m.insert("uri".into(), json!(added.uri));
    m.insert("uris".into(), json!([added.uri]));
    m.insert("line".into(), json!(added.render()));
    m.insert("architectures".into(), json!(added.architectures));
    m.insert("signedby".into(), json!(entry.signedby));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_like_salts_source_entry() {
        let e = LineEntry::parse(
            "deb [signed-by=/etc/apt/keyrings/salt.pgp arch=amd64] https://packages.broadcom.com/artifactory/saltproject-deb stable main\n",
            Some("/etc/apt/sources.list.d/salt.list"),
        )
        .expect("valid");
        assert!(!e.invalid && !e.disabled);
        assert_eq!(e.kind, "deb");
        assert_eq!(e.architectures, ["amd64"]);
        assert_eq!(e.signedby, "/etc/apt/keyrings/salt.pgp");
        assert_eq!(
            e.uri,
            "https://packages.broadcom.com/artifactory/saltproject-deb"
        );
        assert_eq!(
            (e.dist.as_str(), e.comps.clone()),
            ("stable", vec!["main".to_string()])
        );
        assert_eq!(
            e.render(),
            "deb [signed-by=/etc/apt/keyrings/salt.pgp arch=amd64] https://packages.broadcom.com/artifactory/saltproject-deb stable main"
        );
        let off =
            LineEntry::parse("# deb http://h/d bookworm main contrib # note", None).expect("valid");
        assert!(off.disabled && !off.invalid);
        assert_eq!(off.comment, " note");
        assert_eq!(
            off.render(),
            "# deb http://h/d bookworm main contrib # note"
        );
        assert!(
            LineEntry::parse("# just a comment", None)
                .expect("ok")
                .invalid
        );
        assert!(LineEntry::parse("", None).expect("ok").invalid);
    }

    #[test]
    fn deb822_stanzas_give_one_dict_per_suite() {
        let text = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n";
        let sources = parse_file("/etc/apt/sources.list.d/debian.sources", text);
        assert_eq!(sources.len(), 2);
        let dicts = sources[0].repo_dicts();
        assert_eq!(dicts.len(), 2);
        let (uri, d) = &dicts[1];
        assert_eq!(uri, "http://deb.debian.org/debian");
        assert_eq!(d["dist"], json!("bookworm-updates"));
        assert_eq!(d["suites"], json!(["bookworm", "bookworm-updates"]));
        assert_eq!(
            d["line"],
            json!(
                "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main"
            )
        );
        // Without Signed-By, Salt's str(None) lands in the line.
        let (_, sec) = &sources[1].repo_dicts()[0];
        assert_eq!(sec["signedby"], Value::Null);
        assert_eq!(
            sec["line"],
            json!(
                "deb [signed-by=None] http://deb.debian.org/debian-security bookworm-security main"
            )
        );
        if let Source::Deb822 { section, .. } = &sources[0] {
            assert_eq!(section.footer.len(), 1);
        }
    }

    #[test]
    fn get_repo_matches_type_uri_dist_and_a_component() {
        let sources = parse_file(
            "/etc/apt/sources.list",
            "deb https://h/x/ bookworm main contrib\n",
        );
        let dicts: Vec<Map<String, Value>> = sources
            .iter()
            .flat_map(|s| s.repo_dicts())
            .map(|(_, d)| d)
            .collect();
        let want = split_repo("deb https://h/x bookworm contrib").expect("valid");
        assert!(find_repo(&dicts, &want).is_some());
        let other = split_repo("deb https://h/x bookworm non-free").expect("valid");
        assert!(find_repo(&dicts, &other).is_none());
    }

    #[test]
    fn expand_repo_def_is_what_mod_repo_would_write() {
        let mut kw = Map::new();
        kw.insert(
            "file".into(),
            json!("/etc/apt/sources.list.d/ondrej-php.list"),
        );
        kw.insert("disabled".into(), json!(false));
        let m = expand_repo_def("deb https://packages.sury.org/php/ bookworm main", &kw)
            .expect("valid");
        assert_eq!(
            m["line"],
            json!("deb https://packages.sury.org/php/ bookworm main")
        );
        assert_eq!(m["file"], json!("/etc/apt/sources.list.d/ondrej-php.list"));
        assert_eq!(m["signedby"], json!(""));
        kw.insert("architectures".into(), json!("amd64,arm64"));
        let m =
            expand_repo_def("deb [signed-by=/k.gpg] http://h/d stable main", &kw).expect("valid");
        assert_eq!(
            m["line"],
            json!("deb [arch=amd64,arm64 signed-by=/k.gpg] http://h/d stable main")
        );
        assert!(
            expand_repo_def("deb http://h", &kw).is_err()
                || split_repo("deb http://h").is_ok_and(|e| e.invalid)
        );
    }

    #[test]
    fn strip_uri_drops_trailing_slashes_of_urls() {
        assert_eq!(
            strip_uri("deb https://h/x/ stable main"),
            "deb https://h/x stable main"
        );
    }
}
