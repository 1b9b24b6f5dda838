//! Rendering SLS files into high data, and templates into text.
//!
//! A file's first line picks the renderer pipeline, as in Salt's
//! `salt/template.py`: `#!jinja|yaml` (the default when there is no
//! shebang), `#!yaml`, `#!jinja|json`, `#!json`, `#!jinja`, and the old
//! combined names (`#!yaml_jinja` is `jinja|yaml`). Renderers run left to
//! right; a name we do not have is an error (Salt logs it and renders
//! nothing). A first line starting `#!/` is not a shebang.
//!
//! - [`render_sls`] runs the pipeline and gives the high data (a mapping;
//!   empty text gives an empty mapping).
//! - [`render_data`] runs it for data that is not a state SLS, with names
//!   of the caller's own in the Jinja context (the reactor's `tag` and
//!   `data`, a pillar include's `defaults`).
//! - [`shebang`] is the one reading of the `#!` line.
//! - [`render_template`] renders one Jinja template to text
//!   (`file.managed template: jinja`, `cmd.script template: jinja`).
//!
//! The Jinja side (`jinja`) follows `salt/utils/templates.py`: Salt's
//! context (`salt`, `grains`, `pillar`, `opts`, `saltenv`, `sls`, `slspath`,
//! `tpldir`, ...), Strict undefined, a `salt://` loader for `import`,
//! `include` and `from ... import`, Salt's filters (`filters`) and the
//! `import_yaml`/`load_yaml` tags (`preprocess`). Templates reach the host
//! only through the `salt` object (`salt`), which answers `pillar.get`,
//! `grains.get`, `config.get`, `grains.filter_by` and `defaults.merge`
//! itself and sends everything else to [`StateHost::call`].
//!
//! Jinja and JSON errors name the file (`salt://path`) and line and show the
//! lines around it with Salt's `<======================` marker. A YAML
//! error is what Salt's yaml renderer says: libyaml's problem alone for a
//! scanner error, PyYAML's full text (context, problem and their marks in
//! `"<unicode string>"`) for any other.

mod bridge;
mod calls;
mod data;
mod filters;
mod jinja;
mod jinja_errors;
mod methods;
mod mutable;
mod percent;
mod preprocess;
pub(crate) mod pyjson;
mod salt;
mod snippet;
mod values;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::{Map, Value};

use brine_common::yaml::{NonStringKey, YamlErrorKind};

use crate::host::StateHost;
use jinja::{JinjaJob, display_name};

/// Where rendering went wrong: the file, the line, and what the renderer said.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Rendering SLS '{saltenv}:{sls}' failed: {message}")]
pub struct RenderError {
    pub saltenv: String,
    pub sls: String,
    /// The renderer's message, with file, line and the lines around it.
    pub message: String,
}

/// What a template knows about the SLS it renders (Salt's `sls`, `slspath`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct SlsSource<'a> {
    pub saltenv: &'a str,
    /// Dotted SLS name, e.g. `apache.config`.
    pub sls: &'a str,
    /// Path of the file within the environment, e.g. `apache/config.sls`.
    pub path: &'a str,
}

/// What a non-SLS template (`file.managed template: jinja`) is rendered with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateContext {
    pub saltenv: String,
    /// The SLS that asked for the template (may be empty).
    pub sls: String,
    /// The template's path within the environment (`apache/files/httpd.conf`),
    /// or a local absolute path; names the template in errors and sets `tpldir`.
    pub path: String,
    /// Extra context (`context:` and `defaults:` of `file.managed`); it
    /// overrides the standard names.
    pub context: Map<String, Value>,
}

/// One renderer of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renderer {
    Jinja,
    Yaml,
    Json,
}

/// What flows between renderers: text, or data once a data renderer ran.
enum Stage {
    Text(String),
    Data(Value),
}

/// Render one SLS file's text into high data (a mapping, or empty).
pub fn render_sls(
    host: &dyn StateHost,
    source: &SlsSource<'_>,
    text: &str,
) -> Result<Value, RenderError> {
    render_sls_with_key_types(host, source, text).map(|(data, _)| data)
}

/// [`render_sls`], and the top-level keys that the YAML renderer read as
/// something other than strings (`123:`), which Salt refuses as state IDs.
pub fn render_sls_with_key_types(
    host: &dyn StateHost,
    source: &SlsSource<'_>,
    text: &str,
) -> Result<(Value, Vec<NonStringKey>), RenderError> {
    let names = JinjaNames {
        extra: &Map::new(),
        is_sls: true,
    };
    run_pipeline(host, source, text, &names)
}

