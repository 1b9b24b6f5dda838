//! The Jinja renderer: one minijinja environment per render, with Salt's
//! context as globals (as Salt does, so `import` without `with context`
//! sees it too), the `salt://` loader, Salt's filters and extension tags,
//! Strict undefined (Lenient with `allow_undefined: True`), and the final
//! newline Jinja drops added back.
//!
//! Templates loaded by `import`, `include` and `import_yaml` are compiled
//! once per render and shared by every place that uses them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use brine_common::ids::salt_file;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};
use serde_json::{Map, Value as Json};

use super::bridge::{HostBridge, with_bridge};
use super::filters::{self, invalid};
use super::jinja_errors;
use super::mutable::make_mutable;
use super::preprocess::preprocessed;
use super::salt::{HostData, SaltObject};
use super::snippet;
use super::values::from_json;
use crate::host::StateHost;

/// One template to render.
pub(crate) struct JinjaJob<'a> {
    pub(crate) saltenv: &'a str,
    /// The template's name: its path in the environment, or a local path.
    pub(crate) name: &'a str,
    pub(crate) text: &'a str,
    /// Whether the template is an SLS file (selects `jinja_sls_env` over `jinja_env`).
    pub(crate) is_sls: bool,
    /// Context beyond `salt`, `grains`, `pillar`, `opts` and `saltenv`.
    pub(crate) context: Map<String, Json>,
}

/// The original text of every template used in a render, by name, for error messages.
type Sources = Arc<Mutex<HashMap<String, String>>>;

fn lock(sources: &Sources) -> MutexGuard<'_, HashMap<String, String>> {
    sources
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Renders `job` to text, or gives the error message Salt would (file,
/// line, the lines around it).
pub(crate) fn render(host: &dyn StateHost, job: &JinjaJob<'_>) -> Result<String, String> {
    let data = Arc::new(HostData {
        grains: Json::Object(host.grains()),
        pillar: Json::Object(host.pillar()),
        opts: Json::Object(host.opts()),
    });
    let output = with_bridge(host, |bridge| render_with(bridge, data, job))?;
    Ok(add_back_newline(job.text, output))
}

/// Salt adds back the final newline that Jinja drops.
fn add_back_newline(source: &str, mut output: String) -> String {
    if source.ends_with("\r\n") {
        output.push_str("\r\n");
    } else if source.ends_with('\n') {
        output.push('\n');
    }
    output
}

fn render_with(
    bridge: HostBridge,
    data: Arc<HostData>,
    job: &JinjaJob<'_>,
) -> Result<String, String> {
    let sources: Sources = Arc::default();
    let (file_options, text) = file_options(job.text);
    let cachedir = data
        .opts
        .get("cachedir")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let mut env = environment(bridge, data, job, sources.clone(), file_options.as_ref());
    lock(&sources).insert(job.name.to_owned(), text.to_string());
    let compiled = preprocessed(&text);
    let result = env
        .add_template_owned(job.name.to_owned(), compiled)
        .and_then(|()| env.get_template(job.name))
        .and_then(|template| template.render(()));
    let file_of = |name: &str| super::cached_path(cachedir.as_deref(), job.saltenv, name);
    result.map_err(|error| describe(&error, job.name, &lock(&sources), &file_of))
}

fn environment(
    bridge: HostBridge,
    data: Arc<HostData>,
    job: &JinjaJob<'_>,
    sources: Sources,
    file_options: Option<&Map<String, Json>>,
) -> Environment<'static> {
    let mut env = BASE_ENVIRONMENT.clone();
    let base = syntax(&data.opts, job.is_sls);
    env.set_syntax(match file_options {
        Some(options) => apply_options(&base, options),
        None => base,
    });
    env.set_undefined_behavior(undefined_behavior(&data.opts));
    env.set_loader(loader(bridge.clone(), job.saltenv.to_owned(), sources));
    add_globals(&mut env, bridge, data, job);
    env
}

