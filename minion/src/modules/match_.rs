//! Salt's `match` module: does a target expression match this minion (its
//! id, grains and pillar)? `match.glob`, `pcre`, `list`, `grain`,
//! `grain_pcre`, `pillar`, `pillar_pcre`, `ipcidr`, `compound`, and the
//! lookups built on them: `filter_by`, `search_by` and `ifelse`.
//!
//! As in Salt, a target that cannot be evaluated (a bad regex, a grain
//! target without a delimiter, an unbalanced compound) is logged and does
//! not match. Matching uses `brine_common::target`, the same code that
//! decides whether a published job is for this minion.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python::{to_str, truthy};
use brine_common::target::{DataPattern, MinionFacts, Target, TargetType, ValueMatch};
use brine_common::wire::TargetSpec;
use serde_json::{Map, Value};

use super::MinionCtx;
use super::dictupdate;

/// The target type each matcher evaluates (`match.<type>`), and whether its
/// second parameter is `minion_id` (else `delimiter`).
const MATCHERS: [(TargetType, bool, &str); 9] = [
    (TargetType::Compound, true, COMPOUND_DOC),
    (TargetType::Glob, true, GLOB_DOC),
    (TargetType::Pcre, true, PCRE_DOC),
    (TargetType::List, true, LIST_DOC),
    (TargetType::Grain, false, GRAIN_DOC),
    (TargetType::GrainPcre, false, GRAIN_PCRE_DOC),
    (TargetType::Pillar, false, PILLAR_DOC),
    (TargetType::PillarPcre, false, PILLAR_PCRE_DOC),
    (TargetType::IpCidr, true, IPCIDR_DOC),
];

pub fn register(f: &mut Functions<MinionCtx>) {
    for (tgt_type, by_id, doc) in MATCHERS {
        let signature = match (by_id, tgt_type) {
            (_, TargetType::IpCidr) => "tgt",
            (true, _) => "tgt, minion_id=None",
            (false, _) => "tgt, delimiter=':'",
        };
        f.register(
            &format!("match.{tgt_type}"),
            signature,
            doc,
            move |ctx, call| async move {
                let facts = Facts::of(&ctx, tgt_type).await;
                let tgt = call.param(0, "tgt").cloned().unwrap_or(Value::Null);
                let second = call.param(1, if by_id { "minion_id" } else { "delimiter" });
                Ok(Value::Bool(facts.matches(tgt_type, &tgt, second)).into())
            },
        );
    }
    f.register(
        "match.filter_by",
        "lookup, tgt_type='compound', minion_id=None, merge=None, merge_lists=False, default='default'",
        FILTER_BY_DOC,
        |ctx, call| async move { filter_by_call(&ctx, &call).await },
    );
    f.register(
        "match.search_by",
        "lookup, tgt_type='compound', minion_id=None",
        SEARCH_BY_DOC,
        |ctx, call| async move { search_by(&ctx, &call).await },
    );
    f.register(
        "match.ifelse",
        "*args, tgt_type='compound', minion_id=None, merge=None, merge_lists=False",
        IFELSE_DOC,
        |ctx, call| async move { ifelse(&ctx, &call).await },
    );
}

