//! A hand-written recursive-descent parser of the condition language (grammar in
//! `assets/default-config.toml` and the README).

use std::collections::BTreeSet;

use crate::model::CallType;
use crate::model::time::parse_time_str;

use super::ast::{
    Did, EventKind, EventPattern, Expr, FieldTest, Literal, Op, Test, TimeRule, TraitTest,
};
use super::error::ParseError;
use super::lexer::{Kind, Token, tokenize};

/// The result of parsing: the expression, how many `did` clauses it has, and its
/// fingerprint (the tokens joined by single spaces: comments and layout do not count).
pub(super) struct Parsed {
    pub expr: Expr,
    pub dids: usize,
    pub fingerprint: String,
    /// The event kinds the `did` clauses look at.
    pub kinds: Vec<EventKind>,
    /// Whether a `did` clause tests a value in the event JSON (`where`).
    pub reads_json: bool,
}

/// Parses a condition.
pub(super) fn parse(text: &str) -> Result<Parsed, ParseError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        scopes: Vec::new(),
        dids: 0,
        referenced: BTreeSet::new(),
        kinds: Vec::new(),
        reads_json: false,
    };
    if parser.peek().kind == Kind::End {
        return Err(ParseError::new(
            0,
            "the condition is empty: expected a clause such as did \"Order Completed\" within 7d",
        ));
    }
    let mut expr = parser.or()?;
    if parser.peek().kind != Kind::End {
        return Err(parser.expected("'and', 'or' or the end of the condition"));
    }
    drop_unreferenced_bindings(&mut expr, &parser.referenced);
    let fingerprint = parser.token_text(0, parser.tokens.len() - 1);
    Ok(Parsed {
        expr,
        dids: parser.dids,
        fingerprint,
        kinds: parser.kinds,
        reads_json: parser.reads_json,
    })
}

/// Names visible in one `and` chain: `as NAME` bindings and the target of `it`.
#[derive(Default)]
struct Scope {
    named: Vec<(String, usize)>,
    last_did: Option<usize>,
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    scopes: Vec<Scope>,
    dids: usize,
    referenced: BTreeSet<usize>,
    kinds: Vec<EventKind>,
    reads_json: bool,
}

