//! Salt's `slsutil` module: helpers formulas call while rendering —
//! merging data (`merge`, `merge_all`, `update`, with Salt's strategies from
//! [`super::dictupdate`]), `boolstr`, whether a path exists on the file
//! server (`file_exists`, `dir_exists`, `path_exists`, `findup`), the `yaml`
//! and `json` serializers (`serialize`, `deserialize`) and `renderer`.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python::{self, to_str, truthy};
use brine_common::salt_url;
use brine_common::typed_key::TypedKey;
use serde_json::{Map, Value};

use super::MinionCtx;
use super::dictupdate;
use super::process::Args;
use brine_common::output::python::python_type;

const UPDATE_SIG: &str = "dest, upd, recursive_update=True, merge_lists=False";
const MERGE_SIG: &str = "obj_a, obj_b, strategy='smart', renderer='yaml', merge_lists=False";
const MERGE_ALL_SIG: &str = "lst, strategy='smart', renderer='yaml', merge_lists=False";
const EXISTS_SIG: &str = "path, saltenv='base'";
const SERIALIZE_SIG: &str = "serializer, obj, **mod_kwargs";
const DESERIALIZE_SIG: &str = "serializer, stream_or_string, **mod_kwargs";
const BANNER_SIG: &str = "width=72, commentchar='#', borderchar='#', blockstart=None, blockend=None, title=None, text=None, newline=False";
const RENDERER_SIG: &str = "path=None, string=None, default_renderer='jinja|yaml', **kwargs";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "slsutil.update",
        UPDATE_SIG,
        UPDATE_DOC,
        |_, call| async move { update(&Args::bind(&call, UPDATE_SIG)) },
    );
    f.register(
        "slsutil.merge",
        MERGE_SIG,
        MERGE_DOC,
        |_, call| async move { merge(&Args::bind(&call, MERGE_SIG)) },
    );
    f.register(
        "slsutil.merge_all",
        MERGE_ALL_SIG,
        MERGE_ALL_DOC,
        |_, call| async move { merge_all(&Args::bind(&call, MERGE_ALL_SIG)) },
    );
    f.register(
        "slsutil.banner",
        BANNER_SIG,
        BANNER_DOC,
        |_, call| async move { banner(&Args::bind(&call, BANNER_SIG)).map(FnOutput::from) },
    );
    f.register(
        "slsutil.boolstr",
        "value, true='true', false='false'",
        BOOLSTR_DOC,
        |_, call| async move { Ok(boolstr(&call).into()) },
    );
    f.register(
        "slsutil.file_exists",
        EXISTS_SIG,
        FILE_EXISTS_DOC,
        |ctx, call| async move { exists(&ctx, &call, Kind::File).await },
    );
    f.register(
        "slsutil.dir_exists",
        EXISTS_SIG,
        DIR_EXISTS_DOC,
        |ctx, call| async move { exists(&ctx, &call, Kind::Dir).await },
    );
    f.register(
        "slsutil.path_exists",
        EXISTS_SIG,
        PATH_EXISTS_DOC,
        |ctx, call| async move { exists(&ctx, &call, Kind::Any).await },
    );
    f.register(
        "slsutil.findup",
        "startpath, filenames, saltenv='base'",
        FINDUP_DOC,
        |ctx, call| async move { findup(&ctx, &call).await },
    );
    f.register(
        "slsutil.serialize",
        SERIALIZE_SIG,
        SERIALIZE_DOC,
        |_, call| async move { serialize(&call) },
    );
    f.register(
        "slsutil.deserialize",
        DESERIALIZE_SIG,
        DESERIALIZE_DOC,
        |_, call| async move { deserialize(&call) },
    );
    f.register(
        "slsutil.renderer",
        RENDERER_SIG,
        RENDERER_DOC,
        |ctx, call| async move { renderer(ctx, call).await },
    );
}

