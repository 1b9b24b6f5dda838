//! Reading and rendering reactor SLS files.
//!
//! A reactor path is an absolute path on the master or a `salt://` path on
//! the master's file server (`salt://reactor/x.sls?saltenv=dev` picks the
//! environment). The text goes through the renderer pipeline its first line
//! names, as a state SLS does (`jinja|yaml` by default, `#!yaml`, `#!json`,
//! `#!jinja|json`), with Salt's reactor context (`tag`, and `data`, the
//! event's data) in Jinja; a renderer Brine lacks (`#!py`) is an error.
//! The event data comes from minions: templates should treat it as untrusted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brine_common::fileroots::FileStore;
use brine_common::ids::{RelPath, SaltEnv};
use brine_common::salt_url;
use brine_states::host::StateHost;
use brine_states::render::{SlsSource, render_data};
use serde_json::{Map, Value};

use crate::fileserver::FileServer;
use crate::functions::MasterFunctions;

/// The largest reactor SLS read.
const MAX_SLS_BYTES: usize = 4 * 1024 * 1024;

/// Where a reactor SLS lives.
#[derive(Debug, Clone, PartialEq)]
pub enum SlsLocation {
    Local(PathBuf),
    FileServer { saltenv: SaltEnv, path: RelPath },
}

impl SlsLocation {
    pub fn parse(reference: &str) -> Result<SlsLocation, String> {
        if let Some(file) = salt_url::file_of(reference, "base") {
            let (saltenv, path) = file.map_err(|e| e.to_string())?;
            return Ok(SlsLocation::FileServer { saltenv, path });
        }
        if Path::new(reference).is_absolute() {
            return Ok(SlsLocation::Local(PathBuf::from(reference)));
        }
        Err(format!(
            "reactor SLS '{reference}' must be an absolute path or a salt:// path"
        ))
    }

    fn saltenv(&self) -> &str {
        match self {
            SlsLocation::Local(_) => "base",
            SlsLocation::FileServer { saltenv, .. } => saltenv.as_str(),
        }
    }

    /// The name used in templates and errors.
    fn display_path(&self) -> String {
        match self {
            SlsLocation::Local(p) => p.display().to_string(),
            SlsLocation::FileServer { path, .. } => path.to_string(),
        }
    }
}

/// The file server as templates see it while a reactor SLS renders: `salt://`
/// imports work and `salt[...]` reaches the master's own functions; there are
/// no grains or pillar on the master.
pub struct ReactorHost {
    fileserver: Arc<FileServer>,
    functions: Arc<MasterFunctions>,
    opts: Map<String, Value>,
}

impl ReactorHost {
    pub fn new(
        fileserver: Arc<FileServer>,
        functions: Arc<MasterFunctions>,
        opts: Map<String, Value>,
    ) -> Self {
        ReactorHost {
            fileserver,
            functions,
            opts,
        }
    }

    /// The text of one reactor SLS.
    pub fn load(&self, location: &SlsLocation) -> Result<String, String> {
        let bytes = match location {
            SlsLocation::Local(path) => {
                std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            SlsLocation::FileServer { saltenv, path } => {
                self.read_file(saltenv, path)?.ok_or_else(|| {
                    format!("salt://{path} does not exist in environment '{saltenv}'")
                })?
            }
        };
        if bytes.len() > MAX_SLS_BYTES {
            return Err(format!(
                "{} is larger than {MAX_SLS_BYTES} bytes",
                location.display_path()
            ));
        }
        String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", location.display_path()))
    }

    /// Render one reactor SLS for an event into high data, through the
    /// pipeline its shebang names (Salt's `jinja|yaml` by default), with
    /// `tag` and `data` in the Jinja context. A renderer Brine does not have
    /// (`#!py`, `#!mako`) is refused as Salt refuses an unavailable one.
    pub fn render(
        &self,
        location: &SlsLocation,
        text: &str,
        tag: &str,
        data: &Value,
    ) -> Result<Value, String> {
        let name = location.display_path();
        let mut context = Map::new();
        context.insert("tag".into(), Value::String(tag.to_string()));
        context.insert("data".into(), data.clone());
        let source = SlsSource {
            saltenv: location.saltenv(),
            sls: "",
            path: &name,
        };
        // Salt's reactor logs `Failed to render "<file>": <error>`; the
        // renderer's error itself may name only the line.
        render_data(self, &source, text, &context)
            .map_err(|e| format!("Failed to render \"{name}\": {}", e.message))
    }
}

impl StateHost for ReactorHost {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        self.functions.call(fun, args, kwargs).unwrap_or_else(|| {
            Err(format!(
                "'{fun}' is not available while rendering a reactor SLS: the master has no \
                 such execution module"
            ))
        })
    }

    fn has_function(&self, fun: &str) -> bool {
        self.functions.has(fun)
    }

