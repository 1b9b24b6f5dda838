//! Python's `fnmatch`, which Salt uses for every glob: minion ids, grain and
//! pillar values, key names.
//!
//! `*` matches any run of characters (there are no path separators to stop
//! at), `?` one character, `[seq]` one character in the set, `[!seq]` one not
//! in it. There is no escaping and no `{a,b}` alternation: a backslash or a
//! brace is an ordinary character, as in Python. One deliberate difference: an
//! unclosed `[` is an error here (Python would match it literally), because a
//! target like `web[` is almost always a typo that should be reported.
//!
//! Patterns are compiled to a token list, not a regex: compiling is nearly free
//! (every minion compiles each publication's target) and matching does not
//! allocate for ASCII text.

use super::TargetError;

/// A compiled glob.
#[derive(Debug, Clone, PartialEq)]
pub struct Fnmatch {
    tokens: Vec<Token>,
    /// Salt lower-cases both sides when matching grain and pillar values.
    fold_case: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    AnyChar,
    AnyRun,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum ClassItem {
    One(char),
    Range(char, char),
}

impl Fnmatch {
    /// A case-sensitive glob, as Salt matches minion ids.
    pub fn new(pattern: &str) -> Result<Self, TargetError> {
        Ok(Fnmatch {
            tokens: tokenize(pattern)?,
            fold_case: false,
        })
    }

    /// A glob that ignores case, as Salt's `subdict_match` compares
    /// `str(value).lower()` with `pattern.lower()`.
    pub fn case_insensitive(pattern: &str) -> Result<Self, TargetError> {
        Ok(Fnmatch {
            tokens: tokenize(&pattern.to_lowercase())?,
            fold_case: true,
        })
    }

    /// True for a pattern that matches everything (`*`, `**`, ...).
    pub fn matches_everything(&self) -> bool {
        self.tokens.iter().all(|t| *t == Token::AnyRun)
    }

    pub fn is_match(&self, text: &str) -> bool {
        if !self.fold_case {
            return match_tokens(&self.tokens, text);
        }
        if text.is_ascii() {
            if text.bytes().any(|b| b.is_ascii_uppercase()) {
                return match_tokens(&self.tokens, &text.to_ascii_lowercase());
            }
            return match_tokens(&self.tokens, text);
        }
        match_tokens(&self.tokens, &text.to_lowercase())
    }
}

fn tokenize(pattern: &str) -> Result<Vec<Token>, TargetError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                // Runs of stars are one star.
                if tokens.last() != Some(&Token::AnyRun) {
                    tokens.push(Token::AnyRun);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::AnyChar);
                i += 1;
            }
            '[' => {
                let (class, next) = parse_class(&chars, i, pattern)?;
                tokens.push(class);
                i = next;
            }
            c => {
                tokens.push(Token::Char(c));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Parse `[...]` starting at `open`; returns the class and the index after `]`.
/// As in Python, a `]` right after `[` or `[!` belongs to the set.
fn parse_class(chars: &[char], open: usize, pattern: &str) -> Result<(Token, usize), TargetError> {
    let mut i = open + 1;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let body_start = i;
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() && chars[i] != ']' {
        i += 1;
    }
    if i >= chars.len() {
        return Err(TargetError::Glob {
            pattern: pattern.to_string(),
            problem: "'[' is never closed by ']'".into(),
        });
    }
    let items = class_items(&chars[body_start..i]);
    Ok((Token::Class { negated, items }, i + 1))
}

/// `a-z` is a range; a `-` first or last is itself.
fn class_items(body: &[char]) -> Vec<ClassItem> {
    let mut items = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            items.push(ClassItem::Range(body[i], body[i + 2]));
            i += 3;
        } else {
            items.push(ClassItem::One(body[i]));
            i += 1;
        }
    }
    items
}

impl Token {
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::Char(want) => *want == c,
            Token::AnyChar => true,
            Token::AnyRun => false,
            Token::Class { negated, items } => {
                let inside = items.iter().any(|item| match item {
                    ClassItem::One(x) => *x == c,
                    ClassItem::Range(lo, hi) => (*lo..=*hi).contains(&c),
                });
                inside != *negated
            }
        }
    }
}

/// Glob matching with one-star backtracking: linear for the patterns people
/// write, never exponential.
fn match_tokens(tokens: &[Token], text: &str) -> bool {
    let (mut t, mut s) = (0usize, 0usize);
    // Where to resume after the last `*`: (token after it, text offset it covers up to).
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if let Some(token) = tokens.get(t) {
            if *token == Token::AnyRun {
                resume = Some((t + 1, s));
                t += 1;
                continue;
            }
            if let Some(c) = text[s..].chars().next()
                && token.matches_char(c)
            {
                t += 1;
                s += c.len_utf8();
                continue;
            }
        } else if s == text.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character.
        match resume {
            Some((after_star, covered)) if covered < text.len() => {
                let step = text[covered..].chars().next().map_or(1, char::len_utf8);
                resume = Some((after_star, covered + step));
                t = after_star;
                s = covered + step;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Fnmatch::new(pattern).expect("pattern").is_match(text)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", ""));
        assert!(m("*", "anything/at all"));
        assert!(m("web*", "web10.example.com"));
        assert!(!m("web*", "db1"));
        assert!(m("*.example.com", "a.example.com"));
        assert!(m("w?b", "wab") && !m("w?b", "wb"));
        assert!(m("a*b*c", "aXXbYYc") && !m("a*b*c", "aXXbYY"));
        assert!(m("*a", "aaa") && !m("*a", "aab"));
        assert!(m("ü*", "über") && m("?ber", "über"));
    }

    #[test]
    fn classes_like_python() {
        assert!(m("web[12]", "web2") && !m("web[12]", "web3"));
        assert!(m("web[!12]", "web3") && !m("web[!12]", "web2"));
        assert!(m("x[a-c]", "xb") && !m("x[a-c]", "xd"));
        assert!(m("x[-a]", "x-") && m("x[a-]", "x-"));
        assert!(m("x[]]", "x]") && m("x[!]]", "xa"));
    }

    #[test]
    fn backslash_and_braces_are_literal() {
        assert!(m(r"a\b", r"a\b"));
        assert!(m("web{1,2}", "web{1,2}") && !m("web{1,2}", "web1"));
    }

    #[test]
    fn unclosed_bracket_is_an_error() {
        let err = Fnmatch::new("web[").expect_err("unclosed");
        assert!(err.to_string().contains("never closed"), "{err}");
    }

    #[test]
    fn case_insensitive_compares_lowercase() {
        let g = Fnmatch::case_insensitive("Deb*").expect("pattern");
        assert!(g.is_match("debian") && g.is_match("DEBIAN") && g.is_match("Debian"));
        assert!(
            Fnmatch::case_insensitive("[A-C]x")
                .expect("p")
                .is_match("bX")
        );
        assert!(!Fnmatch::new("Deb*").expect("p").is_match("debian"));
    }

    #[test]
    fn matches_everything_only_for_stars() {
        assert!(Fnmatch::new("**").expect("p").matches_everything());
        assert!(!Fnmatch::new("*a").expect("p").matches_everything());
    }
}