const UPDATE_DOC: &str = "Merge ``upd`` recursively into ``dest``\n\nIf ``merge_lists=True``, will aggregate list object types instead of\nreplacing. This behavior is only activated when ``recursive_update=True``.\n\nCLI Example:\n\n    brine '*' slsutil.update '{foo: Foo}' '{bar: Bar}'";
const MERGE_DOC: &str = "Merge a data structure into another by choosing a merge strategy\n\nStrategies:\n\n* aggregate\n* list\n* overwrite\n* recurse\n* smart\n\nCLI Example:\n\n    brine '*' slsutil.merge '{foo: Foo}' '{bar: Bar}'";
const MERGE_ALL_DOC: &str = "Merge a list of objects into each other in order\n\n:type lst: Iterable\n:param lst: List of objects to be merged.\n\n:type strategy: String\n:param strategy: Merge strategy. See utils.dictupdate.\n\n:type renderer: String\n:param renderer:\n    Renderer type. Used to determine strategy when strategy is 'smart'.\n\n:type merge_lists: Bool\n:param merge_lists: Defines whether to merge embedded object lists.\n\nCLI Example:\n\n    brine-call --output=txt slsutil.merge_all '[{foo: Foo}, {foo: Bar}]'";
const BANNER_DOC: &str = "Create a standardized comment block to include in a templated file.\n\nA common technique in configuration management is to include a comment\nblock in managed files, warning users not to modify the file. This\nfunction simplifies and standardizes those comment blocks.\n\n:param width: The width, in characters, of the banner. Default is 72.\n:param commentchar: The character to be used in the starting position of\n    each line. This value should be set to a valid line comment character\n    for the syntax of the file in which the banner is being inserted.\n:param borderchar: The character to use in the top and bottom border of\n    the comment box. Must be a single character.\n:param blockstart: The character sequence to use at the beginning of a\n    block comment.\n:param blockend: The character sequence to use at the end of a\n    block comment.\n:param title: The first field of the comment block, centered at the top.\n:param text: The second field of the comment block, left-justified.\n:param newline: Whether the comment block should end with a newline.\n\nCLI Example:\n\n    brine '*' slsutil.banner width=40";
const BOOLSTR_DOC: &str = "Convert a boolean value into a string. This function is\nintended to be used from within file templates to provide\nan easy way to take boolean values stored in Pillars or\nGrains, and write them out in the appropriate syntax for\na particular file template.\n\n:param value: The boolean value to be converted\n:param true: The value to return if ``value`` is ``True``\n:param false: The value to return if ``value`` is ``False``\n\nCLI Example:\n\n    brine '*' slsutil.boolstr True";
const FILE_EXISTS_DOC: &str = "Return ``True`` if a file exists in the state tree, ``False`` otherwise.\n\n:param str path: The fully qualified path to a file in the state tree.\n:param str saltenv: The fileserver environment to search. Default: ``base``\n\nCLI Example:\n\n    brine '*' slsutil.file_exists nginx/defaults.yaml";
const DIR_EXISTS_DOC: &str = "Return ``True`` if a directory exists in the state tree, ``False`` otherwise.\n\n:param str path: The fully qualified path to a directory in the state tree.\n:param str saltenv: The fileserver environment to search. Default: ``base``\n\nCLI Example:\n\n    brine '*' slsutil.dir_exists nginx/files";
const PATH_EXISTS_DOC: &str = "Return ``True`` if a path exists in the state tree, ``False`` otherwise. The path\ncould refer to a file or directory.\n\n:param str path: The fully qualified path to a file or directory in the state tree.\n:param str saltenv: The fileserver environment to search. Default: ``base``\n\nCLI Example:\n\n    brine '*' slsutil.path_exists nginx/defaults.yaml";
const FINDUP_DOC: &str = "Find the first path matching a filename or list of filenames in a specified\ndirectory or the nearest ancestor directory. Returns the full path to the\nfirst file found.\n\n:param str startpath: The fileserver path from which to begin the search.\n    An empty string refers to the state tree root.\n:param filenames: A filename or list of filenames to search for. Searching for\n    directory names is also supported.\n:param str saltenv: The fileserver environment to search. Default: ``base``\n\nCLI Example:\n\n    brine '*' slsutil.findup formulas/shared/nginx map.jinja";
const SERIALIZE_DOC: &str = "Serialize a Python object using one of the available\n:ref:`all-salt.serializers` (here: ``yaml`` and ``json``).\n\nCLI Example:\n\n    brine '*' --no-parse=obj slsutil.serialize 'json' obj=\"{'foo': 'Foo!'}\n\nJinja Example:\n\n    {% set json_string = salt['slsutil.serialize']('json',\n        {'foo': 'Foo!'}) %}";
const DESERIALIZE_DOC: &str = "Deserialize a Python object using one of the available\n:ref:`all-salt.serializers` (here: ``yaml`` and ``json``).\n\nCLI Example:\n\n    brine '*' slsutil.deserialize 'json' '{\"foo\": \"Foo!\"}'\n    brine '*' --no-parse=stream_or_string slsutil.deserialize 'json' \\\n        stream_or_string='{\"foo\": \"Foo!\"}'\n\nJinja Example:\n\n    {% set python_object = salt['slsutil.deserialize']('json',\n        '{\"foo\": \"Foo!\"}') %}";
const RENDERER_DOC: &str = "Parse a string or file through Salt's renderer system\n\n:param path: The path to a file on Salt's fileserver (``salt://...``) or on\n    the local file system.\n:param string: An inline string to be used as the file to send through the\n    renderer system.\n:param default_renderer: The renderer pipe to send the file through; this\n    is overridden by a \"she-bang\" at the top of the file.\n:param kwargs: Keyword args to pass to the template (``saltenv`` picks the\n    file server environment).\n\nCLI Example:\n\n    brine-call slsutil.renderer salt://path/to/file\n    brine-call slsutil.renderer /path/to/file\n    brine-call slsutil.renderer default_renderer='jinja' string='{{ 1 + 1 }}'";

