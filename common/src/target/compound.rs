//! The compound target grammar (`-C`), parsed into an [`Expr`].
//!
//! Salt splits the expression into whitespace-separated words, turns each
//! target word into `True`/`False` (or a set, on the master) and `eval()`s the
//! resulting Python text. We parse instead, with Python's precedence and
//! Salt's quirks:
//!
//! ```text
//! expr    := and ( "or" and )*
//! and     := unary ( "and" unary | unary-starting-with-"not" )*   # `a not b` is `a and not b`
//! unary   := "not" unary | primary
//! primary := "(" expr ")" | TARGET
//! TARGET  := [GPIJ][delim]?@pattern | [LES]@pattern | N@group | glob
//! ```
//!
//! Parentheses and operators are words of their own (`( a or b )`). Whatever
//! Salt would reject, or silently evaluate to "no minion", is an error here
//! that names the word at fault: a leading `and`/`or`, a `)` without `(`, an
//! unclosed `(`, two targets with no operator between them, an unknown
//! `X@` engine, a bad regex or glob.

use regex::Regex;
use thiserror::Error;

use super::expr::{Expr, Term};
use super::fnmatch::Fnmatch;
use super::ipcidr::IpMatch;
use super::subdict::{DataPattern, ValueMatch};
use super::{TargetError, list_from_text};

/// What is wrong with a compound expression. Word positions count from 1.
#[derive(Debug, Error, PartialEq)]
pub enum CompoundError {
    #[error("the expression is empty")]
    Empty,
    #[error("'{word}' (word {position}) has no target before it")]
    OperatorWithoutLeft { word: String, position: usize },
    #[error("'{word}' (word {position}) must be followed by a target")]
    Truncated { word: String, position: usize },
    #[error("')' (word {position}) has no matching '('")]
    UnmatchedClose { position: usize },
    #[error("'(' (word {position}) is never closed")]
    Unclosed { position: usize },
    #[error("'( )' (word {position}) holds nothing")]
    EmptyGroup { position: usize },
    #[error("'{left}' and '{right}' (words {position} and {next}) need 'and' or 'or' between them", next = position + 1)]
    MissingOperator {
        left: String,
        right: String,
        position: usize,
    },
    #[error(
        "'{word}' (word {position}): parentheses must be words of their own, e.g. '( web1 or web2 )'"
    )]
    AttachedParenthesis { word: String, position: usize },
    #[error("unknown target type '{engine}@' in '{word}' (known: G@ P@ I@ J@ L@ E@ S@ N@)")]
    UnknownEngine { engine: char, word: String },
    #[error("'{word}' (word {position}) has nothing after '@'")]
    EmptyPattern { word: String, position: usize },
    #[error("range targets are not supported ('{word}')")]
    Range { word: String },
    #[error("nodegroup '{word}' was not expanded: nodegroups are resolved by the master")]
    NodegroupNotExpanded { word: String },
    #[error("'{word}' (word {position}) nests deeper than {MAX_NESTING} levels")]
    TooDeep { word: String, position: usize },
    #[error("'{word}' (word {position}): {source}")]
    Term {
        word: String,
        position: usize,
        source: Box<TargetError>,
    },
}

/// How deep parentheses and `not`s may nest. The parser (and everything that
/// walks the expression) recurses once per level, and the expression comes
/// from outside: 20,000 `(` once overflowed a master worker's stack. Python,
/// which Salt's `eval()` uses, stops at 200 nested parentheses.
pub const MAX_NESTING: usize = 100;

/// The operators and parentheses, as they appear among the words.
pub const OPERATORS: [&str; 5] = ["and", "or", "not", "(", ")"];

