//! The `Functions` registry: named functions called with Salt-style args and kwargs.
//!
//! It is the one seam between "what to do" and "the host" (DESIGN.md): the
//! minion's job executor, state modules and the Jinja `salt[...]` object all
//! call through it. The context type `C` is whatever the caller gives its
//! functions (the minion passes its runtime handle).
//!
//! Errors carry Salt's return strings, so `brine '*' nosuch.fun` prints what
//! `salt` prints.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Salt's generic failure exit code (`salt.defaults.exitcodes.EX_GENERIC`).
pub const EX_GENERIC: i32 = 1;

/// One call: the function name, positional args and keyword args.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Call {
    pub fun: String,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
}

impl Call {
    /// A parameter given by position `index` or by keyword `name`, as Salt
    /// binds arguments to a Python signature.
    pub fn param(&self, index: usize, name: &str) -> Option<&Value> {
        self.args.get(index).or_else(|| self.kwargs.get(name))
    }

    /// Keyword args without Salt's `__pub_*` bookkeeping.
    pub fn user_kwargs(&self) -> Map<String, Value> {
        self.kwargs
            .iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The parameter as an integer (accepting numeric strings, as Python's
    /// `int()` does), or an invocation error naming it.
    pub fn int_param(
        &self,
        index: usize,
        name: &str,
        default: Option<i64>,
    ) -> Result<i64, FnError> {
        match self.param(index, name) {
            None => default
                .ok_or_else(|| FnError::Invocation(format!("missing required argument '{name}'"))),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
            Some(Value::Number(n)) => n.as_f64().map(|f| f as i64).ok_or_else(|| {
                FnError::Invocation(format!("argument '{name}' must be an integer"))
            }),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| {
                FnError::Invocation(format!("argument '{name}' must be an integer, not {s:?}"))
            }),
            Some(other) => Err(FnError::Invocation(format!(
                "argument '{name}' must be an integer, not {other}"
            ))),
        }
    }

    /// The parameter as a number of seconds (int or float).
    pub fn float_param(
        &self,
        index: usize,
        name: &str,
        default: Option<f64>,
    ) -> Result<f64, FnError> {
        match self.param(index, name) {
            None => default
                .ok_or_else(|| FnError::Invocation(format!("missing required argument '{name}'"))),
            Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or_default()),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| {
                FnError::Invocation(format!("argument '{name}' must be a number, not {s:?}"))
            }),
            Some(other) => Err(FnError::Invocation(format!(
                "argument '{name}' must be a number, not {other}"
            ))),
        }
    }
}

/// Why a function failed, in Salt's categories.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FnError {
    /// Bad arguments (Salt's `SaltInvocationError`).
    #[error("{0}")]
    Invocation(String),
    /// The host action failed (Salt's `CommandExecutionError`).
    #[error("{0}")]
    Execution(String),
    /// The function raised (Salt's bare `Exception`).
    #[error("{0}")]
    Exception(String),
    /// The function raised a `TypeError` on its arguments' types (Salt
    /// answers as for a call that does not fit the signature).
    #[error("{0}")]
    Type(String),
}

impl FnError {
    /// Salt's `CommandExecutionError(message, info=...)`: the message, then
    /// the info in the nested outputter's layout.
    pub fn execution_with_info(message: &str, info: &Value) -> FnError {
        let details = crate::output::render_nested(info, 0, false);
        FnError::Execution(format!(
            "{message}. Additional info follows:\n\n{}",
            details.trim_end()
        ))
    }
}

