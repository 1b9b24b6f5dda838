//! The JMESPath parser: jmespath.py's Pratt parser (`nud`/`led` per token,
//! its binding powers and projection rules), giving the same tree shapes.

use serde_json::Value as Json;

use super::lexer::{Cmp, Tok, tokenize};

#[derive(Debug, Clone)]
pub(super) enum Node {
    Identity,
    Field(String),
    Literal(Json),
    Subexpression(Vec<Node>),
    IndexExpression(Vec<Node>),
    Index(i64),
    Slice([Option<i64>; 3]),
    Projection(Box<Node>, Box<Node>),
    ValueProjection(Box<Node>, Box<Node>),
    /// Left, right and the condition.
    FilterProjection(Box<Node>, Box<Node>, Box<Node>),
    Flatten(Box<Node>),
    Comparator(Cmp, Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Pipe(Box<Node>, Box<Node>),
    MultiList(Vec<Node>),
    MultiHash(Vec<(String, Node)>),
    Function(String, Vec<Node>),
    Expref(Box<Node>),
}

/// Below this binding power a projection's right side is the identity.
const PROJECTION_STOP: u8 = 10;

struct Parser {
    tokens: Vec<(Tok, usize)>,
    index: usize,
    expression: String,
}

pub(super) fn parse(expression: &str) -> Result<Node, String> {
    let mut parser = Parser {
        tokens: tokenize(expression)?,
        index: 0,
        expression: expression.to_owned(),
    };
    let ast = parser.expression(0)?;
    if parser.current() != &Tok::Eof {
        return Err(parser.error_at(0, "Unexpected token"));
    }
    Ok(ast)
}

impl Parser {
    fn current(&self) -> &Tok {
        self.lookahead(0)
    }

    fn lookahead(&self, n: usize) -> &Tok {
        self.tokens
            .get(self.index + n)
            .map_or(&Tok::Eof, |(tok, _)| tok)
    }

    fn advance(&mut self) -> Tok {
        let tok = self.current().clone();
        self.index += 1;
        tok
    }

    /// jmespath.py's `ParseError` for the token `n` ahead; at the end of
    /// the expression, `incomplete` gives its `IncompleteExpressionError`.
    fn error_at(&self, n: usize, reason: &str) -> String {
        self.error_with(n, reason, false)
    }

    fn error_with(&self, n: usize, reason: &str, incomplete: bool) -> String {
        let (tok, position) = self
            .tokens
            .get(self.index + n)
            .cloned()
            .unwrap_or((Tok::Eof, self.expression.len()));
        if tok == Tok::Eof && incomplete {
            return format!(
                "Invalid jmespath expression: Incomplete expression:\n\"{}\"",
                self.expression
            );
        }
        format!(
            "{reason}: Parse error at column {position}, token ({}), for expression:\n\"{}\"",
            tok.name().to_uppercase(),
            self.expression
        )
    }

    fn expect(&mut self, wanted: &Tok) -> Result<(), String> {
        if std::mem::discriminant(self.current()) == std::mem::discriminant(wanted) {
            self.index += 1;
            Ok(())
        } else {
            let reason = format!(
                "Expecting: {}, got: {}",
                wanted.name(),
                self.current().name()
            );
            Err(self.error_with(0, &reason, true))
        }
    }

    fn expression(&mut self, binding_power: u8) -> Result<Node, String> {
        let token = self.advance();
        let mut left = self.nud(token)?;
        while binding_power < self.current().binding_power() {
            let token = self.advance();
            left = self.led(token, left)?;
        }
        Ok(left)
    }

