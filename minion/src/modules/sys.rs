//! Salt's `sys` module: what functions this minion has and their docs.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use globset::{GlobBuilder, GlobMatcher};
use serde_json::{Map, Value, json};

use super::MinionCtx;

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "sys.argspec",
        "*args",
        "Return the argument specification of functions (globs allowed).\n\nCLI Example:\n\n    brine '*' sys.argspec test.echo\n    brine '*' sys.argspec 'cmd.*'",
        |ctx, call| async move { argspec(&ctx, &call) },
    );
    f.register(
        "sys.list_modules",
        "*args",
        "List the modules loaded on the minion (globs allowed).\n\nCLI Example:\n\n    brine '*' sys.list_modules\n    brine '*' sys.list_modules 's*'",
        |ctx, call| async move { list_modules(&ctx, &call) },
    );
    f.register(
        "sys.list_functions",
        "*args",
        "List the functions for all modules, or the modules and functions matching\nthe given globs.\n\nCLI Example:\n\n    brine '*' sys.list_functions\n    brine '*' sys.list_functions sys\n    brine '*' sys.list_functions 'sys.list_*'",
        |ctx, call| async move { list_functions(&ctx, &call) },
    );
    f.register(
        "sys.doc",
        "*args",
        "Return the docstrings for all modules, or for the given modules or functions\n(globs allowed).\n\nCLI Example:\n\n    brine '*' sys.doc\n    brine '*' sys.doc test\n    brine '*' sys.doc test.ping",
        |ctx, call| async move { doc(&ctx, &call) },
    );
}

/// Salt's rule for a name pattern: a bare module name matches `module.*`.
fn matchers(call: &Call) -> Result<Vec<GlobMatcher>, FnError> {
    call.args
        .iter()
        .map(|a| {
            let text = match a {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let pattern = if text.contains('.') || text.contains('*') {
                text
            } else {
                format!("{text}.*")
            };
            GlobBuilder::new(&pattern)
                .literal_separator(false)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| FnError::Invocation(format!("invalid pattern {pattern:?}: {e}")))
        })
        .collect()
}

fn selected(ctx: &MinionCtx, call: &Call) -> Result<Vec<(String, &'static str)>, FnError> {
    let registry = ctx
        .registry()
        .ok_or_else(|| FnError::Execution("the function registry is gone".into()))?;
    let globs = matchers(call)?;
    Ok(registry
        .names()
        .filter(|name| globs.is_empty() || globs.iter().any(|g| g.is_match(name)))
        .map(|name| (name.to_string(), registry.doc(name).unwrap_or_default()))
        .collect())
}

/// Salt's `sys.argspec`: each function's parameters.
fn argspec(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let registry = ctx
        .registry()
        .ok_or_else(|| FnError::Execution("the function registry is gone".into()))?;
    let specs: Map<String, Value> = selected(ctx, call)?
        .into_iter()
        .filter_map(|(n, _)| registry.signature(&n).map(|s| (n, s.to_argspec())))
        .collect();
    Ok(Value::Object(specs).into())
}

/// Salt's `sys.list_modules`: the module names, sorted and unique.
fn list_modules(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let mut modules: Vec<String> = selected(ctx, &Call::default())?
        .into_iter()
        .filter_map(|(n, _)| n.split_once('.').map(|(m, _)| m.to_string()))
        .collect();
    modules.dedup();
    let globs = module_globs(call)?;
    let names: Vec<Value> = modules
        .into_iter()
        .filter(|m| globs.is_empty() || globs.iter().any(|g| g.is_match(m)))
        .map(Value::String)
        .collect();
    Ok(Value::Array(names).into())
}

fn module_globs(call: &Call) -> Result<Vec<GlobMatcher>, FnError> {
    call.args
        .iter()
        .map(|a| {
            let text = a
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| a.to_string());
            GlobBuilder::new(&text)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| FnError::Invocation(format!("invalid pattern {text:?}: {e}")))
        })
        .collect()
}

fn list_functions(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let names: Vec<Value> = selected(ctx, call)?
        .into_iter()
        .map(|(n, _)| json!(n))
        .collect();
    Ok(Value::Array(names).into())
}

fn doc(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let docs: Map<String, Value> = selected(ctx, call)?
        .into_iter()
        .map(|(n, d)| (n, json!(d)))
        .collect();
    Ok(Value::Object(docs).into())
}