/// A signature's parameters: split at commas outside quoted defaults
/// (`format='%A, %d'` is one parameter).
fn split_params(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quote) = (0, None);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ',') => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The value of a Python literal as a signature's default writes it.
fn python_literal(text: &str) -> Value {
    match text {
        "None" => Value::Null,
        "True" => Value::Bool(true),
        "False" => Value::Bool(false),
        _ => {
            let unquoted = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .or_else(|| text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')));
            match unquoted {
                Some(s) => Value::String(s.to_string()),
                None => crate::yaml::load(text, "<default>")
                    .unwrap_or_else(|_| Value::String(text.to_string())),
            }
        }
    }
}

/// A successful result and the retcode the function chose.
#[derive(Debug, Clone, PartialEq)]
pub struct FnOutput {
    pub ret: Value,
    pub retcode: i32,
}

impl From<Value> for FnOutput {
    fn from(ret: Value) -> Self {
        FnOutput { ret, retcode: 0 }
    }
}

/// What a finished call produces: Salt's `return`, `retcode` and `success`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ret: Value,
    pub retcode: i32,
    pub success: bool,
    /// What `salt-call` prints on stderr, instead of the return, when the
    /// function raised a `CommandExecutionError` (`Error running '<fun>':
    /// <message>`) or a `SaltInvocationError` (the message); `ret` then
    /// holds what a minion returns to the master (`ERROR...`).
    pub call_stderr: Option<String>,
}

pub type FnFuture = Pin<Box<dyn Future<Output = Result<FnOutput, FnError>> + Send>>;
type AsyncHandler<C> = Arc<dyn Fn(C, Call) -> FnFuture + Send + Sync>;
type BlockingHandler<C> = Arc<dyn Fn(C, Call) -> Result<FnOutput, FnError> + Send + Sync>;

/// How a function runs: on the async runtime, or as plain blocking code
/// (file and process work). A blocking function called from a thread that
/// may block (a state run) runs right on that thread
/// ([`Functions::call_blocking`]); from async code, on tokio's blocking pool.
enum Handler<C> {
    Async(AsyncHandler<C>),
    Blocking(BlockingHandler<C>),
}

struct Entry<C> {
    doc: &'static str,
    signature: LazySignature,
    handler: Handler<C>,
}

/// A signature parsed on first use: a process builds the registry of every
/// function (several hundred) and calls a few, so parsing them all up front
/// was a few per cent of a short `brine-call`.
struct LazySignature {
    text: std::borrow::Cow<'static, str>,
    parsed: std::sync::OnceLock<Signature>,
}

impl LazySignature {
    fn new(text: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        LazySignature {
            text: text.into(),
            parsed: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> &Signature {
        self.parsed.get_or_init(|| Signature::parse(&self.text))
    }
}

/// A function's parameters, written like a Python signature:
/// `"name, cwd=None, *args, **kwargs"`. The registry checks every call
/// against it (arity, required parameters, unknown keywords) with Salt's
/// messages, and `sys.argspec` reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signature {
    /// Parameter names in order.
    pub args: Vec<String>,
    /// Default values (as written, e.g. `None`, `True`, `'/'`) of the last
    /// `defaults.len()` parameters.
    pub defaults: Vec<String>,
    pub varargs: bool,
    pub kwargs: bool,
}

impl Signature {
    /// Parse `"a, b=1, *args, **kwargs"`. Panics on a malformed signature:
    /// signatures are literals in our own source, checked by the tests.
    pub fn parse(text: &str) -> Self {
        let mut sig = Signature::default();
        for part in split_params(text)
            .into_iter()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if part.starts_with("**") {
                sig.kwargs = true;
            } else if part.starts_with('*') {
                sig.varargs = true;
            } else if let Some((name, default)) = part.split_once('=') {
                sig.args.push(name.trim().to_string());
                sig.defaults.push(default.trim().to_string());
            } else {
                assert!(
                    sig.defaults.is_empty(),
                    "parameter {part:?} without a default after one with: {text:?}"
                );
                sig.args.push(part.to_string());
            }
        }
        sig
    }

    fn required(&self) -> &[String] {
        &self.args[..self.args.len() - self.defaults.len()]
    }

    /// Salt's `sys.argspec` entry.
    pub fn to_argspec(&self) -> Value {
        let defaults = if self.defaults.is_empty() {
            Value::Null
        } else {
            Value::Array(self.defaults.iter().map(|d| python_literal(d)).collect())
        };
        serde_json::json!({
            "args": self.args,
            "defaults": defaults,
            "kwargs": self.kwargs,
            "varargs": self.varargs,
        })
    }