    fn nud(&mut self, token: Tok) -> Result<Node, String> {
        Ok(match token {
            Tok::Literal(json) => Node::Literal(json),
            Tok::Unquoted(name) => Node::Field(name),
            Tok::Quoted(name) => {
                if self.current() == &Tok::LParen {
                    return Err(
                        self.error_at(0, "Quoted identifier not allowed for function names.")
                    );
                }
                Node::Field(name)
            }
            Tok::Star => {
                let right = if self.current() == &Tok::RBracket {
                    Node::Identity
                } else {
                    self.projection_rhs(Tok::Star.binding_power())?
                };
                Node::ValueProjection(Box::new(Node::Identity), Box::new(right))
            }
            Tok::Filter => self.filter(Node::Identity)?,
            Tok::LBrace => self.multi_select_hash()?,
            Tok::LParen => {
                let inner = self.expression(0)?;
                self.expect(&Tok::RParen)?;
                inner
            }
            Tok::Flatten => {
                let right = self.projection_rhs(Tok::Flatten.binding_power())?;
                Node::Projection(
                    Box::new(Node::Flatten(Box::new(Node::Identity))),
                    Box::new(right),
                )
            }
            Tok::Not => Node::Not(Box::new(self.expression(Tok::Not.binding_power())?)),
            Tok::LBracket => match self.current() {
                Tok::Number(_) | Tok::Colon => {
                    let right = self.index_expression()?;
                    self.project_if_slice(Node::Identity, right)?
                }
                Tok::Star if self.lookahead(1) == &Tok::RBracket => {
                    self.index += 2;
                    let right = self.projection_rhs(Tok::Star.binding_power())?;
                    Node::Projection(Box::new(Node::Identity), Box::new(right))
                }
                _ => self.multi_select_list()?,
            },
            Tok::Current => Node::Identity,
            Tok::Expref => Node::Expref(Box::new(self.expression(0)?)),
            other => {
                self.index -= 1;
                return Err(self.error_with(0, "invalid token", other == Tok::Eof));
            }
        })
    }

    fn led(&mut self, token: Tok, left: Node) -> Result<Node, String> {
        Ok(match token {
            Tok::Dot => {
                if self.current() == &Tok::Star {
                    self.index += 1;
                    let right = self.projection_rhs(Tok::Dot.binding_power())?;
                    Node::ValueProjection(Box::new(left), Box::new(right))
                } else {
                    let right = self.dot_rhs(Tok::Dot.binding_power())?;
                    match left {
                        Node::Subexpression(mut children) => {
                            children.push(right);
                            Node::Subexpression(children)
                        }
                        other => Node::Subexpression(vec![other, right]),
                    }
                }
            }
            Tok::Pipe => Node::Pipe(Box::new(left), Box::new(self.expression(1)?)),
            Tok::Or => Node::Or(Box::new(left), Box::new(self.expression(2)?)),
            Tok::And => Node::And(Box::new(left), Box::new(self.expression(3)?)),
            Tok::LParen => {
                let Node::Field(name) = left else {
                    return Err(self.error_at(0, "Invalid function name"));
                };
                let mut args = Vec::new();
                while self.current() != &Tok::RParen {
                    args.push(self.expression(0)?);
                    if self.current() == &Tok::Comma {
                        self.index += 1;
                    }
                }
                self.expect(&Tok::RParen)?;
                Node::Function(name, args)
            }
            Tok::Filter => self.filter(left)?,
            Tok::Cmp(op) => {
                let right = self.expression(5)?;
                Node::Comparator(op, Box::new(left), Box::new(right))
            }
            Tok::Flatten => {
                let right = self.projection_rhs(Tok::Flatten.binding_power())?;
                Node::Projection(Box::new(Node::Flatten(Box::new(left))), Box::new(right))
            }
            Tok::LBracket => match self.current() {
                Tok::Number(_) | Tok::Colon => {
                    let right = self.index_expression()?;
                    match left {
                        Node::IndexExpression(mut children) => {
                            children.push(right);
                            Node::IndexExpression(children)
                        }
                        other => self.project_if_slice(other, right)?,
                    }
                }
                _ => {
                    self.expect(&Tok::Star)?;
                    self.expect(&Tok::RBracket)?;
                    let right = self.projection_rhs(Tok::Star.binding_power())?;
                    Node::Projection(Box::new(left), Box::new(right))
                }
            },
            _ => {
                self.index -= 1;
                return Err(self.error_at(0, "invalid token"));
            }
        })
    }