/// A parameter bound by [`Args::bind`], `None` included (Salt passes it on).
fn value(args: &Args, name: &str) -> Value {
    args.named().get(name).cloned().unwrap_or(Value::Null)
}

fn update(args: &Args) -> Result<FnOutput, FnError> {
    let out = dictupdate::update(
        value(args, "dest"),
        value(args, "upd"),
        args.bool("recursive_update", true),
        args.bool("merge_lists", false),
    )?;
    Ok(out.into())
}

/// The strategy, renderer and `merge_lists` of `merge` and `merge_all`.
fn merge_options(args: &Args) -> (String, String, bool) {
    (
        args.str_or("strategy", "smart"),
        args.str_or("renderer", "yaml"),
        args.bool("merge_lists", false),
    )
}

fn merge(args: &Args) -> Result<FnOutput, FnError> {
    let (strategy, renderer, merge_lists) = merge_options(args);
    let out = dictupdate::merge(
        value(args, "obj_a"),
        value(args, "obj_b"),
        &strategy,
        &renderer,
        merge_lists,
    )?;
    Ok(out.into())
}

/// Merge each item of `lst` in turn into `{}`.
fn merge_all(args: &Args) -> Result<FnOutput, FnError> {
    let (strategy, renderer, merge_lists) = merge_options(args);
    let mut out = Value::Object(Map::new());
    for item in python_iter(value(args, "lst"))? {
        out = dictupdate::merge(out, item, &strategy, &renderer, merge_lists)?;
    }
    Ok(out.into())
}

/// What Python's `for x in value` yields: a list's items, a dict's keys, a
/// string's characters; anything else is not iterable.
fn python_iter(value: Value) -> Result<Vec<Value>, FnError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(map) => Ok(map.into_iter().map(|(k, _)| Value::String(k)).collect()),
        Value::String(s) => Ok(s.chars().map(|c| Value::String(c.to_string())).collect()),
        other => Err(FnError::Type(format!(
            "'{}' object is not iterable",
            python_type(&other)
        ))),
    }
}