const CALLS: &str = "identify, track, page, screen, group or alias";

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, keyword: &str) -> bool {
        if self.peek().is_keyword(keyword) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expected(&self, what: &str) -> ParseError {
        let token = self.peek();
        ParseError::new(
            token.start,
            format!("expected {what}, found {}", token.describe(self.text)),
        )
    }

    /// The source text of tokens `from..to` joined by single spaces.
    fn token_text(&self, from: usize, to: usize) -> String {
        self.tokens[from..to]
            .iter()
            .map(|t| &self.text[t.start..t.end])
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.eat("or") {
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        self.scopes.push(Scope::default());
        let result = self.and_terms();
        self.scopes.pop();
        let mut terms = result?;
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn and_terms(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut terms = Vec::new();
        loop {
            let (term, name) = self.unary()?;
            if let Expr::Did(did) = &term {
                let scope = self
                    .scopes
                    .last_mut()
                    .ok_or_else(|| ParseError::new(0, "internal: and-chain without a scope"))?;
                if let Some((name, at)) = name {
                    if scope.named.iter().any(|(n, _)| *n == name) {
                        return Err(ParseError::new(
                            at,
                            format!("the name '{name}' is already used in this condition"),
                        ));
                    }
                    scope.named.push((name, did.id));
                }
                scope.last_did = Some(did.id);
            }
            terms.push(term);
            if !self.eat("and") {
                return Ok(terms);
            }
        }
    }

    /// A unary term; for a plain `did ... as NAME` also the name and its position.
    fn unary(&mut self) -> Result<(Expr, Option<(String, usize)>), ParseError> {
        if self.peek().is_keyword("not") {
            self.advance();
            let (inner, name) = self.unary()?;
            reject_negated_name(name)?;
            return Ok((Expr::Not(Box::new(inner)), None));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(Expr, Option<(String, usize)>), ParseError> {
        let token = self.peek().clone();
        if token.kind == Kind::LParen {
            self.advance();
            let inner = self.or()?;
            if self.peek().kind != Kind::RParen {
                return Err(self.expected("')' to close the '(' opened earlier"));
            }
            self.advance();
            return Ok((inner, None));
        }
        if token.is_keyword("did") {
            return self.did();
        }
        if token.is_keyword("trait") {
            return Ok((Expr::Trait(self.trait_test()?), None));
        }
        Err(self.expected("a clause: 'did', 'not', 'trait' or '('"))
    }

    fn did(&mut self) -> Result<(Expr, Option<(String, usize)>), ParseError> {
        let first = self.pos;
        self.advance();
        let negated = self.eat("not");
        let id = self.dids;
        self.dids += 1;
        let kind = self.event_kind()?;
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind.clone());
        }
        let mut did = Did {
            id,
            pattern: EventPattern {
                kind,
                ..EventPattern::default()
            },
            times: Vec::new(),
            binds: Some(id),
            text: String::new(),
        };
        let mut name = None;
        loop {
            let token = self.peek().clone();
            if token.is_keyword("on") {
                self.advance();
                set_once(&mut did.pattern.channel, self.name("a channel")?, &token)?;
            } else if token.is_keyword("from") {
                self.advance();
                set_once(
                    &mut did.pattern.source,
                    self.name("a source or app")?,
                    &token,
                )?;
            } else if token.is_keyword("device") {
                self.advance();
                set_once(&mut did.pattern.device, self.name("a device type")?, &token)?;
            } else if token.is_keyword("where") {
                self.advance();
                self.reads_json = true;
                loop {
                    did.pattern.fields.push(self.field_test()?);
                    if self.peek().kind != Kind::Comma {
                        break;
                    }
                    self.advance();
                }
            } else if token.is_keyword("within")
                || token.is_keyword("after")
                || token.is_keyword("before")
            {
                did.times.push(self.time_rule()?);
            } else if token.is_keyword("as") {
                self.advance();
                let at = self.peek().start;
                let word = self.word("a name for the event (e.g. as cart)")?;
                if name.is_some() {
                    return Err(ParseError::new(token.start, "the event is already named"));
                }
                if is_reserved(&word) {
                    return Err(ParseError::new(
                        at,
                        format!("'{word}' is a keyword and cannot name an event"),
                    ));
                }
                name = Some((word, at));
            } else {
                break;
            }
        }
        did.text = self.token_text(first, self.pos);
        let expr = Expr::Did(Box::new(did));
        if negated {
            reject_negated_name(name)?;
            return Ok((Expr::Not(Box::new(expr)), None));
        }
        Ok((expr, name))
    }

    fn event_kind(&mut self) -> Result<EventKind, ParseError> {
        let token = self.peek().clone();
        match &token.kind {
            Kind::Str(name) => {
                self.advance();
                Ok(EventKind::Named {
                    call: CallType::Track,
                    name: name.clone(),
                })
            }
            Kind::Word(w) if w.eq_ignore_ascii_case("any") => {
                self.advance();
                Ok(EventKind::Any)
            }
            Kind::Word(w) => match CallType::from_name(&w.to_ascii_lowercase()) {
                Some(call) => {
                    self.advance();
                    if let Kind::Str(name) = &self.peek().kind {
                        let name = name.clone();
                        self.advance();
                        return Ok(EventKind::Named { call, name });
                    }
                    Ok(EventKind::Call(call))
                }
                None => Err(ParseError::new(
                    token.start,
                    format!(
                        "expected an event: a quoted event name (\"Order Completed\"), 'any', or a call type ({CALLS}), found '{w}'"
                    ),
                )),
            },
            _ => Err(self.expected(&format!(
                "an event: a quoted event name (\"Order Completed\"), 'any', or a call type ({CALLS})"
            ))),
        }
    }

    fn time_rule(&mut self) -> Result<TimeRule, ParseError> {
        let keyword = self.advance();
        if keyword.is_keyword("within") {
            let d = self.duration("a duration after 'within' (e.g. 7d, 12h, 30m)")?;
            // `within D after NAME` is one window; `within D before 1h ago` is two rules.
            let next_is_reference = matches!(
                self.tokens.get(self.pos + 1).map(|t| &t.kind),
                Some(Kind::Word(_))
            );
            if next_is_reference && self.eat("after") {
                return Ok(TimeRule::WithinAfter(d, self.reference()?));
            }
            if next_is_reference && self.eat("before") {
                return Ok(TimeRule::WithinBefore(d, self.reference()?));
            }
            return Ok(TimeRule::Within(d));
        }
        let after = keyword.is_keyword("after");
        let token = self.peek().clone();
        match &token.kind {
            Kind::Duration(d) if !after => {
                self.advance();
                if !self.eat("ago") {
                    return Err(self.expected("'ago' (as in before 1h ago)"));
                }
                Ok(TimeRule::OlderThan(*d))
            }
            Kind::Str(date) => {
                let at = parse_date(date).ok_or_else(|| {
                    ParseError::new(
                        token.start,
                        format!(
                            "'{date}' is not a date: expected RFC 3339 (2025-01-31T09:00:00Z) or a day (2025-01-31)"
                        ),
                    )
                })?;
                self.advance();
                Ok(if after {
                    TimeRule::AfterTime(at)
                } else {
                    TimeRule::BeforeTime(at)
                })
            }
            Kind::Word(_) => {
                let slot = self.reference()?;
                Ok(if after {
                    TimeRule::After(slot)
                } else {
                    TimeRule::Before(slot)
                })
            }
            _ if after => Err(self.expected(
                "an earlier event ('it' or a name given with 'as') or a quoted date after 'after'",
            )),
            _ => Err(self.expected(
                "an earlier event ('it' or a name given with 'as'), a duration with 'ago' (before 1h ago) or a quoted date after 'before'",
            )),
        }
    }

    /// `it` or a name bound by `as`, resolved to its binding slot.
    fn reference(&mut self) -> Result<usize, ParseError> {
        let token = self.peek().clone();
        let Kind::Word(word) = &token.kind else {
            return Err(self.expected("an earlier event: 'it' or a name given with 'as'"));
        };
        let slot = if word.eq_ignore_ascii_case("it") {
            self.scopes.iter().rev().find_map(|s| s.last_did).ok_or_else(|| {
                ParseError::new(
                    token.start,
                    "'it' refers to no earlier event: put a 'did' clause before it, joined with 'and'",
                )
            })?
        } else {
            self.scopes
                .iter()
                .rev()
                .find_map(|s| s.named.iter().rev().find(|(n, _)| n == word).map(|(_, slot)| *slot))
                .ok_or_else(|| {
                    ParseError::new(
                        token.start,
                        format!(
                            "unknown event name '{word}': name an earlier 'did' clause of this 'and' chain with 'as {word}', or use 'it'"
                        ),
                    )
                })?
        };
        self.advance();
        self.referenced.insert(slot);
        Ok(slot)
    }

    fn duration(&mut self, what: &str) -> Result<crate::model::Millis, ParseError> {
        match self.peek().kind {
            Kind::Duration(d) => {
                self.advance();
                Ok(d)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn word(&mut self, what: &str) -> Result<String, ParseError> {
        match &self.peek().kind {
            Kind::Word(w) => {
                let w = w.clone();
                self.advance();
                Ok(w)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A bare word or a quoted string.
    fn name(&mut self, what: &str) -> Result<String, ParseError> {
        match &self.peek().kind {
            Kind::Word(w) | Kind::Str(w) => {
                let w = w.clone();
                self.advance();
                Ok(w)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn field_test(&mut self) -> Result<FieldTest, ParseError> {
        let path = self.word("a field path after 'where' (e.g. properties.total)")?;
        let test = self.test()?;
        Ok(FieldTest {
            path: path.split('.').map(str::to_string).collect(),
            test,
        })
    }

    fn trait_test(&mut self) -> Result<TraitTest, ParseError> {
        let first = self.pos;
        self.advance();
        let key = self.name("a trait name after 'trait' (e.g. trait plan = \"pro\")")?;
        let test = self.test()?;
        Ok(TraitTest {
            key,
            test,
            text: self.token_text(first, self.pos),
        })
    }

    fn test(&mut self) -> Result<Test, ParseError> {
        let token = self.peek().clone();
        if let Kind::Op(op) = token.kind {
            self.advance();
            let literal = self.literal()?;
            if matches!(literal, Literal::Bool(_)) && !matches!(op, Op::Eq | Op::Ne) {
                return Err(ParseError::new(
                    token.start,
                    "true and false can only be compared with = or !=",
                ));
            }
            return Ok(Test::Compare(op, literal));
        }
        if self.eat("contains") {
            return Ok(Test::Contains(self.literal()?));
        }
        if self.eat("exists") {
            return Ok(Test::Exists);
        }
        Err(self.expected("a comparison (=, !=, <, >, <=, >=), 'contains' or 'exists'"))
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        let literal = match &self.peek().kind {
            Kind::Str(s) => Literal::Str(s.clone()),
            Kind::Number(n) => Literal::Num(*n),
            Kind::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Kind::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ => return Err(self.expected("a value: a quoted string, a number, true or false")),
        };
        self.advance();
        Ok(literal)
    }
}

fn set_once(slot: &mut Option<String>, value: String, keyword: &Token) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::new(
            keyword.start,
            "this filter is already given for the event; use 'or' between two did clauses for alternatives",
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn reject_negated_name(name: Option<(String, usize)>) -> Result<(), ParseError> {
    match name {
        Some((name, at)) => Err(ParseError::new(
            at,
            format!(
                "'as {name}' names an event that must exist; it cannot be used on a negated 'did'"
            ),
        )),
        None => Ok(()),
    }
}

const RESERVED: [&str; 20] = [
    "and", "or", "not", "did", "trait", "as", "it", "on", "from", "device", "where", "within",
    "after", "before", "ago", "any", "contains", "exists", "true", "false",
];

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Reads a quoted date: RFC 3339, a date-time without offset (UTC), or a day (UTC midnight).
fn parse_date(text: &str) -> Option<crate::model::Millis> {
    parse_time_str(text).or_else(|| parse_time_str(&format!("{}T00:00:00", text.trim())))
}

/// Clears `binds` on clauses no later term refers to, so evaluation only enumerates events
/// where a binding is needed.
fn drop_unreferenced_bindings(expr: &mut Expr, referenced: &BTreeSet<usize>) {
    match expr {
        Expr::And(terms) | Expr::Or(terms) => {
            for term in terms {
                drop_unreferenced_bindings(term, referenced);
            }
        }
        Expr::Not(inner) => drop_unreferenced_bindings(inner, referenced),
        Expr::Did(did) => {
            if !did.binds.is_some_and(|slot| referenced.contains(&slot)) {
                did.binds = None;
            }
        }
        Expr::Trait(_) => {}
    }
}
