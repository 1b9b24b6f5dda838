//! A minion's pillar (Salt's `_pillar`): compiled by the master for the
//! session's minion, from its cached grains, and kept in the minion data
//! cache for `-I`/`-J` targeting.

use std::sync::Arc;

use brine_common::fileroots::Roots;
use brine_common::ids::{MinionId, SaltEnv};
use brine_common::target::DataNeeds;
use brine_common::wire::Reply;
use brine_pillar::{PillarOpts, SaltFunctions};
use serde_json::{Map, Value};

use crate::daemon::Master;
use crate::functions::MasterFunctions;
use crate::job_cache::JobCache;
use crate::minion_data::MinionData;

/// What a minion may choose about its own pillar compile.
#[derive(Debug, Default, Clone)]
pub(super) struct PillarRequest {
    pub saltenv: Option<SaltEnv>,
    pub pillarenv: Option<SaltEnv>,
    /// Merged over the result (Salt's `pillar_override`).
    pub extra: Map<String, Value>,
}

/// The parts of the master that serve pillar.
pub(super) struct PillarSource<'a> {
    pub compiler: PillarCompiler,
    pub minion_data: &'a MinionData,
    pub cache: &'a dyn JobCache,
}

impl<'a> PillarSource<'a> {
    pub(super) fn of(master: &'a Master) -> Self {
        PillarSource {
            compiler: PillarCompiler {
                roots: master.pillar_roots.clone(),
                opts: master.pillar_opts.clone(),
                minion_data: master.minion_data.clone(),
                functions: master.functions.clone(),
            },
            minion_data: &master.minion_data,
            cache: master.cache.as_ref(),
        }
    }

    /// Compile the pillar of the session's minion on a blocking thread, cache
    /// it for `-I`/`-J` targeting and answer it. The id is the session's: the
    /// request has no way to name another minion.
    pub(super) async fn serve(&self, minion: &MinionId, request: PillarRequest) -> Reply {
        let (compiler, id) = (self.compiler.clone(), minion.clone());
        let compiled = tokio::task::spawn_blocking(move || {
            // What targeting trusts is the master's own compile: the minion's
            // override goes only into the answer it asked for.
            let own = compiler
                .compile(
                    &id,
                    PillarRequest {
                        extra: Map::new(),
                        ..request.clone()
                    },
                )
                .1;
            let answer = if request.extra.is_empty() {
                own.clone()
            } else {
                compiler.compile(&id, request).1
            };
            (own, answer)
        })
        .await;
        let Ok((own, answer)) = compiled else {
            return Reply::Refused {
                reason: "the pillar compile stopped".into(),
            };
        };
        if let Err(e) = self.minion_data.set_pillar(self.cache, minion, own) {
            tracing::warn!("cannot cache {minion}'s pillar: {e}");
        }
        Reply::Pillar(answer)
    }
}

/// What a pillar compile reads; owned (shared parts) so that it runs on a
/// blocking thread.
#[derive(Clone)]
pub(super) struct PillarCompiler {
    /// `pillar_roots`.
    pub roots: Arc<Roots>,
    /// The master's pillar options, before a request's own choices.
    pub opts: Arc<PillarOpts>,
    /// Where the minion's grains come from.
    pub minion_data: Arc<MinionData>,
    /// What the pillar's `salt[...]` calls reach.
    pub functions: Arc<MasterFunctions>,
}