/// `true` if `value` is truthy, else `false` (the given values, as given).
/// Salt's `slsutil.banner`: a "managed by Salt" comment box for templates.
fn banner(args: &Args) -> Result<Value, FnError> {
    const TITLE: &str = "THIS FILE IS MANAGED BY SALT - DO NOT EDIT";
    const TEXT: &str = "The contents of this file are managed by Salt. Any changes to this file may be overwritten automatically and without warning.";
    let width = usize::try_from(args.int("width", 72)?).unwrap_or(0);
    let commentchar = args.str_or("commentchar", "#");
    let borderchar = args.str_or("borderchar", "#");
    let title = args.str_or("title", TITLE);
    let text = args.str_or("text", TEXT);
    let ledge = commentchar.trim_end();
    let redge = commentchar.trim();
    let (lgutter, rgutter) = (format!("{ledge} "), format!(" {redge}"));
    let len = |s: &str| s.chars().count();
    let textwidth = width as i64 - len(&lgutter) as i64 - len(&rgutter) as i64;
    let Ok(textwidth) = usize::try_from(textwidth) else {
        return Err(FnError::Invocation(
            "Width is too small to render banner".into(),
        ));
    };
    if textwidth == 0 {
        return Err(FnError::Invocation(
            "Width is too small to render banner".into(),
        ));
    }
    let border_fill: String = borderchar
        .chars()
        .take(1)
        .collect::<String>()
        .repeat(width.saturating_sub(len(ledge) + len(redge)));
    let border = format!("{commentchar}{border_fill}{redge}");
    let spacer = format!(
        "{commentchar}{}{commentchar}",
        " ".repeat(width.saturating_sub(len(&commentchar) * 2))
    );
    let mut block: Vec<String> = args.str("blockstart").into_iter().collect();
    block.push(border.clone());
    block.push(spacer.clone());
    for line in python::wrap(&title, textwidth) {
        block.push(format!(
            "{lgutter}{}{rgutter}",
            python::center(&line, textwidth, ' ')
        ));
    }
    block.push(spacer);
    for line in python::wrap(&text, textwidth) {
        let pad = " ".repeat(textwidth.saturating_sub(len(&line)));
        block.push(format!("{lgutter}{line}{pad}{rgutter}"));
    }
    block.push(border);
    block.extend(args.str("blockend"));
    let mut banner = block.join("\n");
    if args.bool("newline", false) {
        banner.push('\n');
    }
    Ok(Value::String(banner))
}

fn boolstr(call: &Call) -> Value {
    let pick = |index: usize, name: &str, default: &str| {
        call.param(index, name)
            .cloned()
            .unwrap_or_else(|| Value::String(default.to_string()))
    };
    if call.param(0, "value").is_some_and(truthy) {
        pick(1, "true", "true")
    } else {
        pick(2, "false", "false")
    }
}

/// Which kind of path `*_exists` looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Any,
}

/// The files and the directories of an environment on the file server.
async fn tree(ctx: &MinionCtx, saltenv: &str) -> Result<(Vec<String>, Vec<String>), FnError> {
    let files = super::cp::master_files(ctx, saltenv, "").await?;
    let dirs = super::cp::dirs_of(&files, "");
    Ok((files, dirs))
}

fn saltenv(call: &Call, index: usize) -> String {
    call.param(index, "saltenv")
        .filter(|v| !v.is_null())
        .map(to_str)
        .unwrap_or_else(|| "base".to_string())
}

async fn exists(ctx: &MinionCtx, call: &Call, kind: Kind) -> Result<FnOutput, FnError> {
    let path = call.param(0, "path").map(to_str).unwrap_or_default();
    let (files, dirs) = tree(ctx, &saltenv(call, 1)).await?;
    Ok(Value::Bool(path_in(&files, &dirs, &path, kind)).into())
}

fn path_in(files: &[String], dirs: &[String], path: &str, kind: Kind) -> bool {
    let in_files = || files.iter().any(|f| f == path);
    let in_dirs = || dirs.iter().any(|d| d == path);
    match kind {
        Kind::File => in_files(),
        Kind::Dir => in_dirs(),
        Kind::Any => in_files() || in_dirs(),
    }
}