    /// Check a call's arguments; the error is what Salt says.
    fn check(&self, fun: &str, call: &Call) -> Result<(), String> {
        let short = fun.rsplit('.').next().unwrap_or(fun);
        if !self.varargs && call.args.len() > self.args.len() {
            return Err(format!(
                "{short}() takes {} positional argument{} but {} were given",
                self.args.len(),
                if self.args.len() == 1 { "" } else { "s" },
                call.args.len()
            ));
        }
        let missing: Vec<&String> = self
            .required()
            .iter()
            .enumerate()
            .filter(|(i, name)| *i >= call.args.len() && !call.kwargs.contains_key(name.as_str()))
            .map(|(_, name)| name)
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|n| format!("'{n}'")).collect();
            return Err(format!(
                "{short}() missing {} required positional argument{}: {}",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                names.join(" and ")
            ));
        }
        Ok(())
    }

    /// Keyword arguments the function does not take (Salt's `invalid_kwargs`).
    fn invalid_kwargs(&self, call: &Call) -> Vec<String> {
        if self.kwargs {
            return Vec::new();
        }
        call.kwargs
            .iter()
            .filter(|(k, _)| !k.starts_with("__") && !self.args.iter().any(|a| a == *k))
            .map(|(k, v)| format!("{k}={}", crate::output::python::to_str(v)))
            .collect()
    }
}

/// A registry of named functions taking a context `C`.
pub struct Functions<C> {
    entries: BTreeMap<String, Entry<C>>,
}

impl<C> Default for Functions<C> {
    fn default() -> Self {
        Functions {
            entries: BTreeMap::new(),
        }
    }
}

impl<C: Send + 'static> Functions<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `name` (`module.function`) with its parameters (a Python-like
    /// signature, see [`Signature::parse`]) and its doc string.
    pub fn register<F, Fut>(
        &mut self,
        name: &str,
        signature: impl Into<std::borrow::Cow<'static, str>>,
        doc: &'static str,
        f: F,
    ) where
        F: Fn(C, Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<FnOutput, FnError>> + Send + 'static,
    {
        let handler: AsyncHandler<C> = Arc::new(move |ctx, call| Box::pin(f(ctx, call)));
        self.insert(name, signature, doc, Handler::Async(handler));
    }

    /// Register a function whose work blocks (file system, processes): it
    /// never runs on the async runtime's own threads.
    pub fn register_blocking<F>(
        &mut self,
        name: &str,
        signature: impl Into<std::borrow::Cow<'static, str>>,
        doc: &'static str,
        f: F,
    ) where
        F: Fn(C, Call) -> Result<FnOutput, FnError> + Send + Sync + 'static,
    {
        self.insert(name, signature, doc, Handler::Blocking(Arc::new(f)));
    }

    fn insert(
        &mut self,
        name: &str,
        signature: impl Into<std::borrow::Cow<'static, str>>,
        doc: &'static str,
        handler: Handler<C>,
    ) {
        let signature = LazySignature::new(signature);
        self.entries.insert(
            name.to_string(),
            Entry {
                doc,
                signature,
                handler,
            },
        );
    }

    pub fn signature(&self, name: &str) -> Option<&Signature> {
        self.entries.get(name).map(|e| e.signature.get())
    }

    /// Keep only the functions whose name passes `keep`.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.entries.retain(|name, _| keep(name));
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn doc(&self, name: &str) -> Option<&'static str> {
        self.entries.get(name).map(|e| e.doc)
    }

    /// Run a call and turn its result into Salt's return shape, with Salt's
    /// error strings (salt/minion.py `_thread_return`).
    pub async fn call(&self, ctx: C, call: Call) -> Outcome {
        let entry = match self.checked(&call) {
            Ok(entry) => entry,
            Err(refused) => return refused,
        };
        let fun = call.fun.clone();
        let result = match &entry.handler {
            Handler::Async(handler) => handler(ctx, call).await,
            Handler::Blocking(handler) => {
                let handler = Arc::clone(handler);
                tokio::task::spawn_blocking(move || handler(ctx, call))
                    .await
                    .unwrap_or_else(|e| {
                        Err(FnError::Exception(format!(
                            "the function did not finish: {e}"
                        )))
                    })
            }
        };
        outcome(&fun, entry, result)
    }

    /// [`call`](Self::call) from a thread that may block (a state run, not
    /// the runtime's own threads): a blocking function runs right here, with
    /// no hop to another thread and back; an async one is handed back as
    /// `Err` for the caller to run on its runtime.
    pub fn call_blocking(&self, ctx: C, call: Call) -> Result<Outcome, (C, Call)> {
        let entry = match self.checked(&call) {
            Ok(entry) => entry,
            Err(refused) => return Ok(refused),
        };
        match &entry.handler {
            Handler::Blocking(handler) => {
                let fun = call.fun.clone();
                let result = handler(ctx, call);
                Ok(outcome(&fun, entry, result))
            }
            Handler::Async(_) => Err((ctx, call)),
        }
    }

    /// The entry for `call`, or the refusal Salt gives: an unknown function,
    /// missing or extra arguments.
    fn checked(&self, call: &Call) -> Result<&Entry<C>, Outcome> {
        let fun = &call.fun;
        let Some(entry) = self.entries.get(fun) else {
            return Err(failure(format!("'{fun}' is not available.")));
        };
        if let Err(msg) = entry.signature.get().check(fun, call) {
            return Err(failure(format!(
                "Passed invalid arguments to {fun}: {msg}\n\n{}",
                entry.doc
            )));
        }
        let invalid = entry.signature.get().invalid_kwargs(call);
        if !invalid.is_empty() {
            return Err(failure(format!(
                "ERROR executing '{fun}': The following keyword arguments are not valid: {}",
                invalid.join(", ")
            )));
        }
        Ok(entry)
    }
}