impl PillarCompiler {
    /// The cached grains of `minion` and its freshly compiled pillar.
    fn compile(
        &self,
        minion: &MinionId,
        request: PillarRequest,
    ) -> (Map<String, Value>, Map<String, Value>) {
        let needs = DataNeeds {
            grains: None,
            pillar: Some(Default::default()),
        };
        let grains = self
            .minion_data
            .facts(minion.as_str(), &needs)
            .and_then(|facts| facts.get("grains").and_then(Value::as_object).cloned())
            .unwrap_or_default();
        let mut opts = PillarOpts::clone(&self.opts);
        opts.saltenv = request.saltenv;
        if request.pillarenv.is_some() {
            opts.pillarenv = request.pillarenv;
        }
        opts.pillar_override = request.extra;
        let functions: &dyn SaltFunctions = self.functions.as_ref();
        let pillar = brine_pillar::compile_on(
            &self.roots,
            minion.as_str(),
            &grains,
            &opts,
            Some(functions),
        )
        .into_map();
        (grains, pillar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_cache::RedbJobCache;
    use brine_common::wire::Request;
    use serde_json::json;

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        std::fs::write(dir.join(path), text).expect("write");
    }

    /// A pillar tree where only `role: web` minions get `web_secret`, and
    /// minion data for `web1` (a web server) and `db1`.
    struct Fixture {
        _tree: tempfile::TempDir,
        _cache_dir: tempfile::TempDir,
        cache: RedbJobCache,
        compiler: PillarCompiler,
    }

    fn fixture() -> Fixture {
        let tree = tempfile::tempdir().expect("tree");
        write(
            tree.path(),
            "top.sls",
            "base:\n  'role:web':\n    - match: grain\n    - web\n",
        );
        write(tree.path(), "web.sls", "web_secret: s3cret\n");
        let config = brine_common::config::MasterConfig {
            pillar_roots: serde_json::from_value(
                json!({"base": [tree.path().display().to_string()]}),
            )
            .expect("roots"),
            ..Default::default()
        };
        let cache_dir = tempfile::tempdir().expect("cache");
        let cache = RedbJobCache::open(cache_dir.path().join("jobs.redb")).expect("cache");
        let data = MinionData::default();
        for (id, role) in [("web1", "web"), ("db1", "db")] {
            let record = json!({"grains": {"role": role}, "pillar": {}});
            data.set(&cache, &minion(id), record).expect("set");
        }
        let compiler = PillarCompiler {
            roots: Arc::new(Roots::from_config(&config.pillar_roots)),
            opts: Arc::new(PillarOpts::from_master(&config)),
            minion_data: Arc::new(data),
            functions: Arc::default(),
        };
        Fixture {
            _tree: tree,
            _cache_dir: cache_dir,
            cache,
            compiler,
        }
    }

    fn minion(id: &str) -> MinionId {
        MinionId::parse(id).expect("id")
    }

    /// The pillar request names no minion: the compile is for the session's
    /// minion, with that minion's cached grains, and nobody else's data.
    #[test]
    fn the_pillar_is_compiled_for_the_session_minion_only() {
        // The wire request carries no id of its own.
        let request = Request::Pillar {
            saltenv: None,
            pillarenv: None,
            extra: Map::new(),
        };
        let encoded = serde_json::to_value(&request).expect("encode");
        assert!(!encoded.to_string().contains("\"id\""), "{encoded}");

        let f = fixture();
        let (_, db_pillar) = f.compiler.compile(&minion("db1"), PillarRequest::default());
        assert!(!db_pillar.contains_key("web_secret"), "{db_pillar:?}");
        let (grains, web_pillar) = f
            .compiler
            .compile(&minion("web1"), PillarRequest::default());
        assert_eq!(web_pillar.get("web_secret"), Some(&json!("s3cret")));
        assert_eq!(grains.get("role"), Some(&json!("web")));
    }

    /// The minion's override is in its answer, never in the pillar the master
    /// caches for targeting.
    #[tokio::test]
    async fn an_override_is_answered_but_not_cached_for_targeting() {
        let f = fixture();
        let source = PillarSource {
            compiler: f.compiler.clone(),
            minion_data: &f.compiler.minion_data,
            cache: &f.cache,
        };
        let web1 = minion("web1");
        let extra = json!({"web_secret": "forged", "extra": 1});
        let request = PillarRequest {
            extra: extra.as_object().cloned().expect("map"),
            ..Default::default()
        };
        let reply = source.serve(&web1, request).await;
        let Reply::Pillar(answer) = reply else {
            panic!("{reply:?}");
        };
        assert_eq!(answer.get("web_secret"), Some(&json!("forged")));
        assert_eq!(answer.get("extra"), Some(&json!(1)));

        let needs = DataNeeds {
            grains: Some(Default::default()),
            pillar: None,
        };
        let cached = f
            .compiler
            .minion_data
            .facts("web1", &needs)
            .expect("cached");
        assert_eq!(cached["pillar"], json!({"web_secret": "s3cret"}));
    }

    /// A pillar template's `salt[...]` reaches the master's own functions;
    /// one the master lacks fails the SLS.
    #[test]
    fn pillar_templates_call_the_masters_functions() {
        let f = fixture();
        let tree = f._tree.path();
        write(tree, "top.sls", "base:\n  '*':\n    - calls\n");
        write(
            tree,
            "calls.sls",
            "echo: {{ salt['test.echo']('x') }}\n\
             base: {{ salt['file.basename']('/a/b') }}\n",
        );
        let (_, pillar) = f
            .compiler
            .compile(&minion("web1"), PillarRequest::default());
        assert_eq!(pillar.get("echo"), Some(&json!("x")), "{pillar:?}");
        assert_eq!(pillar.get("base"), Some(&json!("b")), "{pillar:?}");

        write(tree, "calls.sls", "out: {{ salt['cmd.run']('id') }}\n");
        let (_, pillar) = f
            .compiler
            .compile(&minion("web1"), PillarRequest::default());
        // The refusal itself goes to the master's log; the minion is told
        // which SLS failed.
        let errors = brine_pillar::errors_of(&pillar);
        assert!(!pillar.contains_key("out"), "{pillar:?}");
        assert!(errors.iter().any(|e| e.contains("'calls'")), "{pillar:?}");
    }
}