/// Salt's `findup`: the first of `filenames` found in `startpath` or the
/// nearest directory above it.
async fn findup(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let (files, dirs) = tree(ctx, &saltenv(call, 2)).await?;
    let start = call
        .param(0, "startpath")
        .filter(|v| truthy(v))
        .map(|v| normpath(&to_str(v)));
    if let Some(start) = &start
        && !path_in(&files, &dirs, start, Kind::Any)
    {
        return Err(FnError::Invocation(format!(
            "Starting path not found in the state tree: {start}"
        )));
    }
    let names = match call.param(1, "filenames") {
        Some(Value::String(name)) => vec![name.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().map(to_str).collect()
        }
        _ => {
            return Err(FnError::Invocation(
                "Filenames argument must be a string or list of strings".into(),
            ));
        }
    };
    let mut dir = start.unwrap_or_default();
    loop {
        for name in &names {
            let full = join(&dir, name);
            if path_in(&files, &dirs, &full, Kind::Any) {
                return Ok(Value::String(full).into());
            }
        }
        if dir.is_empty() {
            return Err(FnError::Execution(
                "File pattern(s) not found in path ancestry".into(),
            ));
        }
        dir = dir
            .rsplit_once('/')
            .map(|(up, _)| up.to_string())
            .unwrap_or_default();
    }
}

/// Python's `posixpath.join(dir, name)` for relative file-server paths.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || name.starts_with('/') {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Python's `posixpath.normpath` (no `..` past the start is kept).
fn normpath(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// The serializer's name; Salt's error for one it does not have.
fn serializer(call: &Call) -> Result<String, FnError> {
    let name = call.param(0, "serializer").map(to_str).unwrap_or_default();
    match name.as_str() {
        "yaml" | "json" => Ok(name),
        "configparser" | "msgpack" | "plist" | "python" | "toml" | "tomlmod" | "yamlex" => {
            Err(FnError::Execution(format!(
                "Serializer '{name}' is not available in Brine (yaml and json are)."
            )))
        }
        _ => Err(FnError::Execution(format!(
            "Serializer '{name}' not found."
        ))),
    }
}

fn serialize(call: &Call) -> Result<FnOutput, FnError> {
    let name = serializer(call)?;
    let obj = call.param(1, "obj").cloned().unwrap_or(Value::Null);
    let text = if name == "json" {
        json_dumps(&obj)
    } else {
        yaml_dump(&obj)
    };
    Ok(Value::String(text).into())
}

/// Python's `json.dumps(obj)` with `ensure_ascii=False` (Salt's default).
fn json_dumps(value: &Value) -> String {
    use brine_common::output::{OutputFormat, OutputOptions, render_value};
    let opts = OutputOptions {
        indent: Some(-1),
        ..OutputOptions::default()
    };
    render_value(OutputFormat::Json, &opts, value)
        .trim_end_matches('\n')
        .to_string()
}

/// PyYAML's `yaml.dump(obj, default_flow_style=None)` as Salt's yaml
/// serializer strips it: collections of scalars in flow style, others in
/// block style; no trailing newline or `...` document end.
fn yaml_dump(value: &Value) -> String {
    if is_leaf(value) {
        return inline(value);
    }
    let mut lines = Vec::new();
    block(value, 0, &mut lines);
    lines.join("\n")
}

/// A scalar, or a collection holding only scalars (flow style).
fn is_leaf(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.iter().any(is_collection),
        Value::Object(map) => !map.values().any(is_collection),
        _ => true,
    }
}

fn is_collection(value: &Value) -> bool {
    value.is_array() || value.is_object()
}

/// A leaf written on one line: a flow collection or a plain/quoted scalar.
fn inline(value: &Value) -> String {
    if is_collection(value) {
        return brine_common::yaml::dump_flow(value);
    }
    let text = brine_common::yaml::dump_block(value);
    let text = text.strip_suffix("\n...\n").unwrap_or(&text);
    text.trim_end_matches('\n').to_string()
}