/// A function's result in Salt's return shape, with Salt's error strings.
fn outcome<C>(fun: &str, entry: &Entry<C>, result: Result<FnOutput, FnError>) -> Outcome {
    match result {
        Ok(out) => Outcome {
            success: out.retcode == 0,
            ret: out.ret,
            retcode: out.retcode,
            call_stderr: None,
        },
        Err(FnError::Invocation(msg)) => Outcome {
            call_stderr: Some(msg.clone()),
            ..failure(format!("ERROR executing '{fun}': {msg}"))
        },
        Err(FnError::Execution(msg)) => Outcome {
            call_stderr: Some(format!("Error running '{fun}': {msg}")),
            ..failure(format!("ERROR: {msg}"))
        },
        Err(FnError::Exception(msg)) => {
            failure(format!("The minion function caused an exception: {msg}"))
        }
        Err(FnError::Type(msg)) => failure(format!(
            "Passed invalid arguments to {fun}: {msg}\n\n{}",
            entry.doc
        )),
    }
}

fn failure(msg: String) -> Outcome {
    Outcome {
        ret: Value::String(msg),
        retcode: EX_GENERIC,
        success: false,
        call_stderr: None,
    }
}

/// Split CLI words into positional args and `key=value` kwargs, reading each
/// value as YAML, as Salt's `parse_input`/`yamlify_arg` do (`1` is an int,
/// `True` a bool, `[1, 2]` a list, anything unparsable stays a string).
pub fn parse_cli_args(words: &[String]) -> (Vec<Value>, Map<String, Value>) {
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    for word in words {
        match split_kwarg(word) {
            Some((k, v)) => {
                kwargs.insert(k.to_string(), yamlify_arg(v));
            }
            None => args.push(yamlify_arg(word)),
        }
    }
    (args, kwargs)
}

