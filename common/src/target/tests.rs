//! Tests of whole targets: every type, the compound grammar and its errors,
//! nodegroup expansion, and property tests of the parser against an
//! independent brute-force evaluator.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::*;

/// A target of the type Salt names `ty` (a known one: the tests of an
/// unknown type parse it themselves).
fn spec(tgt: Value, ty: &str) -> TargetSpec {
    TargetSpec {
        tgt,
        tgt_type: TargetType::parse(ty).unwrap_or_else(|e| panic!("{ty}: {e}")),
    }
}

fn compile(tgt: &str, ty: &str) -> Target {
    Target::compile(&spec(json!(tgt), ty)).unwrap_or_else(|e| panic!("{tgt:?}: {e}"))
}

fn compile_err(tgt: &str, ty: &str) -> TargetError {
    match Target::compile(&spec(json!(tgt), ty)) {
        Ok(_) => panic!("{tgt:?} ({ty}) compiled"),
        Err(e) => e,
    }
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

/// A minion's id, grains and pillar.
type Minion = (String, Map<String, Value>, Map<String, Value>);

/// Four minions with different grains; m4 has none at all.
fn minions() -> Vec<Minion> {
    vec![
        (
            "m1".into(),
            object(json!({"role": "web", "env": "prod", "ipv4": ["127.0.0.1", "10.0.0.1"]})),
            object(json!({"team": "blue"})),
        ),
        (
            "m2".into(),
            object(json!({"role": "db", "env": "prod", "ipv4": ["10.0.0.2"]})),
            Map::new(),
        ),
        (
            "m3".into(),
            object(json!({"role": "web", "env": "dev", "tags": ["a", "b"]})),
            object(json!({"team": "red"})),
        ),
        ("m4".into(), Map::new(), Map::new()),
    ]
}

/// Which of the four minions a target matches.
fn matching(target: &Target) -> Vec<String> {
    minions()
        .iter()
        .filter(|(id, g, p)| target.matches(&MinionFacts::new(id, g, p)))
        .map(|(id, _, _)| id.clone())
        .collect()
}

fn matched(tgt: &str, ty: &str) -> Vec<String> {
    matching(&compile(tgt, ty))
}

#[test]
fn id_targets() {
    assert_eq!(matched("m[12]", "glob"), ["m1", "m2"]);
    assert_eq!(matched("*", "glob"), ["m1", "m2", "m3", "m4"]);
    assert_eq!(matched("m[34]", "pcre"), ["m3", "m4"]);
    assert_eq!(
        matched("1", "pcre"),
        Vec::<String>::new(),
        "anchored at the start"
    );
    assert_eq!(matched("m1, m3", "list"), ["m1", "m3"]);
    let listed = Target::compile(&spec(json!(["m2", "m4"]), "list")).expect("list");
    assert_eq!(matching(&listed), ["m2", "m4"]);
    assert_eq!(
        listed.listed_ids(),
        Some(&["m2".to_string(), "m4".to_string()][..])
    );
    assert_eq!(compile("m1", "glob").listed_ids(), None);
}

#[test]
fn data_targets() {
    assert_eq!(matched("role:web", "grain"), ["m1", "m3"]);
    assert_eq!(matched("tags:b", "grain"), ["m3"]);
    assert_eq!(matched("env:^pr", "grain_pcre"), ["m1", "m2"]);
    assert_eq!(matched("team:*", "pillar"), ["m1", "m3"]);
    assert_eq!(matched("team:r.d", "pillar_pcre"), ["m3"]);
    assert_eq!(matched("10.0.0.0/24", "ipcidr"), ["m1", "m2"]);
    assert_eq!(matched("127.0.0.1", "ipcidr"), ["m1"]);
}

#[test]
fn an_empty_pillar_matches_nothing() {
    let t = compile("team:*", "pillar");
    let empty = Map::new();
    assert!(!t.matches(&MinionFacts::new("m1", &empty, &empty)));
}

#[test]
fn compound_targets() {
    let c = |tgt| matched(tgt, "compound");
    assert_eq!(c("G@role:web and not G@env:dev"), ["m1"]);
    assert_eq!(c("( m1 or m2 ) and G@env:prod"), ["m1", "m2"]);
    assert_eq!(c("not G@role:web"), ["m2", "m4"]);
    assert_eq!(c("m1 or m2 and m3"), ["m1"], "and binds tighter than or");
    assert_eq!(
        c("m* not L@m2,m3"),
        ["m1", "m4"],
        "`a not b` is `a and not b`"
    );
    assert_eq!(c("E@m[13] and I@team:*"), ["m1", "m3"]);
    assert_eq!(c("S@10.0.0.0/8 or P@tags:^a$"), ["m1", "m2", "m3"]);
    assert_eq!(c("G|@role|web"), ["m1", "m3"], "a custom delimiter");
    assert_eq!(c("not not m1"), ["m1"]);
    let listed = Target::compile(&spec(json!(["m1", "or", "m4"]), "compound")).expect("list");
    assert_eq!(matching(&listed), ["m1", "m4"]);
}

fn compound_problem(tgt: &str) -> CompoundError {
    match compile_err(tgt, "compound") {
        TargetError::Compound { source, .. } => source,
        other => panic!("{tgt:?}: not a compound error: {other}"),
    }
}

#[test]
fn malformed_compounds_name_the_problem() {
    use CompoundError as E;
    assert_eq!(compound_problem(""), E::Empty);
    assert_eq!(
        compound_problem("and m1"),
        E::OperatorWithoutLeft {
            word: "and".into(),
            position: 1
        }
    );
    assert_eq!(
        compound_problem("( or m1 )"),
        E::OperatorWithoutLeft {
            word: "or".into(),
            position: 2
        }
    );
    assert_eq!(
        compound_problem("m1 or"),
        E::Truncated {
            word: "or".into(),
            position: 2
        }
    );
    assert_eq!(
        compound_problem("m1 or )"),
        E::Truncated {
            word: "or".into(),
            position: 2
        }
    );
    assert_eq!(compound_problem("m1 )"), E::UnmatchedClose { position: 2 });
    assert_eq!(compound_problem(") m1"), E::UnmatchedClose { position: 1 });
    assert_eq!(compound_problem("( m1 or m2"), E::Unclosed { position: 1 });
    assert_eq!(
        compound_problem("m1 and ( )"),
        E::EmptyGroup { position: 3 }
    );
    assert_eq!(
        compound_problem("m1 m2"),
        E::MissingOperator {
            left: "m1".into(),
            right: "m2".into(),
            position: 1
        }
    );
    assert!(matches!(
        compound_problem("(m1 or m2)"),
        E::AttachedParenthesis { .. }
    ));
    assert!(matches!(
        compound_problem("X@foo"),
        E::UnknownEngine { engine: 'X', .. }
    ));
    assert!(matches!(compound_problem("G@"), E::EmptyPattern { .. }));
    assert!(matches!(compound_problem("R@%cluster"), E::Range { .. }));
    assert!(matches!(
        compound_problem("N@webs"),
        E::NodegroupNotExpanded { .. }
    ));
    assert!(matches!(
        compound_problem("m1 and E@("),
        E::Term { position: 3, .. }
    ));
    assert!(matches!(compound_problem("G@os"), E::Term { .. }));
    assert!(matches!(compound_problem("S@10.0.0.1/8"), E::Term { .. }));
}

#[test]
fn error_messages_read_well() {
    let msg = compile_err("and web1", "compound").to_string();
    assert_eq!(
        msg,
        "invalid compound target \"and web1\": 'and' (word 1) has no target before it"
    );
    let msg = compile_err("web1 web2", "compound").to_string();
    assert!(
        msg.ends_with("'web1' and 'web2' (words 1 and 2) need 'and' or 'or' between them"),
        "{msg}"
    );
    let msg = compile_err("os", "grain").to_string();
    assert!(
        msg.contains("needs a key and a value separated by \":\""),
        "{msg}"
    );
}

#[test]
fn bad_simple_targets_are_errors() {
    assert!(matches!(
        compile_err("web[", "glob"),
        TargetError::Glob { .. }
    ));
    assert!(matches!(compile_err("(", "pcre"), TargetError::Regex(..)));
    assert!(matches!(
        TargetType::parse("nosuch"),
        Err(TargetError::UnknownType(_))
    ));
    assert!(matches!(
        compile_err("x", "range"),
        TargetError::RangeUnsupported
    ));
    assert!(matches!(
        compile_err("webs", "nodegroup"),
        TargetError::NodegroupNotExpanded(_)
    ));
    assert!(matches!(
        compile_err("bogus", "ipcidr"),
        TargetError::IpCidr(..)
    ));
    assert!(matches!(
        Target::compile(&spec(json!(3), "glob")),
        Err(TargetError::Shape(_))
    ));
}

fn nodegroups() -> Map<String, Value> {
    object(json!({
        "webs": "G@role:web",
        "prod_webs": "N@webs and G@env:prod",
        "pair": ["m2", "m4"],
        "spaced": ["G@role:web", "or", "G@osfullname:Debian GNU/Linux"],
    }))
}

#[test]
fn nodegroups_expand_into_compound_targets() {
    let expanded =
        expand_nodegroups(&spec(json!("prod_webs"), "nodegroup"), &nodegroups()).expect("expand");
    assert_eq!(expanded.tgt_type, TargetType::Compound);
    assert_eq!(expanded.tgt, json!("( ( G@role:web ) and G@env:prod )"));
    assert_eq!(
        matching(&Target::compile(&expanded).expect("compile")),
        ["m1"]
    );

    let mixed = spec(json!("N@pair or m1"), "compound");
    let t = Target::compile_with_nodegroups(&mixed, &nodegroups()).expect("compile");
    assert_eq!(matching(&t), ["m1", "m2", "m4"]);

    let spaced =
        expand_nodegroups(&spec(json!("spaced"), "nodegroup"), &nodegroups()).expect("expand");
    assert!(
        spaced.tgt.is_array(),
        "a word with a space travels as a list"
    );

    let glob = spec(json!("m*"), "glob");
    assert_eq!(expand_nodegroups(&glob, &nodegroups()).expect("same"), glob);
    assert_eq!(
        expand_nodegroups(&spec(json!("nosuch"), "nodegroup"), &nodegroups()),
        Err(TargetError::UnknownNodegroup("nosuch".into()))
    );
}

#[test]
fn master_view_of_uncached_minions_is_three_valued() {
    let t = compile("m1 and G@role:web", "compound");
    assert_eq!(t.evaluate(&MinionFacts::id_only("m2")), Some(false));
    assert_eq!(t.evaluate(&MinionFacts::id_only("m1")), None);
    let t = compile("m1 or G@role:web", "compound");
    assert_eq!(t.evaluate(&MinionFacts::id_only("m1")), Some(true));
    assert!(!t.matches_id("m2"));
    assert!(t.needs_minion_data());
    assert!(!compile("m1 or E@m2", "compound").needs_minion_data());
    let cached = json!({"grains": {"role": "web"}, "pillar": {}});
    assert_eq!(
        t.evaluate(&MinionFacts::from_cache("m3", Some(&cached))),
        Some(true)
    );
}

#[test]
fn id_only_targets_are_exact_on_the_master() {
    assert!(compile("m*", "glob").is_id_only() && compile("m1,m2", "list").is_id_only());
    assert!(compile("m1 or ( E@m2 and not L@m3 )", "compound").is_id_only());
    assert!(!compile("role:web", "grain").is_id_only());
    assert!(!compile("m1 or S@10.0.0.0/8", "compound").is_id_only());
}

// --- property tests -------------------------------------------------------

/// Target words whose truth per minion the property tests compare.
const TERMS: [&str; 10] = [
    "m1",
    "m[23]",
    "*",
    "L@m2,m4",
    "E@m[34]",
    "G@role:web",
    "G@tags:a",
    "P@env:^d",
    "S@10.0.0.0/24",
    "I@team:blue",
];
const OPERATOR_WORDS: [&str; 5] = ["and", "or", "not", "(", ")"];

/// The truth of each single target word for one minion.
fn term_truth(word: &str, facts: &MinionFacts) -> Option<bool> {
    compile(word, "compound").evaluate(facts)
}

/// A brute-force reference for the compound grammar, written independently
/// of the parser: Salt's implicit `and` before `not`, a validity scan, then
/// shunting-yard with Python's precedence (`not` > `and` > `or`). Values are
/// Kleene booleans. `Err(())` where the grammar rejects the words.
fn reference_eval(words: &[&str], facts: &MinionFacts) -> Result<Option<bool>, ()> {
    let words = with_implicit_and(words);
    check_shape(&words)?;
    let mut output: Vec<Option<bool>> = Vec::new();
    let mut ops: Vec<&str> = Vec::new();
    let precedence = |op: &str| match op {
        "not" => 3,
        "and" => 2,
        "or" => 1,
        _ => 0,
    };
    for word in words {
        match word {
            "(" => ops.push(word),
            ")" => {
                while let Some(op) = ops.pop() {
                    if op == "(" {
                        break;
                    }
                    apply(op, &mut output)?;
                }
            }
            "not" => ops.push(word),
            "and" | "or" => {
                while let Some(&top) = ops.last() {
                    if top != "(" && precedence(top) >= precedence(word) {
                        apply(top, &mut output)?;
                        ops.pop();
                    } else {
                        break;
                    }
                }
                ops.push(word);
            }
            term => output.push(term_truth(term, facts)),
        }
    }
    while let Some(op) = ops.pop() {
        apply(op, &mut output)?;
    }
    match output.as_slice() {
        [one] => Ok(*one),
        _ => Err(()),
    }
}

fn with_implicit_and<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for &w in words {
        let after_operand = out
            .last()
            .is_some_and(|p| !OPERATOR_WORDS.contains(p) || *p == ")");
        if w == "not" && after_operand {
            out.push("and");
        }
        out.push(w);
    }
    out
}