/// A non-leaf collection in block style, `indent` spaces in; sequences in
/// a mapping are not indented, as PyYAML writes them.
fn block(value: &Value, indent: usize, lines: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                // A `None`/bool/inf key (a marker) as PyYAML writes it: `null:`.
                let key = match TypedKey::parse(key) {
                    Some(typed) => typed.yaml().to_owned(),
                    None => inline(&Value::String(key.clone())),
                };
                if is_leaf(item) {
                    lines.push(format!("{pad}{key}: {}", inline(item)));
                } else {
                    lines.push(format!("{pad}{key}:"));
                    let nested = if item.is_array() { indent } else { indent + 2 };
                    block(item, nested, lines);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if is_leaf(item) {
                    lines.push(format!("{pad}- {}", inline(item)));
                    continue;
                }
                let first = lines.len();
                block(item, indent + 2, lines);
                if let Some(line) = lines.get_mut(first) {
                    *line = format!("{pad}- {}", &line[indent + 2..]);
                }
            }
        }
        _ => lines.push(format!("{pad}{}", inline(value))),
    }
}

fn deserialize(call: &Call) -> Result<FnOutput, FnError> {
    let name = serializer(call)?;
    let text = match call.param(1, "stream_or_string") {
        Some(Value::String(text)) => text.clone(),
        other => {
            let kind = other.map_or("NoneType", python_type);
            let message = if name == "json" {
                format!("'{kind}' object has no attribute 'read'")
            } else {
                "a string or stream input is required".to_string()
            };
            return Err(deserialization_error(message));
        }
    };
    let data = if name == "json" {
        serde_json::from_str(&text).map_err(|e| deserialization_error(e.to_string()))?
    } else {
        brine_common::yaml::load(&text, "<unicode string>")
            .map_err(|e| deserialization_error(e.to_string()))?
    };
    Ok(FnOutput::from(data))
}

fn deserialization_error(message: String) -> FnError {
    FnError::Exception(format!("salt.serializers.DeserializationError: {message}"))
}

/// Salt's `slsutil.renderer`: a file (`salt://` or local) or a string through
/// a renderer pipeline (its shebang, else `default_renderer`).
async fn renderer(ctx: MinionCtx, call: Call) -> Result<FnOutput, FnError> {
    let args = Args::bind(&call, RENDERER_SIG);
    let (path, string) = (args.str("path"), args.str("string"));
    let saltenv = args.str_or("saltenv", "base");
    let (text, name) = match (path, string) {
        (None, None) => return Err(FnError::Invocation("Must pass path or string.".into())),
        (Some(_), Some(_)) => {
            return Err(FnError::Invocation(
                "Must not pass both path and string.".into(),
            ));
        }
        (None, Some(string)) => (string, String::new()),
        (Some(path), None) => read_source(&ctx, &saltenv, &path).await?,
    };
    let pipeline = args.str_or("default_renderer", "jinja|yaml");
    let context: Map<String, Value> = call
        .user_kwargs()
        .into_iter()
        .filter(|(k, _)| !RENDERER_SIG.contains(&format!("{k}=")))
        .collect();
    let functions = ctx
        .registry()
        .ok_or_else(|| FnError::Execution("the function registry is gone".into()))?;
    let pillar = ctx.pillar();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let host = crate::state_host::MinionStateHost::new(ctx, functions, handle, pillar);
        render(&*host, &text, &pipeline, &saltenv, &name, context)
    })
    .await
    .map_err(|e| FnError::Exception(e.to_string()))?
    .map(FnOutput::from)
}

/// The text of `salt://path` (and its path in the environment) or of a
/// local file.
async fn read_source(
    ctx: &MinionCtx,
    saltenv: &str,
    path: &str,
) -> Result<(String, String), FnError> {
    let (bytes, name) = match salt_url::file_of(path, saltenv) {
        Some(file) => {
            let client = crate::fileclient::FileClient::new(&ctx.config, ctx.upstream());
            let (env, file) = file.map_err(|e| FnError::Execution(e.to_string()))?;
            let bytes = client
                .read_file(&env, &file)
                .await
                .map_err(FnError::Execution)?
                .ok_or_else(|| FnError::Execution(format!("Template {path} does not exist")))?;
            (bytes, file.to_string())
        }
        None => {
            let bytes = std::fs::read(path)
                .map_err(|e| FnError::Execution(format!("Template {path} does not exist: {e}")))?;
            (bytes, path.to_string())
        }
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| FnError::Execution(format!("{path} is not UTF-8 text")))?;
    Ok((text, name))
}

