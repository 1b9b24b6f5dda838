//! The JMESPath lexer (jmespath.py's `Lexer`): identifiers, raw and JSON
//! literals, numbers and operators, each with its position.

use serde_json::Value as Json;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Eof,
    Unquoted(String),
    Quoted(String),
    Literal(Json),
    Number(i64),
    RBracket,
    RParen,
    Comma,
    RBrace,
    Current,
    Expref,
    Colon,
    Pipe,
    Or,
    And,
    Cmp(Cmp),
    Flatten,
    Star,
    Filter,
    Dot,
    Not,
    LBrace,
    LBracket,
    LParen,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Tok {
    /// jmespath.py's `BINDING_POWER`.
    pub(super) fn binding_power(&self) -> u8 {
        match self {
            Tok::Pipe => 1,
            Tok::Or => 2,
            Tok::And => 3,
            Tok::Cmp(_) => 5,
            Tok::Flatten => 9,
            Tok::Star => 20,
            Tok::Filter => 21,
            Tok::Dot => 40,
            Tok::Not => 45,
            Tok::LBrace => 50,
            Tok::LBracket => 55,
            Tok::LParen => 60,
            _ => 0,
        }
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Tok::Eof => "eof",
            Tok::Unquoted(_) => "unquoted_identifier",
            Tok::Quoted(_) => "quoted_identifier",
            Tok::Literal(_) => "literal",
            Tok::Number(_) => "number",
            Tok::RBracket => "rbracket",
            Tok::RParen => "rparen",
            Tok::Comma => "comma",
            Tok::RBrace => "rbrace",
            Tok::Current => "current",
            Tok::Expref => "expref",
            Tok::Colon => "colon",
            Tok::Pipe => "pipe",
            Tok::Or => "or",
            Tok::And => "and",
            Tok::Cmp(_) => "comparator",
            Tok::Flatten => "flatten",
            Tok::Star => "star",
            Tok::Filter => "filter",
            Tok::Dot => "dot",
            Tok::Not => "not",
            Tok::LBrace => "lbrace",
            Tok::LBracket => "lbracket",
            Tok::LParen => "lparen",
        }
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    text: &'a str,
}

pub(super) fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, String> {
    if text.is_empty() {
        return Err("Invalid JMESPath expression: cannot be empty.".into());
    }
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        text,
    };
    let mut tokens = Vec::new();
    while let Some(c) = lexer.peek() {
        let start = lexer.pos;
        let simple = match c {
            '.' => Some(Tok::Dot),
            '*' => Some(Tok::Star),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            '@' => Some(Tok::Current),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            _ => None,
        };
        if let Some(tok) = simple {
            lexer.pos += 1;
            tokens.push((tok, start));
            continue;
        }
        let tok = match c {
            ' ' | '\t' | '\n' | '\r' => {
                lexer.pos += 1;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                Tok::Unquoted(lexer.take_while(|c| c.is_ascii_alphanumeric() || c == '_'))
            }
            '[' => {
                lexer.pos += 1;
                match lexer.peek() {
                    Some(']') => {
                        lexer.pos += 1;
                        Tok::Flatten
                    }
                    Some('?') => {
                        lexer.pos += 1;
                        Tok::Filter
                    }
                    _ => Tok::LBracket,
                }
            }
            '\'' => Tok::Literal(Json::String(lexer.delimited('\'')?.replace("\\'", "'"))),
            '|' => lexer.either('|', Tok::Or, Tok::Pipe),
            '&' => lexer.either('&', Tok::And, Tok::Expref),
            '`' => lexer.json_literal()?,
            '0'..='9' | '-' => lexer.number()?,
            '"' => lexer.quoted_identifier()?,
            '<' => lexer.either('=', Tok::Cmp(Cmp::Le), Tok::Cmp(Cmp::Lt)),
            '>' => lexer.either('=', Tok::Cmp(Cmp::Ge), Tok::Cmp(Cmp::Gt)),
            '!' => lexer.either('=', Tok::Cmp(Cmp::Ne), Tok::Not),
            '=' => {
                lexer.pos += 1;
                if lexer.peek() != Some('=') {
                    return Err("Bad jmespath expression: Unknown token '='".into());
                }
                lexer.pos += 1;
                Tok::Cmp(Cmp::Eq)
            }
            other => return Err(format!("Bad jmespath expression: Unknown token {other}")),
        };
        tokens.push((tok, start));
    }
    tokens.push((Tok::Eof, lexer.chars.len()));
    Ok(tokens)
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// `c` then `second` gives `matched`, `c` alone `alone`.
    fn either(&mut self, second: char, matched: Tok, alone: Tok) -> Tok {
        self.pos += 1;
        if self.peek() == Some(second) {
            self.pos += 1;
            matched
        } else {
            alone
        }
    }

    /// The text up to the closing `delimiter`, backslashes kept (and a
    /// backslash keeps the next character from closing).
    fn delimited(&mut self, delimiter: char) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    let rest: String = self.chars[start..].iter().collect();
                    return Err(format!(
                        "Bad jmespath expression: Unclosed {delimiter} delimiter: {rest}"
                    ));
                }
                Some(c) if c == delimiter => break,
                Some('\\') => {
                    text.push('\\');
                    self.pos += 1;
                    if let Some(next) = self.peek() {
                        text.push(next);
                        self.pos += 1;
                    }
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Ok(text)
    }

    fn json_literal(&mut self) -> Result<Tok, String> {
        let lexeme = self.delimited('`')?.replace("\\`", "`");
        if let Ok(json) = serde_json::from_str(&lexeme) {
            return Ok(Tok::Literal(json));
        }
        // The deprecated form: an unquoted string between backticks.
        serde_json::from_str(&format!("\"{}\"", lexeme.trim_start()))
            .map(Tok::Literal)
            .map_err(|_| format!("Bad jmespath expression: Bad token {lexeme}"))
    }

    fn number(&mut self) -> Result<Tok, String> {
        let start = self.pos;
        self.pos += 1;
        self.take_while(|c| c.is_ascii_digit());
        let text: String = self.chars[start..self.pos].iter().collect();
        if text == "-" {
            return Err("Bad jmespath expression: Unknown token '-'".into());
        }
        text.parse()
            .map(Tok::Number)
            .map_err(|_| format!("Bad jmespath expression: number too large: {text}"))
    }

    fn quoted_identifier(&mut self) -> Result<Tok, String> {
        let lexeme = format!("\"{}\"", self.delimited('"')?);
        serde_json::from_str(&lexeme)
            .map(Tok::Quoted)
            .map_err(|e| format!("Bad jmespath expression: {e}: {}", self.text))
    }
}