/// Parse compound words into an expression.
pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Expr, CompoundError> {
    let tokens: Vec<Token> = words
        .iter()
        .enumerate()
        .map(|(i, w)| Token::classify(w.as_ref(), i + 1))
        .collect();
    if tokens.is_empty() {
        return Err(CompoundError::Empty);
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
    };
    let expr = parser.or_expr()?;
    match parser.peek() {
        None => Ok(expr),
        Some(tok) if tok.kind == Kind::Close => Err(CompoundError::UnmatchedClose {
            position: tok.position,
        }),
        Some(tok) => Err(parser.missing_operator(tok)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    And,
    Or,
    Not,
    Open,
    Close,
    Target,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    kind: Kind,
    word: &'a str,
    position: usize,
}

impl<'a> Token<'a> {
    fn classify(word: &'a str, position: usize) -> Self {
        let kind = match word {
            "and" => Kind::And,
            "or" => Kind::Or,
            "not" => Kind::Not,
            "(" => Kind::Open,
            ")" => Kind::Close,
            _ => Kind::Target,
        };
        Token {
            kind,
            word,
            position,
        }
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    next: usize,
    /// Parentheses and `not`s open around the current word.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.next)
    }

    fn peek_kind(&self) -> Option<Kind> {
        self.peek().map(|t| t.kind)
    }

    fn advance(&mut self) -> Option<Token<'a>> {
        let tok = self.tokens.get(self.next).cloned();
        self.next += 1;
        tok
    }

    fn or_expr(&mut self) -> Result<Expr, CompoundError> {
        let mut parts = vec![self.and_expr()?];
        while self.peek_kind() == Some(Kind::Or) {
            self.advance();
            parts.push(self.and_expr()?);
        }
        Ok(flatten(parts, Expr::Any))
    }

    fn and_expr(&mut self) -> Result<Expr, CompoundError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek_kind() {
                Some(Kind::And) => {
                    self.advance();
                    parts.push(self.unary()?);
                }
                // Salt inserts `and` before a `not` that follows a target.
                Some(Kind::Not) => parts.push(self.unary()?),
                _ => break,
            }
        }
        Ok(flatten(parts, Expr::All))
    }

    fn unary(&mut self) -> Result<Expr, CompoundError> {
        if self.peek_kind() == Some(Kind::Not) {
            let not = self.advance();
            let inner = self.nested(not, Self::unary)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    /// Parse one level deeper with `parse`, refusing to go past [`MAX_NESTING`].
    fn nested(
        &mut self,
        opened_by: Option<Token<'a>>,
        parse: fn(&mut Self) -> Result<Expr, CompoundError>,
    ) -> Result<Expr, CompoundError> {
        if self.depth >= MAX_NESTING {
            let tok = opened_by.unwrap_or(Token {
                kind: Kind::Open,
                word: "(",
                position: self.next,
            });
            return Err(CompoundError::TooDeep {
                word: tok.word.to_string(),
                position: tok.position,
            });
        }
        self.depth += 1;
        let parsed = parse(self);
        self.depth -= 1;
        parsed
    }

    fn primary(&mut self) -> Result<Expr, CompoundError> {
        let previous = self.next.checked_sub(1).and_then(|i| self.tokens.get(i));
        let truncated = || CompoundError::Truncated {
            word: previous.map(|t| t.word.to_string()).unwrap_or_default(),
            position: previous.map_or(0, |t| t.position),
        };
        let tok = self.peek().cloned().ok_or_else(truncated)?;
        match tok.kind {
            Kind::Target => {
                self.advance();
                compile_word(tok.word, tok.position).map(Expr::Term)
            }
            Kind::Open => {
                self.advance();
                self.group(tok.position)
            }
            Kind::Close => Err(match previous.map(|t| t.kind) {
                Some(Kind::Open) => CompoundError::EmptyGroup {
                    position: tok.position - 1,
                },
                Some(_) => truncated(),
                None => CompoundError::UnmatchedClose {
                    position: tok.position,
                },
            }),
            Kind::And | Kind::Or => Err(CompoundError::OperatorWithoutLeft {
                word: tok.word.to_string(),
                position: tok.position,
            }),
            Kind::Not => self.unary(),
        }
    }

    /// The inside of `( ... )`; the `(` at `open` is consumed.
    fn group(&mut self, open: usize) -> Result<Expr, CompoundError> {
        if self.peek().is_none() {
            return Err(CompoundError::Unclosed { position: open });
        }
        let opened_by = self.tokens.get(open - 1).cloned();
        let inner = self.nested(opened_by, Self::or_expr)?;
        match self.advance() {
            Some(tok) if tok.kind == Kind::Close => Ok(inner),
            Some(tok) => Err(self.missing_operator(&tok)),
            None => Err(CompoundError::Unclosed { position: open }),
        }
    }

    /// `tok` follows a complete expression without an operator in between.
    fn missing_operator(&self, tok: &Token) -> CompoundError {
        let left = tok
            .position
            .checked_sub(2)
            .and_then(|i| self.tokens.get(i))
            .map(|t| t.word.to_string())
            .unwrap_or_default();
        CompoundError::MissingOperator {
            left,
            right: tok.word.to_string(),
            position: tok.position - 1,
        }
    }
}

fn flatten(mut parts: Vec<Expr>, combine: fn(Vec<Expr>) -> Expr) -> Expr {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        combine(parts)
    }
}