/// Operands and operators alternate, parentheses balance, nothing is empty.
fn check_shape(words: &[&str]) -> Result<(), ()> {
    let mut want_operand = true;
    let mut depth = 0i32;
    for &w in words {
        match (want_operand, w) {
            (true, "not" | "(") => depth += i32::from(w == "("),
            (true, "and" | "or" | ")") => return Err(()),
            (true, _) => want_operand = false,
            (false, "and" | "or") => want_operand = true,
            (false, ")") => {
                depth -= 1;
                if depth < 0 {
                    return Err(());
                }
            }
            (false, _) => return Err(()),
        }
    }
    if want_operand || depth != 0 || words.is_empty() {
        return Err(());
    }
    Ok(())
}

fn apply(op: &str, output: &mut Vec<Option<bool>>) -> Result<(), ()> {
    let kleene_and = |a: Option<bool>, b: Option<bool>| match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    let kleene_or = |a: Option<bool>, b: Option<bool>| match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    };
    match op {
        "not" => {
            let a = output.pop().ok_or(())?;
            output.push(a.map(|b| !b));
        }
        "and" | "or" => {
            let b = output.pop().ok_or(())?;
            let a = output.pop().ok_or(())?;
            output.push(if op == "and" {
                kleene_and(a, b)
            } else {
                kleene_or(a, b)
            });
        }
        _ => return Err(()),
    }
    Ok(())
}