    fn filter(&mut self, left: Node) -> Result<Node, String> {
        let condition = self.expression(0)?;
        self.expect(&Tok::RBracket)?;
        let right = if self.current() == &Tok::Flatten {
            Node::Identity
        } else {
            self.projection_rhs(Tok::Filter.binding_power())?
        };
        Ok(Node::FilterProjection(
            Box::new(left),
            Box::new(right),
            Box::new(condition),
        ))
    }

    fn index_expression(&mut self) -> Result<Node, String> {
        if self.current() == &Tok::Colon || self.lookahead(1) == &Tok::Colon {
            return self.slice();
        }
        let Tok::Number(n) = self.advance() else {
            return Err(self.error_at(0, "syntax error"));
        };
        self.expect(&Tok::RBracket)?;
        Ok(Node::Index(n))
    }

    fn slice(&mut self) -> Result<Node, String> {
        let mut parts = [None; 3];
        let mut part = 0;
        while self.current() != &Tok::RBracket && part < 3 {
            match self.current().clone() {
                Tok::Colon => {
                    part += 1;
                    if part == 3 {
                        return Err(self.error_at(0, "syntax error"));
                    }
                    self.index += 1;
                }
                Tok::Number(n) => {
                    parts[part] = Some(n);
                    self.index += 1;
                }
                _ => return Err(self.error_at(0, "syntax error")),
            }
        }
        self.expect(&Tok::RBracket)?;
        Ok(Node::Slice(parts))
    }

    fn project_if_slice(&mut self, left: Node, right: Node) -> Result<Node, String> {
        let is_slice = matches!(right, Node::Slice(_));
        let indexed = Node::IndexExpression(vec![left, right]);
        if !is_slice {
            return Ok(indexed);
        }
        let rhs = self.projection_rhs(Tok::Star.binding_power())?;
        Ok(Node::Projection(Box::new(indexed), Box::new(rhs)))
    }

    fn multi_select_list(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        loop {
            items.push(self.expression(0)?);
            if self.current() == &Tok::RBracket {
                break;
            }
            self.expect(&Tok::Comma)?;
        }
        self.expect(&Tok::RBracket)?;
        Ok(Node::MultiList(items))
    }

    fn multi_select_hash(&mut self) -> Result<Node, String> {
        let mut pairs = Vec::new();
        loop {
            let key = match self.current().clone() {
                Tok::Quoted(name) | Tok::Unquoted(name) => name,
                _ => {
                    let reason = format!(
                        "Expecting: ['quoted_identifier', 'unquoted_identifier'], got: {}",
                        self.current().name()
                    );
                    return Err(self.error_with(0, &reason, true));
                }
            };
            self.index += 1;
            self.expect(&Tok::Colon)?;
            pairs.push((key, self.expression(0)?));
            match self.current() {
                Tok::Comma => self.index += 1,
                Tok::RBrace => {
                    self.index += 1;
                    break;
                }
                _ => {}
            }
        }
        Ok(Node::MultiHash(pairs))
    }

    fn projection_rhs(&mut self, binding_power: u8) -> Result<Node, String> {
        match self.current() {
            tok if tok.binding_power() < PROJECTION_STOP => Ok(Node::Identity),
            Tok::LBracket | Tok::Filter => self.expression(binding_power),
            Tok::Dot => {
                self.index += 1;
                self.dot_rhs(binding_power)
            }
            _ => Err(self.error_at(0, "syntax error")),
        }
    }

    fn dot_rhs(&mut self, binding_power: u8) -> Result<Node, String> {
        match self.current() {
            Tok::Quoted(_) | Tok::Unquoted(_) | Tok::Star => self.expression(binding_power),
            Tok::LBracket => {
                self.index += 1;
                self.multi_select_list()
            }
            Tok::LBrace => {
                self.index += 1;
                self.multi_select_hash()
            }
            other => {
                let reason = format!(
                    "Expecting: ['quoted_identifier', 'unquoted_identifier', 'lbracket', 'lbrace'], got: {}",
                    other.name()
                );
                Err(self.error_at(0, &reason))
            }
        }
    }
}
