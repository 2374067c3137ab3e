//! The watchlist query language: lexer, parser and syntax tree. Pure.
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*          adjacent terms mean AND
//! unary   := ("NOT" | "-") unary | near
//! near    := primary (("NEAR/n" | "ONEAR/n") primary)*
//! primary := [field ":"] ( "(" or ")" | "phrase" | term | term* | term~ | /regex/ | @alias )
//! ```

use std::collections::HashMap;
use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::text;

/// Compiled regexes larger than this are refused.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Fuzzy terms shorter than this (in characters) are refused: one edit on a
/// short word matches too much.
pub const FUZZY_MIN_CHARS: usize = 5;
/// Prefixes shorter than this (in characters) are refused.
pub const PREFIX_MIN_CHARS: usize = 2;
/// The largest NEAR distance accepted.
pub const NEAR_MAX: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Summary,
    Content,
    Link,
    Source,
    Lang,
    Tag,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Link,
        Field::Source,
        Field::Lang,
        Field::Tag,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Link => "link",
            Field::Source => "source",
            Field::Lang => "lang",
            Field::Tag => "tag",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of fields a term is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet(u8);

impl FieldSet {
    /// The set as a bit mask, bit `i` for the field of index `i`.
    pub fn mask(self) -> u8 {
        self.0
    }

    /// Title, summary and content: where a term without a field looks.
    pub const DEFAULT: FieldSet = FieldSet(0b111);

    pub fn one(f: Field) -> FieldSet {
        FieldSet(1 << f.index())
    }

    pub fn contains(self, f: Field) -> bool {
        self.0 & (1 << f.index()) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// One word of a term or phrase, already normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pat {
    Exact(String),
    Prefix(String),
    Fuzzy(String),
}

impl Pat {
    pub fn matches(&self, word: &str) -> bool {
        match self {
            Pat::Exact(w) => w == word,
            Pat::Prefix(p) => word.starts_with(p.as_str()),
            Pat::Fuzzy(w) => text::within_one_edit(w, word),
        }
    }
}

/// How a leaf is found by the matcher's one-pass literal search:
/// `NONE` (it is not), or the literal's number and whether finding the
/// literal in a field is the same as the leaf matching there (`exact`) or
/// only a precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lit {
    pub id: u32,
    /// A second literal that may stand in for the first (the two halves of
    /// a fuzzy term), or `u32::MAX`.
    pub alt: u32,
    pub exact: bool,
}

impl Lit {
    pub const NONE: Lit = Lit {
        id: u32::MAX,
        alt: u32::MAX,
        exact: false,
    };

    pub fn is_none(self) -> bool {
        self.id == u32::MAX
    }

    /// The fields (bit mask) where the literal search saw this leaf's
    /// literal; all fields when the leaf has none.
    pub fn fields_seen(self, found: &[u8]) -> u8 {
        if self.is_none() {
            return u8::MAX;
        }
        let get = |i: u32| found.get(i as usize).copied().unwrap_or(0);
        get(self.id) | if self.alt == u32::MAX { 0 } else { get(self.alt) }
    }
}

/// The syntax tree of a query.
#[derive(Debug, Clone)]
pub enum Node {
    /// A term or phrase: consecutive words, each matching its pattern.
    Seq {
        fields: FieldSet,
        pats: Vec<Pat>,
        label: String,
        /// The matcher's literal for this leaf, set by `Matcher::new`.
        lit: Lit,
    },
    Regex {
        fields: FieldSet,
        re: Regex,
        label: String,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Near {
        a: Box<Node>,
        b: Box<Node>,
        n: u32,
        ordered: bool,
    },
}

impl Node {
    /// True for nodes that have word positions, the operands NEAR accepts.
    pub fn is_positional(&self) -> bool {
        match self {
            Node::Seq { .. } | Node::Near { .. } => true,
            Node::Or(items) => items.iter().all(Node::is_positional),
            _ => false,
        }
    }

