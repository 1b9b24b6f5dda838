//! Salt's `config` module: a value from the minion's options, its grains,
//! its pillar, the master's options as pillar carries them
//! (`pillar['master']`), or Salt's module defaults, in that order
//! (`config.option` for a top-level name, `config.get` for a nested key).

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python::to_str;
use brine_common::target::{Fnmatch, traverse};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::dictupdate;
use super::process::Args;

const OPTION_SIG: &str = "value, default=None, omit_opts=False, omit_grains=False, omit_pillar=False, omit_master=False, omit_all=False, wildcard=False";
const GET_SIG: &str = "key, default='', delimiter=':', merge=None, omit_opts=False, omit_pillar=False, omit_master=False, omit_grains=False";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "config.option",
        OPTION_SIG,
        OPTION_DOC,
        |ctx, call| async move {
            let sources = Sources::of(&ctx).await;
            Ok(option(&sources, &Args::bind(&call, OPTION_SIG)).into())
        },
    );
    f.register("config.get", GET_SIG, GET_DOC, |ctx, call| async move {
        let sources = Sources::of(&ctx).await;
        get(&sources, &call).map(FnOutput::from)
    });
}

const OPTION_DOC: &str = "Returns the setting for the specified config value. The priority for\nmatches is the same as in :py:func:`config.get <salt.modules.config.get>`,\nonly this function does not recurse into nested data structures. Another\ndifference between this function and :py:func:`config.get\n<salt.modules.config.get>` is that it comes with a set of \"sane defaults\".\n\nwildcard : False\n    If used in combination with the ``omit_*`` options, the value is treated\n    as a glob and a dictionary of the matching options is returned.\n\nCLI Example:\n\n    brine '*' config.option redis.host";
const GET_DOC: &str = "Attempt to retrieve the named value from the minion config file, pillar,\ngrains or the master config. If the named value is not available, return\nthe value specified by the ``default`` argument. If this argument is not\nspecified, ``default`` falls back to an empty string.\n\nValues can also be retrieved from nested dictionaries. Assume the below\ndata structure:\n\n    {'pkg': {'apache': 'httpd'}}\n\nTo retrieve the value associated with the ``apache`` key, in the\nsub-dictionary corresponding to the ``pkg`` key, the following command can\nbe used:\n\n    brine myminion config.get pkg:apache\n\nmerge\n    ``recurse`` or ``overwrite``: merge the four sources (defaults, master,\n    pillar, grains, then minion options winning) before looking the key up.\n\nCLI Example:\n\n    brine '*' config.get pkg:apache\n    brine '*' config.get lxc.container_profile:centos merge=recurse";

/// The minion's options as `opts` shows them: its config, with its id.
pub fn opts(ctx: &MinionCtx) -> Map<String, Value> {
    let mut opts = match serde_json::to_value(&*ctx.config) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    opts.insert("id".into(), json!(ctx.id.to_string()));
    opts
}

/// Salt's `config.DEFAULTS`: values modules fall back to.
fn defaults() -> Map<String, Value> {
    let value = json!({
        "mongo.db": "salt",
        "mongo.password": "",
        "mongo.port": 27017,
        "mongo.user": "",
        "redis.db": "0",
        "redis.host": "salt",
        "redis.port": 6379,
        "test.foo": "unconfigured",
        "ca.cert_base_path": "/etc/pki",
        "solr.cores": [],
        "solr.host": "localhost",
        "solr.port": "8983",
        "solr.baseurl": "/solr",
        "solr.type": "master",
        "solr.request_timeout": null,
        "solr.init_script": "/etc/rc.d/solr",
        "solr.dih.import_options": {
            "clean": false,
            "optimize": true,
            "commit": true,
            "verbose": false,
        },
        "solr.backup_path": null,
        "solr.num_backups": 1,
        "poudriere.config": "/usr/local/etc/poudriere.conf",
        "poudriere.config_dir": "/usr/local/etc/poudriere.d",
        "ldap.uri": "",
        "ldap.server": "localhost",
        "ldap.port": "389",
        "ldap.tls": false,
        "ldap.no_verify": false,
        "ldap.anonymous": true,
        "ldap.scope": 2,
        "ldap.attrs": null,
        "ldap.binddn": "",
        "ldap.bindpw": "",
        "hosts.file": "/etc/hosts",
        "aliases.file": "/etc/aliases",
        "virt": {"tunnel": false, "images": "/srv/salt-images"},
        "docker.exec_driver": "docker-exec",
        "docker.compare_container_networks": {
            "static": ["Aliases", "Links", "IPAMConfig"],
            "automatic": ["IPAddress", "Gateway", "GlobalIPv6Address", "IPv6Gateway"],
        },
    });
    value.as_object().cloned().unwrap_or_default()
}