/// Render a file that is data but not a state SLS (a reactor SLS, an
/// included pillar SLS with `defaults`) through its renderer pipeline, with
/// `context` added to Salt's template names. As in Salt's Jinja renderer,
/// the `jinja_sls_env` options apply when there is an SLS name and
/// `jinja_env` when there is none.
pub fn render_data(
    host: &dyn StateHost,
    source: &SlsSource<'_>,
    text: &str,
    context: &Map<String, Value>,
) -> Result<Value, RenderError> {
    let names = JinjaNames {
        extra: context,
        is_sls: !source.sls.is_empty(),
    };
    run_pipeline(host, source, text, &names).map(|(data, _)| data)
}

/// What the Jinja stage of a pipeline adds to Salt's SLS names.
struct JinjaNames<'a> {
    /// Names on top of Salt's (`tag`/`data`, `defaults`).
    extra: &'a Map<String, Value>,
    /// Whether `jinja_sls_env` (rather than `jinja_env`) configures Jinja.
    is_sls: bool,
}

/// Run `text` through the pipeline its shebang names; empty text and a
/// YAML `null` give an empty mapping.
fn run_pipeline(
    host: &dyn StateHost,
    source: &SlsSource<'_>,
    text: &str,
    names: &JinjaNames<'_>,
) -> Result<(Value, Vec<NonStringKey>), RenderError> {
    let fail = |message: String| RenderError {
        saltenv: source.saltenv.to_owned(),
        sls: source.sls.to_owned(),
        message,
    };
    if text.trim().is_empty() {
        return Ok((Value::Object(Map::new()), Vec::new()));
    }
    let pipeline =
        pipeline(text).map_err(|m| fail(format!("{m} (in {})", display_name(source.path))))?;
    let mut stage = Stage::Text(text.to_owned());
    let mut after_jinja = false;
    let mut key_types = Vec::new();
    for renderer in &pipeline {
        let Stage::Text(input) = stage else {
            return Err(fail(format!(
                "the renderer pipeline of {} gives data to a text renderer",
                display_name(source.path)
            )));
        };
        stage = match renderer {
            Renderer::Jinja => {
                let mut context = sls_context(
                    source.path,
                    source.sls,
                    &tplpath(host, source.saltenv, source.path),
                );
                context.extend(names.extra.clone());
                let job = JinjaJob {
                    saltenv: source.saltenv,
                    name: source.path,
                    text: &input,
                    is_sls: names.is_sls,
                    context,
                };
                after_jinja = true;
                Stage::Text(jinja::render(host, &job).map_err(fail)?)
            }
            Renderer::Yaml => {
                let (data, keys) = load_yaml(&input, source.path).map_err(fail)?;
                key_types = keys;
                Stage::Data(data)
            }
            Renderer::Json => {
                Stage::Data(load_json(&input, source.path, after_jinja).map_err(fail)?)
            }
        };
    }
    match stage {
        Stage::Data(Value::Null) => Ok((Value::Object(Map::new()), key_types)),
        Stage::Data(data) => Ok((data, key_types)),
        Stage::Text(_) => Err(fail(format!(
            "the renderer pipeline of {} ends in text, not data",
            display_name(source.path)
        ))),
    }
}

/// Render a Jinja template to text with Salt's context, `tpldir` and
/// friends from `context.path`, and `context.context` on top.
pub fn render_template(
    host: &dyn StateHost,
    text: &str,
    context: &TemplateContext,
) -> Result<String, RenderError> {
    let local = tplpath(host, &context.saltenv, &context.path);
    let mut names = sls_context(&context.path, &context.sls, &local);
    names.insert("sls".to_owned(), Value::from(context.sls.clone()));
    names.extend(context.context.clone());
    let job = JinjaJob {
        saltenv: &context.saltenv,
        name: &context.path,
        text,
        is_sls: false,
        context: names,
    };
    jinja::render(host, &job).map_err(|message| RenderError {
        saltenv: context.saltenv.clone(),
        sls: context.sls.clone(),
        message,
    })
}

/// Render a `file.managed` template as Salt's `file.get_managed` does: no
/// `sls` is passed there, so none of the SLS names (`sls`, `tpldir`,
/// `tplpath`, ...) is defined; `context` (`name`, `source`, `user`, ... and
/// the state's `defaults`/`context`) is all there is besides the globals.
pub fn render_file_template(
    host: &dyn StateHost,
    text: &str,
    saltenv: &str,
    path: &str,
    context: Map<String, Value>,
) -> Result<String, RenderError> {
    let job = JinjaJob {
        saltenv,
        name: path,
        text,
        is_sls: false,
        context,
    };
    jinja::render(host, &job).map_err(|message| RenderError {
        saltenv: saltenv.to_owned(),
        sls: String::new(),
        message,
    })
}

/// The renderer pipeline a text's first line names (`jinja|yaml` of
/// `#!jinja|yaml`), if it has a shebang; `#!/bin/sh` is an interpreter, not
/// a pipeline.
pub fn shebang(text: &str) -> Option<&str> {
    let first = text.lines().next()?;
    let spec = first.strip_prefix("#!")?;
    (!spec.starts_with('/')).then(|| spec.trim())
}

