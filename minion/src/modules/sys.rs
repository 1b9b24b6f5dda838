//! Salt's `sys` module: what functions this minion has and their docs.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use globset::{GlobBuilder, GlobMatcher};
use serde_json::{Map, Value, json};

use super::MinionCtx;

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "sys.list_functions",
        "List the functions for all modules, or the modules and functions matching\nthe given globs.\n\nCLI Example:\n\n    brine '*' sys.list_functions\n    brine '*' sys.list_functions sys\n    brine '*' sys.list_functions 'sys.list_*'",
        |ctx, call| async move { list_functions(&ctx, &call) },
    );
    f.register(
        "sys.doc",
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