/// Mostly grammatical word sequences (so both outcomes are common), with
/// random words mixed in to reach the error paths.
fn random_words(rng: &mut StdRng) -> Vec<&'static str> {
    let pick = |rng: &mut StdRng, from: &[&'static str]| from[rng.random_range(0..from.len())];
    let len = rng.random_range(1..=10);
    let (mut want_operand, mut depth) = (true, 0);
    let mut words = Vec::with_capacity(len);
    for _ in 0..len {
        let word = if rng.random_bool(0.08) {
            let candidates = [pick(rng, &TERMS), pick(rng, &OPERATOR_WORDS)];
            pick(rng, &candidates)
        } else if want_operand {
            match rng.random_range(0..10) {
                0..=5 => pick(rng, &TERMS),
                6 | 7 => "not",
                _ => "(",
            }
        } else if depth > 0 && rng.random_bool(0.3) {
            ")"
        } else {
            pick(rng, &["and", "or", "not"])
        };
        match word {
            "(" => depth += 1,
            ")" => depth -= 1,
            _ => {}
        }
        want_operand = matches!(word, "and" | "or" | "not" | "(");
        words.push(word);
    }
    words
}

/// Every minion's facts, plus the master's view of each with no cached data.
fn all_facts(data: &[Minion]) -> Vec<MinionFacts<'_>> {
    data.iter()
        .flat_map(|(id, g, p)| [MinionFacts::new(id, g, p), MinionFacts::id_only(id)])
        .collect()
}