/// Run `text` through its shebang's pipeline or `pipeline`: a pipeline of
/// Jinja alone gives text, one ending in `yaml` or `json` gives data.
fn render(
    host: &dyn brine_states::host::StateHost,
    text: &str,
    pipeline: &str,
    saltenv: &str,
    name: &str,
    context: Map<String, Value>,
) -> Result<Value, FnError> {
    let fail = |e: brine_states::render::RenderError| FnError::Execution(e.message);
    let has_shebang = brine_states::render::shebang(text).is_some();
    if !has_shebang && pipeline.trim() == "jinja" {
        let tctx = brine_states::render::TemplateContext {
            saltenv: saltenv.to_string(),
            path: name.to_string(),
            context,
            ..Default::default()
        };
        return brine_states::render::render_template(host, text, &tctx)
            .map(Value::String)
            .map_err(fail);
    }
    let with_pipeline;
    let text = if has_shebang {
        text
    } else {
        with_pipeline = format!("#!{pipeline}\n{text}");
        &with_pipeline
    };
    let source = brine_states::render::SlsSource {
        saltenv,
        sls: "",
        path: name,
    };
    brine_states::render::render_sls(host, &source, text).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(sig: &str, args: Vec<Value>, kwargs: Value) -> Args {
        let call = Call {
            fun: "slsutil.x".into(),
            args,
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        };
        Args::bind(&call, sig)
    }

    fn call(args: Vec<Value>) -> Call {
        Call {
            fun: "slsutil.x".into(),
            args,
            kwargs: Map::new(),
        }
    }

    #[test]
    fn merge_with_strategies() {
        let a = args(
            MERGE_SIG,
            vec![
                json!({"a": {"b": 1}, "l": [1]}),
                json!({"a": {"c": 2}, "l": [2]}),
            ],
            json!({"strategy": "recurse", "merge_lists": true}),
        );
        assert_eq!(
            merge(&a).map(|o| o.ret),
            Ok(json!({"a": {"b": 1, "c": 2}, "l": [1, 2]}))
        );
        let a = args(
            MERGE_SIG,
            vec![json!({"a": 1}), json!({"b": 2})],
            json!({"strategy": "aggregate"}),
        );
        assert_eq!(merge(&a).map(|o| o.ret), Ok(json!({"a": 1, "b": 2})));
        let a = args(MERGE_SIG, vec![json!([1]), json!([2])], json!({}));
        assert!(matches!(merge(&a), Err(FnError::Type(_))));
    }

    #[test]
    fn merge_all_folds_in_order() {
        let a = args(
            MERGE_ALL_SIG,
            vec![json!([{"a": 1, "l": [1]}, {"b": 2, "l": [2]}, {"a": 3}])],
            json!({"merge_lists": true}),
        );
        assert_eq!(
            merge_all(&a).map(|o| o.ret),
            Ok(json!({"a": 3, "l": [1, 2], "b": 2}))
        );
        let empty = args(MERGE_ALL_SIG, vec![json!([])], json!({}));
        assert_eq!(merge_all(&empty).map(|o| o.ret), Ok(json!({})));
        let dict = args(MERGE_ALL_SIG, vec![json!({"a": 1})], json!({}));
        assert!(matches!(merge_all(&dict), Err(FnError::Type(m)) if m == dictupdate::NON_DICT));
        let int = args(MERGE_ALL_SIG, vec![json!(3)], json!({}));
        assert!(
            matches!(merge_all(&int), Err(FnError::Type(m)) if m == "'int' object is not iterable")
        );
    }

    #[test]
    fn update_recursive_or_flat() {
        let a = args(
            UPDATE_SIG,
            vec![json!({"k": {"a": 1}}), json!({"k": {"b": 2}})],
            json!({}),
        );
        assert_eq!(
            update(&a).map(|o| o.ret),
            Ok(json!({"k": {"a": 1, "b": 2}}))
        );
        let a = args(
            UPDATE_SIG,
            vec![json!({"k": {"a": 1}}), json!({"k": {"b": 2}})],
            json!({"recursive_update": false}),
        );
        assert_eq!(update(&a).map(|o| o.ret), Ok(json!({"k": {"b": 2}})));
    }

    #[test]
    fn boolstr_returns_the_given_values() {
        assert_eq!(boolstr(&call(vec![json!(0)])), json!("false"));
        assert_eq!(boolstr(&call(vec![json!("x")])), json!("true"));
        assert_eq!(
            boolstr(&call(vec![json!(true), json!(true), json!("off")])),
            json!(true)
        );
        assert_eq!(
            boolstr(&call(vec![json!([]), json!("on"), json!("off")])),
            json!("off")
        );
    }

    #[test]
    fn paths_in_the_tree() {
        let files = vec!["a/b/c.sls".to_string(), "top.sls".to_string()];
        let dirs = super::super::cp::dirs_of(&files, "");
        assert!(path_in(&files, &dirs, "a/b/c.sls", Kind::File));
        assert!(!path_in(&files, &dirs, "a/b", Kind::File));
        assert!(path_in(&files, &dirs, "a/b", Kind::Dir));
        assert!(path_in(&files, &dirs, "a", Kind::Any));
        assert!(!path_in(&files, &dirs, "b", Kind::Any));
    }

    #[test]
    fn posix_paths() {
        assert_eq!(normpath("a//b/./c/../d/"), "a/b/d");
        assert_eq!(normpath("/../a"), "/a");
        assert_eq!(normpath(""), ".");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a/b", "x"), "a/b/x");
    }

    #[test]
    fn json_serializer() {
        let out = serialize(&call(vec![
            json!("json"),
            json!({"a": "é", "b": [1, 2.5, null, true]}),
        ]));
        assert_eq!(
            out.map(|o| o.ret),
            Ok(json!("{\"a\": \"é\", \"b\": [1, 2.5, null, true]}"))
        );
        let back = deserialize(&call(vec![json!("json"), json!("{\"a\": [1, 2]}")]));
        assert_eq!(back.map(|o| o.ret), Ok(json!({"a": [1, 2]})));
        let bad = deserialize(&call(vec![json!("json"), json!({"a": 1})]));
        assert!(
            matches!(bad, Err(FnError::Exception(m)) if m.ends_with("'dict' object has no attribute 'read'"))
        );
    }

    #[test]
    fn yaml_serializer_is_default_flow_style_none() {
        let obj =
            json!({"a": [1, 2], "b": "x", "c": {"d": [{"e": 1}], "f": "yes", "g": "a,b"}, "h": []});
        assert_eq!(
            yaml_dump(&obj),
            "a: [1, 2]\nb: x\nc:\n  d:\n  - {e: 1}\n  f: 'yes'\n  g: a,b\nh: []"
        );
        assert_eq!(yaml_dump(&json!([1, 2])), "[1, 2]");
        assert_eq!(yaml_dump(&json!("x")), "x");
        assert_eq!(
            yaml_dump(&json!([[1], {"a": {"b": 1}}])),
            "- [1]\n- a: {b: 1}"
        );
        // A None and a True key, as PyYAML writes them (answer from PyYAML).
        let (null, yes) = (TypedKey::Null.marker(), TypedKey::Bool(true).marker());
        assert_eq!(
            yaml_dump(&json!({(null): {"x": {"y": 1}}, (yes): 1})),
            "null:\n  x: {y: 1}\ntrue: 1"
        );
        let back = deserialize(&call(vec![json!("yaml"), json!("a: [1, 2]")]));
        assert_eq!(back.map(|o| o.ret), Ok(json!({"a": [1, 2]})));
    }

    #[test]
    fn unknown_serializers() {
        let out = serialize(&call(vec![json!("nosuch"), json!(1)]));
        assert_eq!(
            out,
            Err(FnError::Execution("Serializer 'nosuch' not found.".into()))
        );
    }
}