/// A target word: `X@pattern` or a bare glob over the id.
fn compile_word(word: &str, position: usize) -> Result<Term, CompoundError> {
    let term_error = |source: TargetError| CompoundError::Term {
        word: word.to_string(),
        position,
        source: Box::new(source),
    };
    let Some(engine) = Engine::split(word) else {
        if word.starts_with('(') || word.ends_with(')') {
            return Err(CompoundError::AttachedParenthesis {
                word: word.to_string(),
                position,
            });
        }
        return Fnmatch::new(word).map(Term::IdGlob).map_err(term_error);
    };
    if engine.pattern.is_empty() {
        return Err(CompoundError::EmptyPattern {
            word: word.to_string(),
            position,
        });
    }
    engine.compile(word).map_err(|e| match e {
        EngineError::Compound(c) => c,
        EngineError::Target(t) => term_error(t),
    })
}

/// `G@os:Debian` split into engine `G`, delimiter `:` and pattern `os:Debian`.
struct Engine<'a> {
    letter: char,
    delimiter: Option<char>,
    pattern: &'a str,
}

enum EngineError {
    Compound(CompoundError),
    Target(TargetError),
}

impl From<TargetError> for EngineError {
    fn from(e: TargetError) -> Self {
        EngineError::Target(e)
    }
}

impl<'a> Engine<'a> {
    /// Salt's `TARGET_REX`: an upper-case letter, for `G P I J` optionally a
    /// one-character delimiter, then `@`.
    fn split(word: &'a str) -> Option<Self> {
        let mut chars = word.char_indices();
        let (_, letter) = chars.next()?;
        if !letter.is_ascii_uppercase() {
            return None;
        }
        let (i, second) = chars.next()?;
        if second == '@' {
            return Some(Engine {
                letter,
                delimiter: None,
                pattern: &word[i + 1..],
            });
        }
        let (j, third) = chars.next()?;
        (third == '@' && "GPIJ".contains(letter)).then(|| Engine {
            letter,
            delimiter: Some(second),
            pattern: &word[j + 1..],
        })
    }

    fn compile(&self, word: &str) -> Result<Term, EngineError> {
        let mut buf = [0u8; 4];
        let delimiter: &str = self.delimiter.unwrap_or(':').encode_utf8(&mut buf);
        let data = |mode, kind| DataPattern::new(self.pattern, delimiter, mode, kind);
        Ok(match self.letter {
            'G' => Term::Grain(data(ValueMatch::Glob, "grain")?),
            'P' => Term::Grain(data(ValueMatch::Regex, "grain_pcre")?),
            'I' => Term::Pillar(data(ValueMatch::Glob, "pillar")?),
            'J' => Term::Pillar(data(ValueMatch::Regex, "pillar_pcre")?),
            'L' => Term::IdList(list_from_text(self.pattern)),
            'E' => Term::IdPcre(id_regex(self.pattern)?),
            'S' => Term::IpCidr(IpMatch::parse(self.pattern)?),
            'N' => {
                return Err(EngineError::Compound(CompoundError::NodegroupNotExpanded {
                    word: word.to_string(),
                }));
            }
            'R' => {
                return Err(EngineError::Compound(CompoundError::Range {
                    word: word.to_string(),
                }));
            }
            other => {
                return Err(EngineError::Compound(CompoundError::UnknownEngine {
                    engine: other,
                    word: word.to_string(),
                }));
            }
        })
    }
}

/// Salt matches ids with `re.match`: anchored at the start only.
pub fn id_regex(pattern: &str) -> Result<Regex, TargetError> {
    anchored_regex(pattern, "")
}

/// `pattern` anchored at the start (Python's `re.match`), behind `flags`
/// such as `(?i)`. An error describes the user's pattern, not our wrapping.
pub fn anchored_regex(pattern: &str, flags: &str) -> Result<Regex, TargetError> {
    target_regex(&format!("{flags}^(?:{pattern})")).map_err(|wrapped| {
        let e = target_regex(pattern).err().unwrap_or(wrapped);
        TargetError::Regex(pattern.to_string(), e.to_string())
    })
}

/// How large a target's compiled regex may be. Targets come from minions
/// (`MineGet`), the API and the CLI; the regex crate's default (10 MiB)
/// let one fuzzed target cost milliseconds of CPU to compile. A real id or
/// grain pattern compiles to a few KiB; 2 MiB leaves room for a nodegroup
/// of thousands of names read as one `E@` alternation.
pub const TARGET_REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;

/// A regex of a target, within [`TARGET_REGEX_SIZE_LIMIT`].
pub fn target_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(TARGET_REGEX_SIZE_LIMIT)
        .dfa_size_limit(TARGET_REGEX_SIZE_LIMIT)
        .build()
}

/// Words of a compound target given as text: whitespace-separated, as Salt's
/// `str.split()`.
pub fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}