/// Where a value may come from, in Salt's order of precedence.
struct Sources {
    opts: Map<String, Value>,
    grains: Map<String, Value>,
    pillar: Map<String, Value>,
    master: Map<String, Value>,
    defaults: Map<String, Value>,
}

impl Sources {
    async fn of(ctx: &MinionCtx) -> Sources {
        let pillar = super::pillar::loaded_pillar(ctx).await;
        let master = match pillar.get("master") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        Sources {
            opts: opts(ctx),
            grains: ctx.grains(),
            pillar,
            master,
            defaults: defaults(),
        }
    }

    /// The sources in order of precedence, each with whether it is omitted.
    fn ordered(&self, omit: [bool; 4]) -> [(bool, &Map<String, Value>); 5] {
        [
            (omit[0], &self.opts),
            (omit[1], &self.grains),
            (omit[2], &self.pillar),
            (omit[3], &self.master),
            (false, &self.defaults),
        ]
    }
}

/// Salt's `config.option`: the first source holding `value` as a
/// top-level key; with `wildcard`, every matching key of every source.
fn option(sources: &Sources, args: &Args) -> Value {
    let all = args.bool("omit_all", false);
    let omit = ["omit_opts", "omit_grains", "omit_pillar", "omit_master"]
        .map(|name| all || args.bool(name, false));
    let name = args.str("value").unwrap_or_default();
    let wildcard = args.bool("wildcard", false);
    let default = args
        .get("default")
        .cloned()
        .unwrap_or_else(|| if wildcard { json!({}) } else { json!("") });
    let ordered = sources.ordered(omit);
    if !wildcard {
        return ordered
            .iter()
            .filter(|(omitted, _)| !omitted)
            .find_map(|(_, source)| source.get(&name).cloned())
            .unwrap_or(default);
    }
    let Ok(glob) = Fnmatch::new(&name) else {
        return default;
    };
    // Salt updates from the lowest source up, then adds unset defaults.
    let mut found = Map::new();
    for (omitted, source) in ordered[..4].iter().rev() {
        if !omitted {
            let matching = source.iter().filter(|(k, _)| glob.is_match(k));
            found.extend(matching.map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    for (key, value) in sources.defaults.iter().filter(|(k, _)| glob.is_match(k)) {
        if !found.contains_key(key) {
            found.insert(key.clone(), value.clone());
        }
    }
    if found.is_empty() {
        default
    } else {
        Value::Object(found)
    }
}

/// Salt's `config.get`.
fn get(sources: &Sources, call: &Call) -> Result<Value, FnError> {
    let args = Args::bind(call, GET_SIG);
    let key = args.str("key").unwrap_or_default();
    let default = args.named().get("default").cloned().unwrap_or(json!(""));
    let delimiter = args.str_or("delimiter", ":");
    let omit = ["omit_opts", "omit_grains", "omit_pillar", "omit_master"]
        .map(|name| args.bool(name, false));
    let Some(strategy) = args.get("merge").map(to_str) else {
        let found = sources
            .ordered(omit)
            .iter()
            .filter(|(omitted, _)| !omitted)
            .find_map(|(_, source)| traverse(source, &key, &delimiter).cloned());
        return Ok(found.unwrap_or(default));
    };
    let strategy = match strategy.as_str() {
        "recurse" | "overwrite" => strategy,
        other => {
            tracing::warn!("Unsupported merge strategy '{other}'. Falling back to 'recurse'.");
            "recurse".to_string()
        }
    };
    let mut data = Value::Object(sources.defaults.clone());
    for layer in [
        &sources.master,
        &sources.pillar,
        &sources.grains,
        &sources.opts,
    ] {
        data = dictupdate::merge(data, Value::Object(layer.clone()), &strategy, "yaml", false)?;
    }
    let found = data
        .as_object()
        .and_then(|data| traverse(data, &key, &delimiter).cloned());
    Ok(found.unwrap_or(default))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Sources {
        let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
        Sources {
            opts: obj(
                json!({"file_client": "local", "file_roots": {"base": ["/srv"]}, "shadowed": "opts"}),
            ),
            grains: obj(
                json!({"os": "Debian", "roles": ["web"], "shadowed": "grain", "merged": {"g": 1}}),
            ),
            pillar: obj(
                json!({"stack": {"lookup": {"pkg": "p"}}, "merged": {"p": 1}, "master": {"m": 1}}),
            ),
            master: obj(json!({"m": 1})),
            defaults: defaults(),
        }
    }

    fn call(fun: &str, args: Vec<Value>, kwargs: Value) -> Call {
        Call {
            fun: fun.into(),
            args,
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        }
    }

    fn option_of(args: Vec<Value>, kwargs: Value) -> Value {
        option(
            &sources(),
            &Args::bind(&call("config.option", args, kwargs), OPTION_SIG),
        )
    }

    fn get_of(args: Vec<Value>, kwargs: Value) -> Value {
        get(&sources(), &call("config.get", args, kwargs)).unwrap_or(Value::Null)
    }

    #[test]
    fn option_in_salts_order() {
        assert_eq!(
            option_of(vec![json!("file_client")], json!({})),
            json!("local")
        );
        assert_eq!(option_of(vec![json!("shadowed")], json!({})), json!("opts"));
        assert_eq!(
            option_of(vec![json!("shadowed")], json!({"omit_opts": true})),
            json!("grain")
        );
        assert_eq!(option_of(vec![json!("m")], json!({})), json!(1));
        assert_eq!(
            option_of(vec![json!("test.foo")], json!({})),
            json!("unconfigured")
        );
        assert_eq!(option_of(vec![json!("nosuch")], json!({})), json!(""));
        assert_eq!(
            option_of(vec![json!("nosuch"), json!(5)], json!({})),
            json!(5)
        );
        assert_eq!(
            option_of(vec![json!("file_*")], json!({"wildcard": true})),
            json!({"file_client": "local", "file_roots": {"base": ["/srv"]}})
        );
    }

    #[test]
    fn get_traverses_in_salts_order() {
        assert_eq!(get_of(vec![json!("os")], json!({})), json!("Debian"));
        assert_eq!(get_of(vec![json!("roles:0")], json!({})), json!("web"));
        assert_eq!(
            get_of(vec![json!("stack|lookup|pkg")], json!({"delimiter": "|"})),
            json!("p")
        );
        assert_eq!(
            get_of(vec![json!("no:such"), json!("dflt")], json!({})),
            json!("dflt")
        );
        assert_eq!(get_of(vec![json!("shadowed")], json!({})), json!("opts"));
        assert_eq!(get_of(vec![json!("merged")], json!({})), json!({"g": 1}));
        assert_eq!(
            get_of(vec![json!("merged")], json!({"merge": "recurse"})),
            json!({"p": 1, "g": 1})
        );
    }
}