#[test]
fn parser_agrees_with_brute_force_on_random_word_sequences() {
    let mut rng = StdRng::seed_from_u64(0x5a17);
    let data = minions();
    let facts = all_facts(&data);
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..5000 {
        let words = random_words(&mut rng);
        let parsed = compound::parse(&words);
        let reference: Vec<Result<Option<bool>, ()>> =
            facts.iter().map(|f| reference_eval(&words, f)).collect();
        match parsed {
            Ok(expr) => {
                valid += 1;
                for (f, want) in facts.iter().zip(&reference) {
                    assert_eq!(Ok(expr.eval(f)), *want, "{words:?} for {}", f.id);
                }
            }
            Err(e) => {
                invalid += 1;
                assert!(
                    reference.iter().all(Result::is_err),
                    "{words:?} parsed as an error ({e}) but the reference accepts it"
                );
            }
        }
    }
    assert!(
        valid > 500 && invalid > 500,
        "{valid} valid, {invalid} invalid"
    );
}

/// A random expression tree, printed with parentheses only where needed (and
/// sometimes where not), must parse back to the same truth table.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(&'static str),
    Not(Box<Tree>),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

impl Tree {
    fn random(rng: &mut StdRng, depth: u32) -> Tree {
        if depth == 0 || rng.random_bool(0.3) {
            return Tree::Leaf(TERMS[rng.random_range(0..TERMS.len())]);
        }
        let sub = |rng: &mut StdRng| Box::new(Tree::random(rng, depth - 1));
        match rng.random_range(0..3) {
            0 => Tree::Not(sub(rng)),
            1 => Tree::And(sub(rng), sub(rng)),
            _ => Tree::Or(sub(rng), sub(rng)),
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Tree::Or(..) => 1,
            Tree::And(..) => 2,
            Tree::Not(_) | Tree::Leaf(_) => 3,
        }
    }