    fn grains(&self) -> Map<String, Value> {
        Map::new()
    }

    fn pillar(&self) -> Map<String, Value> {
        Map::new()
    }

    fn opts(&self) -> Map<String, Value> {
        self.opts.clone()
    }

    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        // One byte more than the largest SLS, so `load` can tell it is too large.
        self.fileserver
            .read_whole(saltenv, path, MAX_SLS_BYTES as u64 + 1)
    }

    fn cache_file(&self, _saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        Err(format!("salt://{path}: the reactor does not cache files"))
    }

    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String> {
        self.fileserver.list_paths(saltenv)
    }

    fn environments(&self) -> Vec<SaltEnv> {
        self.fileserver.environments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host() -> ReactorHost {
        ReactorHost::new(
            Arc::new(FileServer::new(Vec::new())),
            Arc::default(),
            Map::new(),
        )
    }

    #[test]
    fn locations() {
        assert_eq!(
            SlsLocation::parse("salt://reactor/a.sls?saltenv=dev"),
            Ok(SlsLocation::FileServer {
                saltenv: SaltEnv::parse("dev").expect("env"),
                path: RelPath::parse("reactor/a.sls").expect("path")
            })
        );
        assert!(SlsLocation::parse("salt://../a.sls").is_err());
        assert!(SlsLocation::parse("salt://a.sls?saltenv=..").is_err());
        assert_eq!(
            SlsLocation::parse("/srv/reactor/a.sls"),
            Ok(SlsLocation::Local("/srv/reactor/a.sls".into()))
        );
        assert!(SlsLocation::parse("reactor/a.sls").is_err());
    }

    #[test]
    fn renders_with_tag_and_data() {
        let loc = SlsLocation::Local("/srv/reactor/deploy.sls".into());
        let text = "deploy_{{ data['who'] }}:\n  local.test.echo:\n    - tgt: {{ data['who'] }}\n    \
                    - arg:\n      - {{ tag }}\n";
        let high = host()
            .render(&loc, text, "myapp/deploy", &json!({"who": "m1"}))
            .expect("render");
        assert_eq!(
            high,
            json!({"deploy_m1": {"local.test.echo": [{"tgt": "m1"}, {"arg": ["myapp/deploy"]}]}})
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let loc = SlsLocation::Local("/srv/reactor/bad.sls".into());
        let err = host()
            .render(&loc, "ok: 1\n{{ data['missing']['x'] }}\n", "t", &json!({}))
            .expect_err("undefined");
        assert!(err.contains("bad.sls"), "{err}");
        let err = host()
            .render(&loc, "a: [1\nb: 2\n", "t", &json!({}))
            .expect_err("yaml");
        assert!(err.contains("\"/srv/reactor/bad.sls\""), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn the_shebang_picks_the_pipeline() {
        let loc = SlsLocation::Local("/srv/reactor/p.sls".into());
        let render = |text: &str| host().render(&loc, text, "t", &json!({"who": "m1"}));
        assert_eq!(
            render("#!yaml\na: '{{ tag }}'\n"),
            Ok(json!({"a": "{{ tag }}"}))
        );
        assert_eq!(render("#!json\n{\"a\": 1}\n"), Ok(json!({"a": 1})));
        assert_eq!(
            render("#!jinja|json\n{\"a\": \"{{ data.who }}\"}\n"),
            Ok(json!({"a": "m1"}))
        );
    }

    #[test]
    fn a_python_reactor_is_refused_not_read_as_yaml() {
        let loc = SlsLocation::Local("/srv/reactor/py.sls".into());
        let err = host()
            .render(&loc, "#!py\ndef run():\n    return {}\n", "t", &json!({}))
            .expect_err("no py renderer");
        assert!(
            err.starts_with("Failed to render \"/srv/reactor/py.sls\": "),
            "{err}"
        );
        assert!(
            err.contains("The renderer \"py\" is not available"),
            "{err}"
        );
    }

    #[test]
    fn empty_renders_to_nothing() {
        let loc = SlsLocation::Local("/x.sls".into());
        let high = host()
            .render(&loc, "{% if false %}a: 1{% endif %}\n", "t", &json!({}))
            .expect("render");
        assert_eq!(high, json!({}));
    }

    #[test]
    fn templates_call_the_masters_functions() {
        let loc = SlsLocation::Local("/srv/reactor/f.sls".into());
        let text = "a: {{ salt['test.echo'](data.who) }}\nb: {{ salt['file.basename']('/a/b') }}\n";
        let high = host().render(&loc, text, "t", &json!({"who": "m1"}));
        assert_eq!(high, Ok(json!({"a": "m1", "b": "b"})));
        let refused = StateHost::call(&host(), "cmd.run", vec![json!("id")], Map::new());
        assert!(
            matches!(&refused, Err(msg) if msg.starts_with("'cmd.run' is not available")),
            "{refused:?}"
        );
    }
}