const COMPOUND_DOC: &str = "Return True if the minion ID matches the given compound target\n\nminion_id\n    Specify the minion ID to match against the target expression\n\nCLI Example:\n\n    brine '*' match.compound 'L@cheese,foo and *'";
const GLOB_DOC: &str = "Return True if the minion ID matches the given glob target\n\nminion_id\n    Specify the minion ID to match against the target expression\n\nCLI Example:\n\n    brine '*' match.glob '*'";
const PCRE_DOC: &str = "Return True if the minion ID matches the given pcre target\n\nminion_id\n    Specify the minion ID to match against the target expression\n\nCLI Example:\n\n    brine '*' match.pcre '.*'";
const LIST_DOC: &str = "Return True if the minion ID matches the given list target\n\nminion_id\n    Specify the minion ID to match against the target expression\n\nCLI Example:\n\n    brine '*' match.list 'server1,server2'";
const GRAIN_DOC: &str = "Return True if the minion matches the given grain target. The ``delimiter``\nargument can be used to specify a different delimiter.\n\nCLI Example:\n\n    brine '*' match.grain 'os:Ubuntu'\n    brine '*' match.grain 'ipv6|2001:db8::ff00:42:8329' delimiter='|'";
const GRAIN_PCRE_DOC: &str = "Return True if the minion matches the given grain_pcre target. The\n``delimiter`` argument can be used to specify a different delimiter.\n\nCLI Example:\n\n    brine '*' match.grain_pcre 'os:Fedo.*'";
const PILLAR_DOC: &str = "Return True if the minion matches the given pillar target. The\n``delimiter`` argument can be used to specify a different delimiter.\n\nCLI Example:\n\n    brine '*' match.pillar 'cheese:foo'";
const PILLAR_PCRE_DOC: &str = "Return True if the minion matches the given pillar_pcre target. The\n``delimiter`` argument can be used to specify a different delimiter.\n\nCLI Example:\n\n    brine '*' match.pillar_pcre 'cheese:(swiss|american)'";
const IPCIDR_DOC: &str = "Return True if the minion matches the given ipcidr target\n\nCLI Example:\n\n    brine '*' match.ipcidr '192.168.44.0/24'";
const FILTER_BY_DOC: &str = "Return the first match in a dictionary of target patterns\n\nCLI Example:\n\n    brine '*' match.filter_by '{foo*: Foo!, bar*: Bar!}' minion_id=bar03\n\nPillar Example:\n\n    # Filter the data for the current minion into a variable:\n    {% set roles = salt['match.filter_by']({\n        'web*': ['app', 'caching'],\n        'db*': ['db'],\n    }, minion_id=grains['id'], default='web*') %}";
const SEARCH_BY_DOC: &str = "Search a dictionary of target strings for matching targets\n\nThis is the inverse of :py:func:`match.filter_by\n<salt.modules.match.filter_by>` and allows matching values instead of\nmatching keys. A minion can be matched by multiple entries.\n\nCLI Example:\n\n    brine '*' match.search_by '{web: [node1, node2], db: [node2, node]}'";
const IFELSE_DOC: &str = "Evaluate each pair of arguments up to the last one as a (matcher, value)\ntuple, returning ``value`` if matched.  If none match, returns the last\nargument.\n\nThe ``ifelse`` function is like a multi-level if-else statement.\n\nCLI Example:\n\n    brine '*' match.ifelse 'foo*' 'Foo!' 'bar*' 'Bar!' minion_id=bar03";

/// What targets are evaluated against: this minion's id, grains and pillar.
struct Facts {
    id: String,
    grains: Map<String, Value>,
    pillar: Map<String, Value>,
}

impl Facts {
    /// The facts a target type needs (the pillar only for pillar targets
    /// and compounds, since a masterless minion compiles it afresh).
    async fn of(ctx: &MinionCtx, tgt_type: TargetType) -> Facts {
        let pillar = if matches!(
            tgt_type,
            TargetType::Pillar | TargetType::PillarPcre | TargetType::Compound
        ) {
            super::pillar::loaded_pillar(ctx).await
        } else {
            Map::new()
        };
        Facts {
            id: ctx.id.to_string(),
            grains: ctx.grains(),
            pillar,
        }
    }

    /// Does `tgt` of `tgt_type` match? `second` is the call's `minion_id`
    /// (id targets) or `delimiter` (grain and pillar targets).
    fn matches(&self, tgt_type: TargetType, tgt: &Value, second: Option<&Value>) -> bool {
        let given = second.filter(|v| truthy(v)).map(to_str);
        let outcome = match tgt_type {
            TargetType::List => Ok(list_match(tgt, given.as_deref().unwrap_or(&self.id))),
            TargetType::Grain
            | TargetType::GrainPcre
            | TargetType::Pillar
            | TargetType::PillarPcre => {
                self.data_match(tgt_type, tgt, given.as_deref().unwrap_or(":"))
            }
            _ => self.target_match(tgt_type, tgt, given.as_deref().unwrap_or(&self.id)),
        };
        outcome.unwrap_or_else(|e| {
            tracing::error!("match.{tgt_type} {}: {e}", to_str(tgt));
            false
        })
    }

    fn data_match(
        &self,
        tgt_type: TargetType,
        tgt: &Value,
        delimiter: &str,
    ) -> Result<bool, String> {
        let Value::String(expr) = tgt else {
            return Err("the target must be a string".into());
        };
        let mode = if matches!(tgt_type, TargetType::GrainPcre | TargetType::PillarPcre) {
            ValueMatch::Regex
        } else {
            ValueMatch::Glob
        };
        let kind = if matches!(tgt_type, TargetType::Grain | TargetType::GrainPcre) {
            "grain"
        } else {
            "pillar"
        };
        let pattern = DataPattern::new(expr, delimiter, mode, kind).map_err(|e| e.to_string())?;
        let data = if kind == "grain" {
            &self.grains
        } else {
            &self.pillar
        };
        Ok(pattern.matches(data))
    }

    fn target_match(&self, tgt_type: TargetType, tgt: &Value, id: &str) -> Result<bool, String> {
        let spec = TargetSpec {
            tgt: tgt.clone(),
            tgt_type,
        };
        let target = Target::compile(&spec).map_err(|e| e.to_string())?;
        Ok(target.matches(&MinionFacts::new(id, &self.grains, &self.pillar)))
    }
}