    fn print(&self, rng: &mut StdRng, out: &mut Vec<&'static str>) {
        match self {
            Tree::Leaf(w) => out.push(w),
            Tree::Not(t) => {
                out.push("not");
                t.print_operand(3, rng, out);
            }
            Tree::And(a, b) => {
                a.print_operand(2, rng, out);
                out.push("and");
                b.print_operand(3, rng, out);
            }
            Tree::Or(a, b) => {
                a.print_operand(1, rng, out);
                out.push("or");
                b.print_operand(2, rng, out);
            }
        }
    }

    /// Print as an operand of an operator needing at least `min` precedence.
    fn print_operand(&self, min: u8, rng: &mut StdRng, out: &mut Vec<&'static str>) {
        let parens = self.precedence() < min || rng.random_bool(0.15);
        if parens {
            out.push("(");
        }
        self.print(rng, out);
        if parens {
            out.push(")");
        }
    }

    fn eval(&self, facts: &MinionFacts) -> bool {
        match self {
            Tree::Leaf(w) => term_truth(w, facts) == Some(true),
            Tree::Not(t) => !t.eval(facts),
            Tree::And(a, b) => a.eval(facts) && b.eval(facts),
            Tree::Or(a, b) => a.eval(facts) || b.eval(facts),
        }
    }
}