    /// True when the node can match by what an item contains, not only by
    /// what it lacks.
    pub fn is_positive(&self) -> bool {
        match self {
            Node::Seq { .. } | Node::Regex { .. } | Node::Near { .. } => true,
            Node::And(items) => items.iter().any(Node::is_positive),
            Node::Or(items) => items.iter().all(Node::is_positive),
            Node::Not(_) => false,
        }
    }

    /// Restricts the node to `scope`: leaves searching the default fields
    /// search `scope` instead.
    fn scoped(mut self, scope: FieldSet) -> Node {
        if scope != FieldSet::DEFAULT {
            self.set_scope(scope);
        }
        self
    }

    fn set_scope(&mut self, scope: FieldSet) {
        match self {
            Node::Seq { fields, .. } | Node::Regex { fields, .. } => {
                if *fields == FieldSet::DEFAULT {
                    *fields = scope;
                }
            }
            Node::And(items) | Node::Or(items) => items.iter_mut().for_each(|n| n.set_scope(scope)),
            Node::Not(n) => n.set_scope(scope),
            Node::Near { a, b, .. } => {
                a.set_scope(scope);
                b.set_scope(scope);
            }
        }
    }
}

/// Writes the node back as query text (aliases appear expanded).
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join(f: &mut fmt::Formatter<'_>, items: &[Node], op: &str) -> fmt::Result {
            f.write_str("(")?;
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{n}")?;
            }
            f.write_str(")")
        }
        let scope = |fields: &FieldSet| -> String {
            if *fields == FieldSet::DEFAULT {
                String::new()
            } else {
                fields
                    .iter()
                    .map(|x| format!("{}:", x.name()))
                    .collect::<Vec<_>>()
                    .join("|")
            }
        };
        match self {
            Node::Seq { fields, label, .. } | Node::Regex { fields, label, .. } => {
                write!(f, "{}{label}", scope(fields))
            }
            Node::And(items) => join(f, items, "AND"),
            Node::Or(items) => join(f, items, "OR"),
            Node::Not(n) => write!(f, "NOT {n}"),
            Node::Near { a, b, n, ordered } => {
                write!(f, "({a} {}NEAR/{n} {b})", if *ordered { "O" } else { "" })
            }
        }
    }
}

/// A query that does not parse: the message and the byte range of the
/// offending token in the query text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