/// Salt's `list_match`: the id inside a comma-separated string (no
/// whitespace trimmed), or an item of a list.
fn list_match(tgt: &Value, id: &str) -> bool {
    match tgt {
        Value::String(text) => {
            text.contains(&format!(",{id},"))
                || text.starts_with(&format!("{id},"))
                || text.ends_with(&format!(",{id}"))
                || text == id
        }
        Value::Array(items) => items.iter().any(|item| item.as_str() == Some(id)),
        _ => false,
    }
}

/// The matcher `match.filter_by` and friends call for `tgt_type` (Salt
/// looks it up among the module's functions, where `list` is `list_`).
fn matcher_type(tgt_type: &str) -> Result<TargetType, FnError> {
    let matcher = match tgt_type {
        "list_" => Some(TargetType::List),
        "list" => None,
        other => TargetType::parse(other)
            .ok()
            .filter(|ty| MATCHERS.iter().any(|(matcher, ..)| matcher == ty)),
    };
    matcher.ok_or_else(|| FnError::Exception(format!("KeyError: '{tgt_type}'")))
}

/// The options shared by `filter_by`, `search_by` and `ifelse`.
struct Lookup {
    tgt_type: TargetType,
    minion_id: Option<Value>,
    merge: Option<Value>,
    merge_lists: bool,
}

impl Lookup {
    /// From the call: positionally from index `first` on, or (`None`, after
    /// `*args`) by keyword only.
    fn of(call: &Call, first: Option<usize>) -> Result<Lookup, FnError> {
        let kw = |index: usize, name: &str| match first {
            Some(first) => call.param(first + index, name),
            None => call.kwargs.get(name),
        };
        let tgt_type = kw(0, "tgt_type").map_or_else(|| "compound".to_string(), to_str);
        Ok(Lookup {
            tgt_type: matcher_type(&tgt_type)?,
            minion_id: kw(1, "minion_id").filter(|v| truthy(v)).cloned(),
            merge: kw(2, "merge").filter(|v| truthy(v)).cloned(),
            merge_lists: kw(3, "merge_lists").is_some_and(truthy),
        })
    }

    /// Salt's `filter_by` over a lookup table.
    fn filter_by(
        &self,
        facts: &Facts,
        lookup: Map<String, Value>,
        default: &str,
    ) -> Result<Value, FnError> {
        let second = self.minion_id.as_ref();
        let found = lookup
            .iter()
            .find(|(key, _)| facts.matches(self.tgt_type, &Value::String((*key).clone()), second))
            .map(|(_, value)| value.clone());
        let Some(found) = found else {
            return Ok(lookup.get(default).cloned().unwrap_or(Value::Null));
        };
        match &self.merge {
            None => Ok(found),
            Some(merge) if !merge.is_object() => Err(FnError::Exception(
                "filter_by merge argument must be a dictionary.".into(),
            )),
            Some(merge) if found.is_null() => Ok(merge.clone()),
            Some(merge) => dictupdate::update(found, merge.clone(), true, self.merge_lists),
        }
    }
}

fn lookup_table(value: Option<&Value>) -> Result<Map<String, Value>, FnError> {
    match value {
        Some(Value::Object(map)) => Ok(map.clone()),
        other => Err(FnError::Exception(format!(
            "TypeError: '{}' object is not iterable as a lookup table",
            brine_common::output::python::python_type(other.unwrap_or(&Value::Null))
        ))),
    }
}

async fn filter_by_call(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let lookup = lookup_table(call.param(0, "lookup"))?;
    let options = Lookup::of(call, Some(1))?;
    let default = call
        .param(5, "default")
        .map_or_else(|| "default".to_string(), to_str);
    let facts = Facts::of(ctx, options.tgt_type).await;
    Ok(options.filter_by(&facts, lookup, &default)?.into())
}

/// Salt's `search_by`: the keys one of whose targets matches (a key once
/// per matching target), or `None`.
async fn search_by(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let lookup = lookup_table(call.param(0, "lookup"))?;
    let options = Lookup::of(call, Some(1))?;
    let facts = Facts::of(ctx, options.tgt_type).await;
    let mut found = Vec::new();
    for (key, targets) in &lookup {
        let targets = match targets {
            Value::Array(items) => items.clone(),
            Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
            other => {
                return Err(FnError::Exception(format!(
                    "TypeError: '{}' object is not iterable",
                    brine_common::output::python::python_type(other)
                )));
            }
        };
        for target in &targets {
            if facts.matches(options.tgt_type, target, options.minion_id.as_ref()) {
                found.push(Value::String(key.clone()));
            }
        }
    }
    Ok(if found.is_empty() {
        Value::Null
    } else {
        Value::Array(found)
    }
    .into())
}

