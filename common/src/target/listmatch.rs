//! Salt's `expr_match` and `check_whitelist_blacklist`: a name checked
//! against lists whose entries are exact names, globs or regular
//! expressions (gitfs' `saltenv_whitelist`/`saltenv_blacklist`, ...).

use super::Fnmatch;

/// Salt's `expr_match`: `value` equals `expr`, matches it as a glob, or
/// matches all of it as a regular expression. A pattern that is neither a
/// valid glob nor a valid regex only matches itself.
///
/// The patterns come from the config, and Salt's documented ones use
/// Python's lookaround (`publisher_acl_blacklist`'s `'^(?!sudo_).*$'`),
/// which the `regex` crate does not have: such a pattern is matched with
/// `fancy_regex` (backtracking, bounded by its backtrack limit) instead of
/// silently matching nothing.
pub fn expr_match(value: &str, expr: &str) -> bool {
    ExprMatcher::new(expr).is_match(value)
}

/// An `expr_match` expression compiled once, for a list checked on every
/// request (`publisher_acl`, its blacklist, gitfs' environment lists).
#[derive(Debug, Clone)]
pub struct ExprMatcher {
    expr: String,
    glob: Option<Fnmatch>,
    regex: Option<AnyRegex>,
}

/// A whole-value regex: the `regex` crate's, or `fancy_regex` for what only
/// a backtracking engine has (lookaround).
#[derive(Debug, Clone)]
enum AnyRegex {
    Plain(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

impl ExprMatcher {
    pub fn new(expr: &str) -> Self {
        let anchored = format!(r"\A(?:{expr})\z");
        let regex = match super::compound::target_regex(&anchored) {
            Ok(re) => Some(AnyRegex::Plain(re)),
            Err(_) => fancy_regex::Regex::new(&anchored)
                .ok()
                .map(|re| AnyRegex::Fancy(Box::new(re))),
        };
        ExprMatcher {
            expr: expr.to_string(),
            glob: Fnmatch::new(expr).ok(),
            regex,
        }
    }

    /// Every entry of a config list, compiled.
    pub fn all(exprs: &[String]) -> Vec<ExprMatcher> {
        exprs.iter().map(|expr| ExprMatcher::new(expr)).collect()
    }

    pub fn is_match(&self, value: &str) -> bool {
        value == self.expr
            || self.glob.as_ref().is_some_and(|glob| glob.is_match(value))
            || match &self.regex {
                Some(AnyRegex::Plain(re)) => re.is_match(value),
                Some(AnyRegex::Fancy(re)) => re.is_match(value).unwrap_or(false),
                None => false,
            }
    }
}

/// Salt's `check_whitelist_blacklist`: refused when any blacklist entry
/// matches; otherwise allowed when the whitelist is empty or any of its
/// entries matches.
pub fn check_whitelist_blacklist(
    value: &str,
    whitelist: &[ExprMatcher],
    blacklist: &[ExprMatcher],
) -> bool {
    if blacklist.iter().any(|expr| expr.is_match(value)) {
        return false;
    }
    whitelist.is_empty() || whitelist.iter().any(|expr| expr.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<ExprMatcher> {
        items.iter().map(|s| ExprMatcher::new(s)).collect()
    }

    #[test]
    fn exact_glob_and_regex() {
        assert!(expr_match("dev", "dev"));
        assert!(expr_match("feature-1", "feature-*"));
        assert!(expr_match("v1.2", r"v\d+\.\d+"));
        assert!(
            !expr_match("v1.2x", r"v\d+\.\d+"),
            "the regex must match all of it"
        );
        assert!(!expr_match("prod", "dev"));
    }

    /// Salt's documented blacklist entry needs a lookahead.
    #[test]
    fn python_lookaround_patterns_match_as_in_salt() {
        assert!(expr_match("fred", "^(?!sudo_).*$"));
        assert!(!expr_match("sudo_fred", "^(?!sudo_).*$"));
        assert!(
            !expr_match("x", "(unclosed"),
            "an invalid pattern matches nothing"
        );
    }

    #[test]
    fn blacklist_wins_and_an_empty_whitelist_allows() {
        assert!(check_whitelist_blacklist("dev", &[], &[]));
        assert!(!check_whitelist_blacklist(
            "dev",
            &list(&["*"]),
            &list(&["dev"])
        ));
        assert!(check_whitelist_blacklist(
            "base",
            &list(&["base", "v*"]),
            &[]
        ));
        assert!(!check_whitelist_blacklist(
            "qa",
            &list(&["base", "v*"]),
            &[]
        ));
    }
}