/// `key=value` as Salt's `KWARG_REGEX` reads it: the key starts with a letter
/// or `_` and holds only word characters, `.` and `-`; `==` is not a kwarg.
fn split_kwarg(word: &str) -> Option<(&str, &str)> {
    let (k, v) = word.split_once('=')?;
    let mut chars = k.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
    (first_ok && rest_ok && !v.starts_with('=')).then_some((k, v))
}

/// Salt's `yamlify_arg`: read a CLI word as YAML, but keep the original string
/// wherever the YAML reading would surprise a shell user.
pub fn yamlify_arg(word: &str) -> Value {
    let original = || Value::String(word.to_string());
    let digits_with_underscores =
        word.contains('_') && word.chars().all(|c| c.is_ascii_digit() || c == '_');
    if word.trim().is_empty() || digits_with_underscores || word.contains('#') {
        return original();
    }
    if word == "None" {
        return Value::Null;
    }
    match crate::yaml::load(word, "<argument>") {
        // Maps and lists only when written in flow style, as Salt requires.
        Ok(v @ Value::Object(_)) if word.starts_with('{') => v,
        Ok(v @ Value::Array(_)) if word.starts_with('[') => v,
        Ok(Value::Object(_) | Value::Array(_) | Value::Null) => original(),
        Ok(Value::String(s)) if s.is_empty() => original(),
        // An integer too big for 64 bits (a jid, say) would lose digits as a float.
        Ok(Value::Number(n))
            if n.is_f64() && word.bytes().all(|b| b.is_ascii_digit() || b == b'-') =>
        {
            original()
        }
        Ok(v) => v,
        Err(_) => original(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_default_may_hold_a_comma() {
        let sig = Signature::parse("name, format='%A, %d', **kwargs");
        assert_eq!(sig.args, ["name", "format"]);
        assert_eq!(sig.defaults, ["'%A, %d'"]);
        assert!(sig.kwargs);
    }

    #[test]
    fn an_execution_error_with_info_reads_as_salts() {
        let info = serde_json::json!(["Rendering SLS 'bad' failed.", "SLS 'x' is missing"]);
        let FnError::Execution(text) =
            FnError::execution_with_info("Pillar failed to render", &info)
        else {
            panic!("an execution error");
        };
        assert_eq!(
            text,
            "Pillar failed to render. Additional info follows:\n\n- Rendering SLS 'bad' failed.\n- SLS 'x' is missing"
        );
    }
    use serde_json::json;

    fn registry() -> Functions<()> {
        let mut f = Functions::new();
        f.register("test.echo", "text", "echo", |_, c: Call| async move {
            Ok(c.args[0].clone().into())
        });
        f.register("test.ping", "", "ping", |_, _| async {
            Ok(json!(true).into())
        });
        f.register("test.boom", "", "boom", |_, _| async {
            Err(FnError::Exception("boom".into()))
        });
        f.register("test.bad", "", "bad", |_, _| async {
            Err(FnError::Invocation("nope".into()))
        });
        f.register("test.type", "", "type doc", |_, _| async {
            Err(FnError::Type("not a dict".into()))
        });
        f
    }

    #[tokio::test]
    async fn calls_and_salt_error_strings() {
        let f = registry();
        let call = |fun: &str| Call {
            fun: fun.into(),
            ..Call::default()
        };
        assert_eq!(f.call((), call("test.ping")).await.ret, json!(true));
        let missing = f.call((), call("no.such")).await;
        assert_eq!(missing.ret, json!("'no.such' is not available."));
        assert_eq!((missing.retcode, missing.success), (1, false));
        assert!(
            f.call((), call("test.boom"))
                .await
                .ret
                .as_str()
                .is_some_and(|s| s.starts_with("The minion function caused an exception"))
        );
        assert_eq!(
            f.call((), call("test.bad")).await.ret,
            json!("ERROR executing 'test.bad': nope")
        );
        assert_eq!(
            f.call((), call("test.type")).await.ret,
            json!("Passed invalid arguments to test.type: not a dict\n\ntype doc")
        );
    }

    fn thread_name() -> Value {
        json!(format!("{:?}", std::thread::current().id()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_blocking_function_runs_on_the_calling_thread_only_when_asked() {
        let mut f = registry();
        f.register_blocking("test.where", "", "where", |_, _| Ok(thread_name().into()));
        f.register_blocking("test.fails", "", "fails", |_, _| {
            Err(FnError::Execution("it broke".into()))
        });
        let call = |fun: &str| Call {
            fun: fun.into(),
            ..Call::default()
        };
        // From async code: on the blocking pool, never on a runtime thread.
        let pooled = f.call((), call("test.where")).await;
        assert!(pooled.success);
        assert_ne!(pooled.ret, thread_name());
        // From a thread that may block: right there.
        let f = Arc::new(f);
        let here = tokio::task::spawn_blocking({
            let f = Arc::clone(&f);
            move || {
                let out = f.call_blocking((), call("test.where")).map(|o| o.ret);
                (out, thread_name())
            }
        })
        .await
        .expect("the blocking task");
        assert_eq!(here.0, Ok(here.1));
        // Errors and refusals are the async path's, word for word.
        let failed = f.call_blocking((), call("test.fails")).map(|o| o.ret);
        assert_eq!(failed, Ok(json!("ERROR: it broke")));
        let missing = f.call_blocking((), call("no.such")).map(|o| o.ret);
        assert_eq!(missing, Ok(json!("'no.such' is not available.")));
        // An async function is handed back to run on the runtime.
        let handed_back = f.call_blocking((), call("test.ping"));
        assert!(matches!(handed_back, Err(((), c)) if c.fun == "test.ping"));
    }

    #[tokio::test]
    async fn calls_are_checked_against_the_signature() {
        let f = registry();
        let call = |args: Vec<Value>, kwargs: &[(&str, Value)]| Call {
            fun: "test.echo".into(),
            args,
            kwargs: kwargs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        };
        let out = f.call((), call(vec![], &[])).await;
        assert!(out.ret.as_str().is_some_and(|s| s.starts_with(
            "Passed invalid arguments to test.echo: echo() missing 1 required positional argument: 'text'"
        )), "{out:?}");
        let out = f.call((), call(vec![json!(1), json!(2)], &[])).await;
        assert!(
            out.ret
                .as_str()
                .is_some_and(|s| s.contains("echo() takes 1 positional argument but 2 were given"))
        );
        let out = f
            .call(
                (),
                call(
                    vec![json!("x")],
                    &[("foo", json!("bar")), ("__pub_jid", json!(1))],
                ),
            )
            .await;
        assert_eq!(
            out.ret,
            json!(
                "ERROR executing 'test.echo': The following keyword arguments are not valid: foo=bar"
            )
        );
        assert_eq!(
            f.call((), call(vec![json!("x")], &[("__pub_jid", json!(1))]))
                .await
                .ret,
            json!("x")
        );
    }

    #[test]
    fn signatures_parse_like_python() {
        let s = Signature::parse("cmd, cwd=None, runas=None, *args, **kwargs");
        assert_eq!(s.args, ["cmd", "cwd", "runas"]);
        assert_eq!(s.required(), ["cmd"]);
        assert!(s.varargs && s.kwargs);
        assert_eq!(
            s.to_argspec(),
            json!({"args": ["cmd", "cwd", "runas"], "defaults": [null, null], "kwargs": true, "varargs": true})
        );
    }

    #[test]
    fn cli_words_become_args_and_kwargs_like_salt() {
        let words: Vec<String> = [
            "1",
            "True",
            "hello world",
            "a=b",
            "n=2",
            "[1, 2]",
            "x==y",
            "url=http://a?b=c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (args, kwargs) = parse_cli_args(&words);
        assert_eq!(
            args,
            vec![
                json!(1),
                json!(true),
                json!("hello world"),
                json!([1, 2]),
                json!("x==y")
            ]
        );
        assert_eq!(kwargs["a"], json!("b"));
        assert_eq!(kwargs["n"], json!(2));
        assert_eq!(kwargs["url"], json!("http://a?b=c"));
    }
}