/// Salt's `ifelse(target, value, target, value, ..., default)`.
async fn ifelse(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    const DEFAULT_KEY: &str = "SALT_IFELSE_FUNCTION_DEFAULT";
    let args = &call.args;
    if args.len().is_multiple_of(2) {
        return Err(FnError::Exception(
            "The ifelse function must have an odd number of arguments!".into(),
        ));
    }
    let Some((fallback, pairs)) = args.split_last() else {
        return Err(FnError::Exception(
            "The ifelse function must have an odd number of arguments!".into(),
        ));
    };
    if pairs.is_empty() {
        return Ok(fallback.clone().into());
    }
    let mut lookup = Map::new();
    for pair in pairs.chunks(2) {
        let key = match &pair[0] {
            Value::Bool(true) => "*".to_string(),
            Value::Bool(false) => "SALT_IFELSE_MATCH_NOTHING".to_string(),
            other => to_str(other),
        };
        lookup.insert(key, pair[1].clone());
    }
    lookup.insert(DEFAULT_KEY.into(), fallback.clone());
    let options = Lookup::of(call, None)?;
    let facts = Facts::of(ctx, options.tgt_type).await;
    Ok(options.filter_by(&facts, lookup, DEFAULT_KEY)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> Facts {
        let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
        Facts {
            id: "conformance-minion".into(),
            grains: obj(json!({"os": "Debian", "roles": ["web"], "ipv4": ["10.1.2.3"]})),
            pillar: obj(json!({"role": "db"})),
        }
    }

    fn m(tgt_type: &str, tgt: Value, second: Option<Value>) -> bool {
        let tgt_type = TargetType::parse(tgt_type).expect("a known type");
        facts().matches(tgt_type, &tgt, second.as_ref())
    }

    #[test]
    fn id_matchers() {
        assert!(m("glob", json!("conformance-*"), None));
        assert!(!m("glob", json!("other"), None));
        assert!(m("glob", json!("other"), Some(json!("other"))));
        assert!(m("pcre", json!("conf.*"), None));
        assert!(!m("pcre", json!("minion"), None));
        assert!(!m("pcre", json!("("), None), "a bad regex does not match");
        assert!(m("list", json!("a,conformance-minion"), None));
        assert!(m("list", json!(["a", "conformance-minion"]), None));
        assert!(
            !m("list", json!("a, conformance-minion"), None),
            "Salt does not trim"
        );
    }

    #[test]
    fn data_matchers() {
        assert!(m("grain", json!("os:Debian"), None));
        assert!(!m("grain", json!("os"), None));
        assert!(m("grain", json!("roles:w*"), None));
        assert!(m("grain", json!("os|Debian"), Some(json!("|"))));
        assert!(m("grain_pcre", json!("os:Deb.*"), None));
        assert!(m("pillar", json!("role:db"), None));
        assert!(!m("pillar", json!("nosuch:x"), None));
        assert!(m("ipcidr", json!("10.0.0.0/8"), None));
    }

    #[test]
    fn compound() {
        assert!(m("compound", json!("G@roles:web and conformance-*"), None));
        assert!(m("compound", json!("I@role:db and not G@os:RedHat"), None));
        assert!(!m("compound", json!("G@roles:web and ( bad"), None));
    }

    #[test]
    fn filter_by_first_match_then_default_and_merge() {
        let options = |merge: Option<Value>| Lookup {
            tgt_type: TargetType::Compound,
            minion_id: None,
            merge,
            merge_lists: false,
        };
        let table = json!({"web*": {"a": 1}, "conformance-*": {"a": 2}, "default": {"a": 3}});
        let table = table.as_object().cloned().unwrap_or_default();
        let out = options(None).filter_by(&facts(), table.clone(), "default");
        assert_eq!(out, Ok(json!({"a": 2})));
        let out = options(Some(json!({"b": 1}))).filter_by(&facts(), table.clone(), "default");
        assert_eq!(out, Ok(json!({"a": 2, "b": 1})));
        let miss = json!({"web*": 1}).as_object().cloned().unwrap_or_default();
        assert_eq!(
            options(None).filter_by(&facts(), miss, "default"),
            Ok(Value::Null)
        );
        let bad = options(Some(json!([1]))).filter_by(&facts(), table, "default");
        assert!(matches!(bad, Err(FnError::Exception(_))));
    }

    #[test]
    fn matcher_names() {
        assert_eq!(matcher_type("list_"), Ok(TargetType::List));
        assert!(
            matcher_type("list").is_err(),
            "Salt's module function is list_"
        );
        assert_eq!(matcher_type("grain"), Ok(TargetType::Grain));
        assert_eq!(
            matcher_type("nosuch"),
            Err(FnError::Exception("KeyError: 'nosuch'".into()))
        );
        assert!(
            matcher_type("nodegroup").is_err(),
            "a target type with no match.<type> function"
        );
    }
}