/// What every render's environment has, whatever the job: the filters,
/// functions and callbacks. Built once; a render clones it (filters and
/// functions are shared, not rebuilt) and adds its syntax, loader and
/// globals. Registering them anew for every SLS file was a tenth of a
/// formula's render.
static BASE_ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // Salt's render errors name what was undefined (`'dict object' has no
    // attribute 'x'`); minijinja keeps that only in debug mode, which is
    // otherwise on in debug builds alone: release builds said "undefined
    // value" (conformance case err-jinja).
    env.set_debug(true);
    // Salt never auto-escapes; minijinja would for `.json`, `.html`, ... names.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_unknown_method_callback(super::methods::callback);
    env.set_path_join_callback(|name, parent| Cow::Owned(join_path(name, parent)));
    filters::register(&mut env);
    add_functions(&mut env);
    env
});

/// Salt's per-file header (3006.28+): `#jinja2: {"trim_blocks": true}` on
/// the first line, or on the second after a renderer shebang (`#!jinja|yaml`,
/// not `#!/bin/sh`), a JSON object of Jinja environment options for this
/// render; the header line is removed. A bare, malformed or non-object
/// header is left in the text, as Salt leaves it.
fn file_options(text: &str) -> (Option<Map<String, Json>>, Cow<'_, str>) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.is_empty() {
        return (None, Cow::Borrowed(text));
    }
    let index = usize::from(super::shebang(text).is_some());
    let Some(payload) = lines
        .get(index)
        .and_then(|line| line.strip_prefix("#jinja2:"))
    else {
        return (None, Cow::Borrowed(text));
    };
    match serde_json::from_str::<Json>(payload.trim()) {
        Ok(Json::Object(options)) => {
            let mut rest = String::with_capacity(text.len());
            for (i, line) in lines.iter().enumerate() {
                if i != index {
                    rest.push_str(line);
                }
            }
            (Some(options), Cow::Owned(rest))
        }
        _ => (None, Cow::Borrowed(text)),
    }
}

/// Jinja environment options (`jinja2.defaults` names, any case) over `base`.
fn apply_options(base: &SyntaxConfig, options: &Map<String, Json>) -> SyntaxConfig {
    let mut builder = base.to_builder();
    let (blocks, variables, comments) = (
        base.block_delimiters(),
        base.variable_delimiters(),
        base.comment_delimiters(),
    );
    let mut delimiters = [
        (blocks.0.to_owned(), blocks.1.to_owned()),
        (variables.0.to_owned(), variables.1.to_owned()),
        (comments.0.to_owned(), comments.1.to_owned()),
    ];
    for (key, value) in options {
        let text = value.as_str().map(str::to_owned);
        match (key.to_lowercase().as_str(), value) {
            ("trim_blocks", Json::Bool(b)) => {
                builder.trim_blocks(*b);
            }
            ("lstrip_blocks", Json::Bool(b)) => {
                builder.lstrip_blocks(*b);
            }
            ("keep_trailing_newline", Json::Bool(b)) => {
                builder.keep_trailing_newline(*b);
            }
            ("line_statement_prefix", _) => {
                if let Some(prefix) = text {
                    builder.line_statement_prefix(prefix);
                }
            }
            ("line_comment_prefix", _) => {
                if let Some(prefix) = text {
                    builder.line_comment_prefix(prefix);
                }
            }
            ("block_start_string", _) => delimiters[0].0 = text.unwrap_or_default(),
            ("block_end_string", _) => delimiters[0].1 = text.unwrap_or_default(),
            ("variable_start_string", _) => delimiters[1].0 = text.unwrap_or_default(),
            ("variable_end_string", _) => delimiters[1].1 = text.unwrap_or_default(),
            ("comment_start_string", _) => delimiters[2].0 = text.unwrap_or_default(),
            ("comment_end_string", _) => delimiters[2].1 = text.unwrap_or_default(),
            _ => {}
        }
    }
    let [b, v, c] = delimiters;
    builder
        .block_delimiters(b.0, b.1)
        .variable_delimiters(v.0, v.1)
        .comment_delimiters(c.0, c.1);
    builder.build().unwrap_or_else(|_| base.clone())
}