impl QueryError {
    fn new(offset: usize, len: usize, message: impl Into<String>) -> QueryError {
        QueryError {
            offset,
            len: len.max(1),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Near { n: u32, ordered: bool },
    Field(Field),
    Word(String),
    Phrase(String),
    Regex(String),
    Alias(String),
}

#[derive(Debug, Clone)]
struct Lexed {
    tok: Tok,
    start: usize,
    end: usize,
}

fn field_list() -> String {
    Field::ALL.map(Field::name).join(", ")
}

fn lex(q: &str) -> Result<Vec<Lexed>, QueryError> {
    let mut out = Vec::new();
    let bytes = q.as_bytes();
    let mut i = 0;
    let mut after_field = false;
    while i < q.len() {
        let c = q[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            after_field = false;
            continue;
        }
        let start = i;
        let literal = after_field;
        after_field = false;
        match c {
            '(' => {
                out.push(Lexed {
                    tok: Tok::LParen,
                    start,
                    end: i + 1,
                });
                i += 1;
            }
            ')' => {
                out.push(Lexed {
                    tok: Tok::RParen,
                    start,
                    end: i + 1,
                });
                i += 1;
            }
            '"' => {
                let Some(close) = q[i + 1..].find('"') else {
                    return Err(QueryError::new(start, 1, "unterminated phrase: missing closing '\"'"));
                };
                let end = i + 1 + close + 1;
                out.push(Lexed {
                    tok: Tok::Phrase(q[i + 1..end - 1].to_string()),
                    start,
                    end,
                });
                i = end;
            }
            '/' => {
                let mut j = i + 1;
                let mut closed = None;
                while j < q.len() {
                    match bytes[j] {
                        b'\\' => j += 2,
                        b'/' => {
                            closed = Some(j);
                            break;
                        }
                        _ => j += 1,
                    }
                }
                let Some(close) = closed else {
                    return Err(QueryError::new(start, 1, "unterminated regex: missing closing '/'"));
                };
                out.push(Lexed {
                    tok: Tok::Regex(q[i + 1..close].to_string()),
                    start,
                    end: close + 1,
                });
                i = close + 1;
            }
            '@' => {
                let name_len: usize = q[i + 1..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                    .map(char::len_utf8)
                    .sum();
                if name_len == 0 {
                    return Err(QueryError::new(start, 1, "alias name expected after '@'"));
                }
                let end = i + 1 + name_len;
                out.push(Lexed {
                    tok: Tok::Alias(q[i + 1..end].to_string()),
                    start,
                    end,
                });
                i = end;
            }
            '-' if q[i + 1..]
                .chars()
                .next()
                .is_some_and(|n| !n.is_whitespace() && n != ')' && n != '-') =>
            {
                out.push(Lexed {
                    tok: Tok::Minus,
                    start,
                    end: i + 1,
                });
                i += 1;
            }
            _ => {
                let len: usize = q[i..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"'))
                    .map(char::len_utf8)
                    .sum();
                let word = &q[i..i + len];
                let end = i + len;
                if !literal {
                    if let Some(colon) = word.find(':') {
                        let name = &word[..colon];
                        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()) {
                            let Some(field) = Field::parse(&name.to_ascii_lowercase()) else {
                                return Err(QueryError::new(
                                    start,
                                    colon,
                                    format!("unknown field '{name}' (fields: {})", field_list()),
                                ));
                            };
                            out.push(Lexed {
                                tok: Tok::Field(field),
                                start,
                                end: i + colon + 1,
                            });
                            i += colon + 1;
                            after_field = true;
                            continue;
                        }
                    }
                }
                let tok = match word {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => match near_op(word) {
                        Some(Ok(t)) => t,
                        Some(Err(m)) => return Err(QueryError::new(start, len, m)),
                        None => Tok::Word(word.to_string()),
                    },
                };
                out.push(Lexed { tok, start, end });
                i = end;
            }
        }
    }
    Ok(out)
}

fn near_op(word: &str) -> Option<Result<Tok, String>> {
    let (ordered, rest) = if let Some(r) = word.strip_prefix("ONEAR") {
        (true, r)
    } else if let Some(r) = word.strip_prefix("NEAR") {
        (false, r)
    } else {
        return None;
    };
    let op = if ordered { "ONEAR" } else { "NEAR" };
    if rest.is_empty() {
        return Some(Err(format!("{op} needs a distance, as in {op}/5")));
    }
    let digits = rest.strip_prefix('/')?;
    match digits.parse::<u32>() {
        Ok(n) if n <= NEAR_MAX => Some(Ok(Tok::Near { n, ordered })),
        Ok(_) => Some(Err(format!("{op} distance is at most {NEAR_MAX}"))),
        Err(_) => Some(Err(format!("{op} needs a distance, as in {op}/5"))),
    }
}

/// Named lists a query can refer to as `@name`, already parsed.
pub type Aliases = HashMap<String, Node>;

struct Parser<'a> {
    q: &'a str,
    toks: Vec<Lexed>,
    pos: usize,
    aliases: &'a Aliases,
}

/// Parses one query. `aliases` resolves `@name`.
pub fn parse(q: &str, aliases: &Aliases) -> Result<Node, QueryError> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Err(QueryError::new(0, q.len(), "empty query"));
    }
    let mut p = Parser {
        q,
        toks,
        pos: 0,
        aliases,
    };
    let node = p.parse_or(FieldSet::DEFAULT)?;
    if let Some(t) = p.toks.get(p.pos) {
        return Err(match t.tok {
            Tok::RParen => QueryError::new(t.start, 1, "unbalanced parenthesis: unexpected ')'"),
            _ => QueryError::new(t.start, t.end - t.start, "unexpected token"),
        });
    }
    if !node.is_positive() {
        return Err(QueryError::new(
            0,
            q.len(),
            "a query needs at least one term to match; NOT alone matches almost everything",
        ));
    }
    Ok(node)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|l| &l.tok)
    }

    fn next(&mut self) -> Option<Lexed> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn end_offset(&self) -> usize {
        self.q.len()
    }

    fn parse_or(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let mut items = vec![self.parse_and(scope)?];
        while let Some(Tok::Or) = self.peek() {
            self.pos += 1;
            items.push(self.parse_and(scope)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    fn parse_and(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let mut items = vec![self.parse_unary(scope)?];
        loop {
            match self.peek() {
                None | Some(Tok::Or) | Some(Tok::RParen) => break,
                Some(Tok::And) => {
                    self.pos += 1;
                    items.push(self.parse_unary(scope)?);
                }
                Some(_) => items.push(self.parse_unary(scope)?),
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
    }

    fn parse_unary(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        if let Some(Tok::Not | Tok::Minus) = self.peek() {
            let op = self.toks[self.pos].clone();
            self.pos += 1;
            let name = if op.tok == Tok::Not { "NOT" } else { "'-'" };
            match self.peek() {
                None | Some(Tok::Or | Tok::And | Tok::RParen) => {
                    return Err(QueryError::new(
                        op.start,
                        op.end - op.start,
                        format!("{name} needs a term after it"),
                    ));
                }
                _ => {}
            }
            let inner = self.parse_unary(scope)?;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.parse_near(scope)
    }

    fn parse_near(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let mut left = self.parse_primary(scope)?;
        while let Some(Tok::Near { n, ordered }) = self.peek().cloned() {
            let op = self.toks[self.pos].clone();
            self.pos += 1;
            let op_text = &self.q[op.start..op.end];
            let operand_error = || {
                QueryError::new(
                    op.start,
                    op.end - op.start,
                    format!("{op_text} needs a term, phrase or OR-group on each side"),
                )
            };
            match self.peek() {
                None | Some(Tok::Or | Tok::And | Tok::Not | Tok::Minus | Tok::RParen | Tok::Near { .. }) => {
                    return Err(operand_error());
                }
                _ => {}
            }
            let right = self.parse_primary(scope)?;
            if !left.is_positional() || !right.is_positional() {
                return Err(operand_error());
            }
            left = Node::Near {
                a: Box::new(left),
                b: Box::new(right),
                n,
                ordered,
            };
        }
        Ok(left)
    }

    fn parse_primary(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let Some(t) = self.next() else {
            let end = self.end_offset();
            return Err(QueryError::new(
                end.saturating_sub(1),
                1,
                "query ends where a term was expected",
            ));
        };
        let span_text = &self.q[t.start..t.end];
        match t.tok {
            Tok::Field(f) => {
                match self.peek() {
                    None | Some(Tok::Or | Tok::And | Tok::RParen | Tok::Near { .. }) => {
                        return Err(QueryError::new(
                            t.start,
                            t.end - t.start,
                            format!("field '{}' needs a term after it", f.name()),
                        ));
                    }
                    _ => {}
                }
                self.parse_primary(FieldSet::one(f))
            }
            Tok::LParen => {
                if let Some(Tok::RParen) = self.peek() {
                    return Err(QueryError::new(t.start, 2, "empty parentheses"));
                }
                let inner = self.parse_or(scope)?;
                match self.next() {
                    Some(Lexed { tok: Tok::RParen, .. }) => Ok(inner),
                    _ => Err(QueryError::new(t.start, 1, "unbalanced parenthesis: missing ')'")),
                }
            }
            Tok::RParen => Err(QueryError::new(t.start, 1, "unbalanced parenthesis: unexpected ')'")),
            Tok::And | Tok::Or => Err(QueryError::new(
                t.start,
                t.end - t.start,
                format!("{span_text} needs a term on each side"),
            )),
            Tok::Near { .. } => Err(QueryError::new(
                t.start,
                t.end - t.start,
                format!("{span_text} needs a term, phrase or OR-group on each side"),
            )),
            Tok::Not | Tok::Minus => Err(QueryError::new(
                t.start,
                t.end - t.start,
                "NOT cannot stand here (it applies to the term after it)",
            )),
            Tok::Word(w) => term(&w, span_text, t.start, scope),
            Tok::Phrase(p) => phrase(&p, span_text, t.start, scope),
            Tok::Regex(r) => regex_node(&r, span_text, t.start, scope),
            Tok::Alias(name) => match self.aliases.get(&name) {
                Some(node) => Ok(node.clone().scoped(scope)),
                None => Err(QueryError::new(
                    t.start,
                    t.end - t.start,
                    format!("unknown alias '@{name}'"),
                )),
            },
        }
    }
}

/// Turns one whitespace-free chunk (`word`, `word*`, `word~`, `28-point`)
/// into patterns, appending to `pats`.
fn chunk_pats(chunk: &str, offset: usize, pats: &mut Vec<Pat>) -> Result<(), QueryError> {
    let err = |m: String| QueryError::new(offset, chunk.len(), m);
    // A wildcard inside a word would silently cut it in two.
    let inner = chunk.strip_suffix(['*', '~']).unwrap_or(chunk);
    if inner.contains(['*', '~']) {
        return Err(err(format!(
            "'{chunk}': '*' and '~' may only end a word (no wildcard inside one)"
        )));
    }
    if let Some(stem) = chunk.strip_suffix('*') {
        let ws = text::words(stem);
        let Some((last, head)) = ws.split_last() else {
            return Err(err(format!("'{chunk}' has no letters or digits before '*'")));
        };
        if last.chars().count() < PREFIX_MIN_CHARS {
            return Err(err(format!(
                "prefix '{chunk}' is too short: at least {PREFIX_MIN_CHARS} letters before '*'"
            )));
        }
        pats.extend(head.iter().cloned().map(Pat::Exact));
        pats.push(Pat::Prefix(last.clone()));
    } else if let Some(stem) = chunk.strip_suffix('~') {
        let ws = text::words(stem);
        if ws.len() != 1 || ws[0].chars().count() < FUZZY_MIN_CHARS {
            return Err(err(format!(
                "fuzzy term '{chunk}' must be one word of at least {FUZZY_MIN_CHARS} letters"
            )));
        }
        pats.push(Pat::Fuzzy(ws[0].clone()));
    } else {
        let ws = text::words(chunk);
        if ws.is_empty() {
            return Err(err(format!("'{chunk}' has no letters or digits")));
        }
        pats.extend(ws.into_iter().map(Pat::Exact));
    }
    Ok(())
}

fn term(word: &str, label: &str, offset: usize, fields: FieldSet) -> Result<Node, QueryError> {
    let mut pats = Vec::new();
    chunk_pats(word, offset, &mut pats)?;
    Ok(Node::Seq {
        fields,
        pats,
        label: label.to_string(),
        lit: Lit::NONE,
    })
}

fn phrase(p: &str, label: &str, offset: usize, fields: FieldSet) -> Result<Node, QueryError> {
    let mut pats = Vec::new();
    let mut pos = 0;
    for chunk in p.split_whitespace() {
        let at = p[pos..].find(chunk).map_or(pos, |k| pos + k);
        pos = at + chunk.len();
        chunk_pats(chunk, offset + 1 + at, &mut pats)?;
    }
    if pats.is_empty() {
        return Err(QueryError::new(offset, label.len(), "empty phrase"));
    }
    Ok(Node::Seq {
        fields,
        pats,
        label: label.to_string(),
        lit: Lit::NONE,
    })
}

fn regex_node(pattern: &str, label: &str, offset: usize, fields: FieldSet) -> Result<Node, QueryError> {
    if pattern.is_empty() {
        return Err(QueryError::new(offset, label.len(), "empty regex"));
    }
    let re = RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let message = match e {
                regex::Error::CompiledTooBig(_) => format!(
                    "regex too large: its compiled form exceeds {} KiB",
                    REGEX_SIZE_LIMIT / 1024
                ),
                regex::Error::Syntax(s) => {
                    let line = s
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("error:"))
                        .unwrap_or("syntax error")
                        .trim()
                        .to_string();
                    format!("invalid regex: {line}")
                }
                other => format!("invalid regex: {other}"),
            };
            QueryError::new(offset, label.len(), message)
        })?;
    Ok(Node::Regex {
        fields,
        re,
        label: label.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Result<Node, QueryError> {
        let mut aliases = Aliases::new();
        aliases.insert(
            "zelensky".into(),
            parse("Zelensky OR Зеленськ*", &Aliases::new()).unwrap(),
        );
        parse(q, &aliases)
    }

    fn err(q: &str) -> (usize, String) {
        let e = p(q).expect_err(q);
        (e.offset, e.message)
    }

    #[test]
    fn precedence_and_structure() {
        match p("a OR b c").unwrap() {
            Node::Or(items) => {
                assert_eq!(items.len(), 2);
                assert!(matches!(&items[1], Node::And(x) if x.len() == 2));
            }
            other => panic!("{other:?}"),
        }
        match p("(Witkoff OR Dmitriev) NEAR/10 plan").unwrap() {
            Node::Near {
                n: 10,
                ordered: false,
                a,
                ..
            } => assert!(matches!(*a, Node::Or(_))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(p("a -b").unwrap(), Node::And(x) if matches!(x[1], Node::Not(_))));
        assert!(matches!(
            p("a ONEAR/2 b").unwrap(),
            Node::Near {
                ordered: true,
                n: 2,
                ..
            }
        ));
    }

    #[test]
    fn hyphenated_terms_become_phrases() {
        match p("28-point").unwrap() {
            Node::Seq { pats, .. } => {
                assert_eq!(pats, vec![Pat::Exact("28".into()), Pat::Exact("point".into())])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fields_scope_terms_groups_and_aliases() {
        match p("title:(a OR b)").unwrap() {
            Node::Or(items) => {
                for i in items {
                    assert!(matches!(i, Node::Seq { fields, .. } if fields == FieldSet::one(Field::Title)));
                }
            }
            other => panic!("{other:?}"),
        }
        match p("summary:@zelensky").unwrap() {
            Node::Or(items) => {
                assert!(matches!(&items[0], Node::Seq { fields, .. } if *fields == FieldSet::one(Field::Summary)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p("link:https://kyivindependent.com/x").unwrap(),
            Node::Seq { .. }
        ));
    }

    #[test]
    fn errors_name_the_token() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty query"),
            ("   ", 0, "empty query"),
            ("(a OR b", 0, "unbalanced parenthesis: missing ')'"),
            ("a OR b)", 6, "unbalanced parenthesis: unexpected ')'"),
            ("a @nobody", 2, "unknown alias '@nobody'"),
            ("NEAR/3 plan", 0, "NEAR/3 needs a term, phrase or OR-group on each side"),
            ("plan NEAR/3", 5, "NEAR/3 needs a term, phrase or OR-group on each side"),
            (
                "(a AND b) NEAR/3 c",
                10,
                "NEAR/3 needs a term, phrase or OR-group on each side",
            ),
            ("a NEAR b", 2, "NEAR needs a distance, as in NEAR/5"),
            (
                "headline:peace",
                0,
                "unknown field 'headline' (fields: title, summary, content, link, source, lang, tag)",
            ),
            (
                "NOT gaza",
                0,
                "a query needs at least one term to match; NOT alone matches almost everything",
            ),
            ("abc~", 0, "fuzzy term 'abc~' must be one word of at least 5 letters"),
            ("a*", 0, "prefix 'a*' is too short: at least 2 letters before '*'"),
            (
                "Erdo*an*",
                0,
                "'Erdo*an*': '*' and '~' may only end a word (no wildcard inside one)",
            ),
            ("\"peace plan", 0, "unterminated phrase: missing closing '\"'"),
            ("a OR", 3, "query ends where a term was expected"),
            ("OR a", 0, "OR needs a term on each side"),
            ("a ()", 2, "empty parentheses"),
            ("a NOT", 2, "NOT needs a term after it"),
            ("/(/", 0, "invalid regex: unclosed group"),
        ];
        for (q, off, msg) in cases {
            assert_eq!(err(q), (*off, msg.to_string()), "query {q:?}");
        }
    }

    #[test]
    fn regex_size_is_limited() {
        let (off, msg) = err("x /\\w{1000}\\w{1000}\\w{1000}/");
        assert_eq!(off, 2);
        assert_eq!(msg, "regex too large: its compiled form exceeds 256 KiB");
    }
}