#[test]
fn printed_trees_parse_back_to_the_same_truth_table() {
    let mut rng = StdRng::seed_from_u64(0xc0ffee);
    let data = minions();
    for _ in 0..2000 {
        let tree = Tree::random(&mut rng, 4);
        let mut words = Vec::new();
        tree.print(&mut rng, &mut words);
        let expr = compound::parse(&words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
        for (id, g, p) in &data {
            let facts = MinionFacts::new(id, g, p);
            assert_eq!(
                expr.eval(&facts),
                Some(tree.eval(&facts)),
                "{words:?} for {id}"
            );
        }
    }
}

/// Whatever the master decides for an uncached minion (`Some`), the minion
/// decides the same once its data is known, whatever that data is.
#[test]
fn unknown_data_never_decides_wrongly() {
    let mut rng = StdRng::seed_from_u64(0xdeca);
    let data = minions();
    for _ in 0..2000 {
        let tree = Tree::random(&mut rng, 4);
        let mut words = Vec::new();
        tree.print(&mut rng, &mut words);
        let expr = compound::parse(&words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
        for (id, _, _) in &data {
            let Some(decided) = expr.eval(&MinionFacts::id_only(id)) else {
                continue;
            };
            for (_, g, p) in &data {
                assert_eq!(
                    expr.eval(&MinionFacts::new(id, g, p)),
                    Some(decided),
                    "{words:?} for {id}"
                );
            }
        }
    }
}

#[test]
fn a_restricted_target_matches_only_the_named_ids_that_match_it() {
    let ids = ["m1".to_string(), "m2".to_string()];
    for (tgt, ty, expected) in [
        ("role:web", "grain", vec!["m1"]),
        ("role:(web|db)", "grain_pcre", vec!["m1", "m2"]),
        ("team:*", "pillar", vec!["m1"]),
        ("10.0.0.0/8", "ipcidr", vec!["m1", "m2"]),
        ("m*", "glob", vec!["m1", "m2"]),
        ("m[23]", "pcre", vec!["m2"]),
        ("m2,m3", "list", vec!["m2"]),
        ("G@role:web or G@env:dev", "compound", vec!["m1"]),
    ] {
        let narrowed = restrict_to_ids(&spec(json!(tgt), ty), &ids).expect("restrict");
        let target = Target::compile(&narrowed).unwrap_or_else(|e| panic!("{narrowed:?}: {e}"));
        assert_eq!(matching(&target), expected, "{tgt} ({ty}) -> {narrowed:?}");
    }
}

#[test]
fn a_restricted_target_keeps_words_with_spaces_and_can_match_nothing() {
    let narrowed = restrict_to_ids(&spec(json!("motd:hello world"), "grain"), &["m1".into()])
        .expect("restrict");
    assert_eq!(
        narrowed.tgt,
        json!(["(", "G@motd:hello world", ")", "and", "L@m1"])
    );
    let none = restrict_to_ids(&spec(json!("role:web"), "grain"), &[]).expect("restrict");
    assert!(matching(&Target::compile(&none).expect("compile")).is_empty());
    assert!(matches!(
        restrict_to_ids(&spec(json!("g"), "nodegroup"), &["m1".into()]),
        Err(TargetError::NodegroupNotExpanded(_))
    ));
}

/// Nesting is bounded: a deep expression is an error naming the word, not a
/// stack overflow (the words come from minions, the API and the CLI).
#[test]
fn nesting_deeper_than_the_limit_is_an_error() {
    let deep = |open: &'static str, n: usize| {
        let mut words = vec![open; n];
        words.push("web1");
        if open == "(" {
            words.extend(std::iter::repeat_n(")", n));
        }
        words
    };
    let limit = compound::MAX_NESTING;
    assert!(compound::parse(&deep("(", limit)).is_ok());
    assert!(compound::parse(&deep("not", limit)).is_ok());
    for open in ["(", "not"] {
        let err = compound::parse(&deep(open, limit + 1)).expect_err("too deep");
        assert_eq!(
            err,
            CompoundError::TooDeep {
                word: open.into(),
                position: limit + 1
            }
        );
    }
    // 20,000 unclosed '(' once overflowed a master worker's stack.
    let flood = compile_err(&"( ".repeat(20_000), "compound");
    assert!(flood.to_string().contains("nests deeper"), "{flood}");
}

/// A pattern whose compiled regex would be huge is refused, not compiled
/// at length (targets come from minions, the API and the CLI).
#[test]
fn a_target_regex_past_the_size_limit_is_an_error() {
    // Within the regex crate's own default limit, beyond ours.
    assert!(regex::Regex::new("^(?:a{150000})").is_ok());
    let err = compile_err("E@a{150000}", "compound");
    assert!(err.to_string().contains("size limit"), "{err}");
    compile("E@web[0-9]+", "compound");
}