/// `trim_blocks` and `lstrip_blocks` from `jinja_sls_env` (SLS files) or
/// `jinja_env` (other templates), or the older `jinja_trim_blocks` and
/// `jinja_lstrip_blocks`. Both are off by default, as in Salt.
fn syntax(opts: &Json, is_sls: bool) -> SyntaxConfig {
    let section = opts.get(if is_sls { "jinja_sls_env" } else { "jinja_env" });
    let flag = |name: &str| {
        section
            .and_then(|s| s.get(name))
            .and_then(Json::as_bool)
            .unwrap_or(false)
            || opts
                .get(format!("jinja_{name}").as_str())
                .and_then(Json::as_bool)
                .unwrap_or(false)
    };
    SyntaxConfig::builder()
        .trim_blocks(flag("trim_blocks"))
        .lstrip_blocks(flag("lstrip_blocks"))
        .build()
        .unwrap_or_default()
}

fn undefined_behavior(opts: &Json) -> UndefinedBehavior {
    if opts
        .get("allow_undefined")
        .and_then(Json::as_bool)
        .unwrap_or(false)
    {
        UndefinedBehavior::Lenient
    } else {
        UndefinedBehavior::Strict
    }
}

/// The `salt://` loader: a name is a path in the render's environment
/// (`salt://` optional); sources go through the preprocessor.
fn loader(
    bridge: HostBridge,
    saltenv: String,
    sources: Sources,
) -> impl Fn(&str) -> Result<Option<String>, Error> + Send + Sync + 'static {
    move |name| {
        let path = name.strip_prefix("salt://").unwrap_or(name);
        let file = salt_file(&saltenv, path).map_err(|e| e.to_string());
        let bytes = file
            .and_then(|(env, rel)| bridge.read_file(&env, &rel))
            .map_err(|e| {
                Error::new(
                    ErrorKind::TemplateNotFound,
                    format!("cannot read salt://{path}: {e}"),
                )
            })?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("salt://{path} is not UTF-8"),
            )
        })?;
        let compiled = preprocessed(&text);
        lock(&sources).insert(name.to_owned(), text);
        Ok(Some(compiled))
    }
}

/// Resolves `./x` and `../x` against the parent template's directory;
/// other names are paths from the environment's root (`salt://` dropped).
pub(crate) fn join_path(name: &str, parent: &str) -> String {
    let name = name.strip_prefix("salt://").unwrap_or(name);
    if !(name.starts_with("./") || name.starts_with("../")) {
        return name.to_owned();
    }
    let mut parts: Vec<&str> = parent.split('/').collect();
    parts.pop();
    for segment in name.split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join("/")
}

#[derive(Clone, Copy)]
enum Format {
    Yaml,
    Json,
    Text,
}

fn parse(format: Format, text: &str, name: &str) -> Result<Value, Error> {
    let value = match format {
        Format::Yaml => brine_common::yaml::load(text, name)
            .map(from_json)
            .map_err(|e| invalid(format!("Unable to load YAML from {name}: {e}")))?,
        Format::Json => serde_json::from_str(text)
            .map(from_json)
            .map_err(|e| invalid(format!("Unable to load JSON from {name}: {e}")))?,
        Format::Text => Value::from(text),
    };
    Ok(make_mutable(value))
}

/// `import_yaml` and friends: render the named template, then load it.
fn import(state: &State<'_, '_>, name: &str, format: Format) -> Result<Value, Error> {
    let resolved = join_path(name, state.name());
    let text = state.env().get_template(&resolved)?.render(())?;
    parse(format, &text, &resolved)
}

