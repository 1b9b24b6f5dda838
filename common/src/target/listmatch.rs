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
    if value == expr {
        return true;
    }
    if Fnmatch::new(expr).is_ok_and(|glob| glob.is_match(value)) {
        return true;
    }
    let anchored = format!(r"\A(?:{expr})\z");
    match super::compound::target_regex(&anchored) {
        Ok(re) => re.is_match(value),
        Err(_) => {
            fancy_regex::Regex::new(&anchored).is_ok_and(|re| re.is_match(value).unwrap_or(false))
        }
    }
}

/// Salt's `check_whitelist_blacklist`: refused when any blacklist entry
/// matches; otherwise allowed when the whitelist is empty or any of its
/// entries matches.
pub fn check_whitelist_blacklist(value: &str, whitelist: &[String], blacklist: &[String]) -> bool {
    if blacklist.iter().any(|expr| expr_match(value, expr)) {
        return false;
    }
    whitelist.is_empty() || whitelist.iter().any(|expr| expr_match(value, expr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
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
