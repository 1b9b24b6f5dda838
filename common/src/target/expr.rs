//! The target AST and its evaluation.
//!
//! Every target type compiles to an [`Expr`]: a plain `-G` target is a single
//! term, a compound target a tree of `and`/`or`/`not`. Evaluation is
//! three-valued so the master can evaluate over its cache: a grain or pillar
//! term over a minion whose data the master has never received is *unknown*
//! (`None`), and `and`/`or`/`not` follow Kleene's rules (`false and unknown`
//! is `false`, `true or unknown` is `true`). A minion always has its own data,
//! so on the minion the answer is always known.

use regex::Regex;
use serde_json::{Map, Value};

use super::fnmatch::Fnmatch;
use super::ipcidr::IpMatch;
use super::subdict::DataPattern;

/// What a target is evaluated against: a minion's id, grains and pillar
/// (`None` where the master has no data for the minion).
#[derive(Debug, Clone, Copy)]
pub struct MinionFacts<'a> {
    pub id: &'a str,
    pub grains: Option<&'a Map<String, Value>>,
    pub pillar: Option<&'a Map<String, Value>>,
}

impl<'a> MinionFacts<'a> {
    /// Facts with known (possibly empty) grains and pillar: a minion's view of itself.
    pub fn new(
        id: &'a str,
        grains: &'a Map<String, Value>,
        pillar: &'a Map<String, Value>,
    ) -> Self {
        MinionFacts {
            id,
            grains: Some(grains),
            pillar: Some(pillar),
        }
    }

    /// Only the id is known (the master's view of a minion with no cached data).
    pub fn id_only(id: &'a str) -> Self {
        MinionFacts {
            id,
            grains: None,
            pillar: None,
        }
    }

    /// The master's view from its minion data cache entry
    /// (`{"grains": {...}, "pillar": {...}}`), if it has one.
    pub fn from_cache(id: &'a str, data: Option<&'a Value>) -> Self {
        let part = |name: &str| data.and_then(|d| d.get(name)).and_then(Value::as_object);
        MinionFacts {
            id,
            grains: part("grains"),
            pillar: part("pillar"),
        }
    }
}

/// One matcher: the leaves of the AST.
#[derive(Debug, Clone)]
pub enum Term {
    /// Glob over the minion id (default, and bare compound words).
    IdGlob(Fnmatch),
    /// `-E`, `E@`: regular expression over the id, anchored at the start.
    IdPcre(Regex),
    /// `-L`, `L@`: the id is one of these.
    IdList(Vec<String>),
    /// `-G`/`-P`, `G@`/`P@`.
    Grain(DataPattern),
    /// `-I`/`-J`, `I@`/`J@`.
    Pillar(DataPattern),
    /// `-S`, `S@`.
    IpCidr(IpMatch),
}

impl Term {
    /// Whether this term looks beyond the minion id.
    pub fn needs_data(&self) -> bool {
        matches!(self, Term::Grain(_) | Term::Pillar(_) | Term::IpCidr(_))
    }

    pub fn eval(&self, facts: &MinionFacts) -> Option<bool> {
        match self {
            Term::IdGlob(g) => Some(g.is_match(facts.id)),
            Term::IdPcre(re) => Some(re.is_match(facts.id)),
            Term::IdList(ids) => Some(ids.iter().any(|i| i == facts.id)),
            Term::Grain(p) => facts.grains.map(|g| p.matches(g)),
            Term::Pillar(p) => facts.pillar.map(|g| p.matches(g)),
            Term::IpCidr(ip) => facts.grains.map(|g| ip.matches(g)),
        }
    }
}

/// A boolean combination of terms.
#[derive(Debug, Clone)]
pub enum Expr {
    Term(Term),
    Not(Box<Expr>),
    /// Every part holds (at least two parts).
    All(Vec<Expr>),
    /// Some part holds (at least two parts).
    Any(Vec<Expr>),
}

/// Which parts of a minion's data a target reads: the master extracts only
/// these from its compact store when it works out whom a target expects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataNeeds {
    /// Top-level grain keys; `None` for all of them.
    pub grains: Option<std::collections::BTreeSet<String>>,
    pub pillar: Option<std::collections::BTreeSet<String>>,
}

impl DataNeeds {
    fn nothing() -> Self {
        DataNeeds {
            grains: Some(Default::default()),
            pillar: Some(Default::default()),
        }
    }

    fn add(slot: &mut Option<std::collections::BTreeSet<String>>, keys: Option<Vec<String>>) {
        match (slot.as_mut(), keys) {
            (Some(set), Some(keys)) => set.extend(keys),
            (Some(_), None) => *slot = None,
            (None, _) => {}
        }
    }

    fn add_term(&mut self, term: &Term) {
        match term {
            Term::Grain(p) => Self::add(&mut self.grains, p.top_keys()),
            Term::Pillar(p) => Self::add(&mut self.pillar, p.top_keys()),
            Term::IpCidr(_) => {
                Self::add(&mut self.grains, Some(vec!["ipv4".into(), "ipv6".into()]))
            }
            Term::IdGlob(_) | Term::IdPcre(_) | Term::IdList(_) => {}
        }
    }
}

impl Expr {
    /// The minion data this expression reads.
    pub fn data_needs(&self) -> DataNeeds {
        let mut needs = DataNeeds::nothing();
        self.collect_needs(&mut needs);
        needs
    }

    fn collect_needs(&self, needs: &mut DataNeeds) {
        match self {
            Expr::Term(t) => needs.add_term(t),
            Expr::Not(e) => e.collect_needs(needs),
            Expr::All(parts) | Expr::Any(parts) => {
                parts.iter().for_each(|p| p.collect_needs(needs))
            }
        }
    }

    pub fn needs_data(&self) -> bool {
        match self {
            Expr::Term(t) => t.needs_data(),
            Expr::Not(e) => e.needs_data(),
            Expr::All(parts) | Expr::Any(parts) => parts.iter().any(Expr::needs_data),
        }
    }

    /// Kleene evaluation: `None` when the answer depends on unknown data.
    pub fn eval(&self, facts: &MinionFacts) -> Option<bool> {
        match self {
            Expr::Term(t) => t.eval(facts),
            Expr::Not(e) => e.eval(facts).map(|b| !b),
            Expr::All(parts) => combine(parts, facts, false),
            Expr::Any(parts) => combine(parts, facts, true),
        }
    }
}

/// `and` (decisive = false) or `or` (decisive = true): one decisive part
/// settles it, otherwise any unknown part leaves it unknown.
fn combine(parts: &[Expr], facts: &MinionFacts, decisive: bool) -> Option<bool> {
    let mut unknown = false;
    for part in parts {
        match part.eval(facts) {
            Some(b) if b == decisive => return Some(decisive),
            Some(_) => {}
            None => unknown = true,
        }
    }
    (!unknown).then_some(!decisive)
}