/// The pipeline named by the first line's shebang, or Salt's default.
fn pipeline(text: &str) -> Result<Vec<Renderer>, String> {
    let spec = shebang(text).unwrap_or("jinja|yaml");
    let spec = match spec {
        "yaml_jinja" => "jinja|yaml",
        "json_jinja" => "jinja|json",
        other => other,
    };
    spec.split('|').map(|part| renderer(part.trim())).collect()
}

fn renderer(part: &str) -> Result<Renderer, String> {
    // A renderer may carry arguments after a space (`#!yaml strict`); ours take none.
    let name = part.split_whitespace().next().unwrap_or("");
    match name {
        "jinja" => Ok(Renderer::Jinja),
        "yaml" => Ok(Renderer::Yaml),
        "json" => Ok(Renderer::Json),
        other => Err(format!("The renderer \"{other}\" is not available")),
    }
}

/// Salt's `generate_sls_context`: `sls`, `slspath`, `sls_path`,
/// `slsdotpath`, `slscolonpath`, `tplpath`, `tplfile`, `tpldir`, `tpldot`.
fn sls_context(path: &str, sls: &str, tplpath: &str) -> Map<String, Value> {
    let slspath = brine_common::ids::SlsName::path_of(sls);
    let template = if sls.is_empty() {
        path.rsplit('/').next().unwrap_or(path).to_owned()
    } else if let Some(start) = tail_start(path, &format!("{slspath}.sls")) {
        path[start..].to_owned()
    } else if let Some(start) = tail_start(path, &format!("{slspath}/init.sls")) {
        path[start..].to_owned()
    } else {
        path.to_owned()
    };
    let dir = template
        .rsplit_once('/')
        .map_or("", |(dir, _)| dir)
        .to_owned();
    let mut context = Map::new();
    let mut put = |key: &str, value: String| {
        context.insert(key.to_owned(), Value::String(value));
    };
    put("sls", sls.to_owned());
    put("tplpath", tplpath.to_owned());
    put("tplfile", template.clone());
    put(
        "tpldir",
        if dir.is_empty() {
            ".".to_owned()
        } else {
            dir.clone()
        },
    );
    put("tpldot", dir.replace('/', "."));
    put("slspath", dir.clone());
    put("slsdotpath", dir.replace('/', "."));
    put("slscolonpath", dir.replace('/', ":"));
    put("sls_path", dir.replace('/', "_"));
    context
}

/// Salt's `tplpath`: the local file the template was read from, which for
/// a file-server path is its copy in the minion's cache,
/// `<cachedir>/files/<saltenv>/<path>`; a local path is itself.
fn tplpath(host: &dyn StateHost, saltenv: &str, path: &str) -> String {
    let opts = host.opts();
    cached_path(opts.get("cachedir").and_then(Value::as_str), saltenv, path)
}

/// Where the minion's cache keeps file-server `path` (a local path is
/// itself): the file name Salt's Jinja errors and `tplpath` show.
pub(crate) fn cached_path(cachedir: Option<&str>, saltenv: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    let path = path.strip_prefix("salt://").unwrap_or(path);
    match cachedir {
        Some(cachedir) => format!("{}/files/{saltenv}/{path}", cachedir.trim_end_matches('/')),
        None => path.to_owned(),
    }
}

fn tail_start(path: &str, tail: &str) -> Option<usize> {
    path.ends_with(tail).then(|| path.len() - tail.len())
}

/// Where a data renderer's input came from, for its error messages.
fn data_error(
    kind: &str,
    path: &str,
    after_jinja: bool,
    message: &str,
    line: usize,
    text: &str,
) -> String {
    let file = if after_jinja {
        format!("{} (as rendered by Jinja)", display_name(path))
    } else {
        display_name(path)
    };
    snippet::describe(
        &format!("{kind} error: {message}"),
        &file,
        Some(line),
        Some(text),
    )
}

/// Salt's yaml renderer: a scanner error is reported by its problem alone
/// (libyaml gives Salt no text to quote), any other error as PyYAML prints
/// it, with context and marks.
fn load_yaml(text: &str, path: &str) -> Result<(Value, Vec<NonStringKey>), String> {
    brine_common::yaml::load_with_top_key_types(text, &display_name(path)).map_err(|e| {
        match e.kind {
            YamlErrorKind::Scanner => e.message,
            _ => e.pyyaml_text(),
        }
    })
}

fn load_json(text: &str, path: &str, after_jinja: bool) -> Result<Value, String> {
    // Salt's json renderer drops a leading shebang line; keep the line count.
    let body = match text.strip_prefix("#!") {
        Some(rest) => Cow::Owned(format!(
            "\n{}",
            rest.split_once('\n').map_or("", |(_, body)| body)
        )),
        None => Cow::Borrowed(text),
    };
    serde_json::from_str(&body)
        .map_err(|e| data_error("JSON", path, after_jinja, &e.to_string(), e.line(), &body))
}