fn add_functions(env: &mut Environment<'static>) {
    env.add_function("__salt_import_yaml", |s: &State<'_, '_>, n: String| {
        import(s, &n, Format::Yaml)
    });
    env.add_function("__salt_import_json", |s: &State<'_, '_>, n: String| {
        import(s, &n, Format::Json)
    });
    env.add_function("__salt_import_text", |s: &State<'_, '_>, n: String| {
        import(s, &n, Format::Text)
    });
    env.add_function("__salt_load_yaml", |t: String| {
        parse(Format::Yaml, &t, "<load_yaml>")
    });
    env.add_function("__salt_load_json", |t: String| {
        parse(Format::Json, &t, "<load_json>")
    });
    env.add_function("__salt_load_text", |t: String| {
        parse(Format::Text, &t, "<load_text>")
    });
    env.add_function("__salt_mutable", make_mutable);
    env.add_function(
        "__salt_percent",
        |format: String, operand: Value, is_tuple: bool| {
            super::percent::percent(&format, operand, is_tuple)
        },
    );
    env.add_function("namespace", super::mutable::namespace);
    env.add_function("__salt_include", super::calls::include);
    // `{% do %}` of any expression: evaluated, the value dropped.
    env.add_function("__salt_discard", |_value: Value| ());
    env.add_function("__salt_varargs_macro", super::calls::varargs_macro);
    env.add_function(
        "odict",
        |args: minijinja::value::Rest<minijinja::value::ValueOrKwargs>| {
            super::calls::odict(&args.into_values())
        },
    );
    env.add_test("callable", |v: &Value| super::calls::is_callable(v));
}

fn add_globals(
    env: &mut Environment<'static>,
    bridge: HostBridge,
    data: Arc<HostData>,
    job: &JinjaJob<'_>,
) {
    env.add_global("grains", from_json(data.grains.clone()));
    env.add_global("pillar", from_json(data.pillar.clone()));
    env.add_global("opts", from_json(data.opts.clone()));
    env.add_global("saltenv", job.saltenv.to_owned());
    env.add_global("salt", Value::from_object(SaltObject { bridge, data }));
    for (key, value) in &job.context {
        env.add_global(key.clone(), from_json(value.clone()));
    }
}

/// Salt's message for a Jinja failure: what kind, the detail, the file,
/// the line and the lines around it (of the template that failed, which
/// may be an imported one).
/// Salt's text for a failed render: Jinja2's message, then for the SLS or
/// template itself (which Salt renders from a string) `; line N` and the
/// lines around it; for an error inside an imported file, that file as Salt
/// read it (`file_of`: its copy in the cache) with `(N):` and the lines.
fn describe(
    error: &Error,
    main: &str,
    sources: &HashMap<String, String>,
    file_of: &dyn Fn(&str) -> String,
) -> String {
    let innermost = innermost(error);
    let name = innermost.name().unwrap_or(main);
    let text = sources.get(name).map(String::as_str);
    let message = jinja_errors::salt_message(innermost, text);
    let Some(line) = innermost.line() else {
        return message;
    };
    let block = text.and_then(|t| snippet::context(t, line));
    match block {
        Some(block) if name == main => format!("{message}; line {line}\n\n{block}"),
        None if name == main => format!("{message}; line {line}"),
        Some(block) => format!("{message}\n{}({line}):\n{block}", file_of(name)),
        None => format!("{message}\n{}({line}):\n", file_of(name)),
    }
}

/// The deepest error in the chain that knows where it happened.
fn innermost(error: &Error) -> &Error {
    let mut best = error;
    let mut current: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(next) = current {
        if let Some(inner) = next.downcast_ref::<Error>()
            && inner.line().is_some()
        {
            best = inner;
        }
        current = next.source();
    }
    best
}

/// `salt://path` for a file-server path; a local path as it is.
pub(crate) fn display_name(name: &str) -> String {
    if name.starts_with('/') || name.starts_with("salt://") {
        name.to_owned()
    } else {
        format!("salt://{name}")
    }
}
