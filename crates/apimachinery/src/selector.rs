//! Label and field selectors as kube-apiserver parses and evaluates them.
//!
//! [`parse_label_selector`] follows apimachinery's `labels.Parse` (its lexer, grammar, key and
//! value validation and error texts); [`parse_field_selector`] follows `fields.ParseSelector`
//! (comma-separated `=`, `==`, `!=` terms with backslash escaping). Both parse untrusted query
//! strings and never panic. Every [`SelectorError`] is meant to be returned as a 400 BadRequest
//! whose message is the error's text.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use crate::names::{is_qualified_name, is_valid_label_value};

/// Why a selector could not be parsed, converted or accepted; the text is apimachinery's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A label selector string is malformed between requirements (e.g. `found ')', expected: ...`).
    #[error("{0}")]
    Syntax(String),
    /// One requirement of a label selector string is malformed or has an invalid key or value.
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    /// A requirement built outside the string parser (e.g. from a `LabelSelector`) is invalid.
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` operator is not `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    InvalidOperator(String),
    /// A field selector term contains none of `=`, `==`, `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm {
        /// The whole field selector string.
        selector: String,
        /// The term that has no operator.
        term: String,
    },
    /// A field selector value contains a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value contains an unescaped `,` or `=` (printed as its code point, like Go).
    #[error("invalid field selector: unescaped character in value: {}", code_point(.0))]
    UnescapedCharacter(char),
    /// A field selector names a field the kind does not register (kinds with field label conversions).
    #[error("field label not supported: {0}")]
    UnsupportedFieldLabel(String),
    /// A field selector names a field other than `metadata.name`/`metadata.namespace`
    /// (apimachinery's default conversion, used for kinds without registered field labels).
    #[error(
        "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        go_quote(.0)
    )]
    UnknownFieldSelector(String),
}

fn code_point(c: &char) -> u32 {
    u32::from(*c)
}

/// Quotes a string roughly as Go's `%q` does (used where apimachinery prints `%q`).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints a string list as Go's `%#v` does: `[]string{"a", "b"}`, or `[]string(nil)` when empty.
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_owned();
    }
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// Joins messages as apimachinery's error aggregate does: one bare, several as `[a, b]`, deduplicated.
fn aggregate(messages: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::with_capacity(messages.len());
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        1 => seen.pop().unwrap_or_default(),
        _ if seen.is_empty() => String::new(),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// A field error line as apimachinery prints `field.Invalid(path, value, detail)`.
fn invalid(path: &str, bad_value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {bad_value}: {detail}")
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// A label requirement operator (apimachinery's `selection.Operator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key in (a,b)`: the key exists and its value is one of the values.
    In,
    /// `key notin (a,b)`: the key is absent or its value is none of the values.
    NotIn,
    /// `key=value`: the key exists with that value.
    Equals,
    /// `key==value`: same as [`Operator::Equals`].
    DoubleEquals,
    /// `key!=value`: the key is absent or has another value.
    NotEquals,
    /// `key`: the key exists.
    Exists,
    /// `!key`: the key does not exist.
    DoesNotExist,
    /// `key>n`: the key's value is an integer greater than `n`.
    GreaterThan,
    /// `key<n`: the key's value is an integer less than `n`.
    LessThan,
}

impl Operator {
    /// The operator's name as apimachinery spells it (`in`, `notin`, `=`, `==`, `!=`, `exists`, `!`, `gt`, `lt`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label requirement: a key, an operator and its values (validated on construction).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// The error messages of a label key check at `path` (apimachinery's `validateLabelKey`).
fn label_key_error(key: &str, path: &str) -> Option<String> {
    let errs = is_qualified_name(key);
    if errs.is_empty() {
        None
    } else {
        Some(invalid(path, &go_quote(key), &errs.join("; ")))
    }
}

/// apimachinery's `NewRequirement` without a path: the checks and their aggregated message.
fn new_requirement(
    key: &str,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, String> {
    let mut errs = Vec::new();
    if let Some(e) = label_key_error(key, "key") {
        errs.push(e);
    }
    let bad = || go_string_slice(&values);
    match operator {
        Operator::In | Operator::NotIn => {
            if values.is_empty() {
                errs.push(invalid(
                    "values",
                    &bad(),
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            if values.len() != 1 {
                errs.push(invalid(
                    "values",
                    &bad(),
                    "exact-match compatibility requires one single value",
                ));
            }
        }
        Operator::Exists | Operator::DoesNotExist => {
            if !values.is_empty() {
                errs.push(invalid(
                    "values",
                    &bad(),
                    "values set must be empty for exists and does not exist",
                ));
            }
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(invalid(
                    "values",
                    &bad(),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(invalid(
                        &format!("values[{i}]"),
                        &go_quote(v),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let msgs = is_valid_label_value(v);
        if !msgs.is_empty() {
            errs.push(invalid(
                &format!("values[{i}][{key}]"),
                &go_quote(v),
                &msgs.join("; "),
            ));
        }
    }
    if errs.is_empty() {
        Ok(Requirement {
            key: key.to_owned(),
            operator,
            values,
        })
    } else {
        Err(aggregate(errs))
    }
}

impl Requirement {
    /// Builds a requirement, checking key, value count and values as apimachinery's `NewRequirement` does.
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Self, SelectorError> {
        new_requirement(&key.into(), operator, values).map_err(SelectorError::InvalidRequirement)
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values (empty for `Exists`/`DoesNotExist`).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    /// Whether the labels satisfy this requirement (`!=` and `notin` match an absent key).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(actual)) = value.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Prints the requirement as apimachinery's `Requirement.String` (values sorted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        f.write_str(&sorted.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: requirements that must all hold (ANDed); empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector of the given requirements, ordered by key like apimachinery's `Selector.Add`.
    pub fn new(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector { requirements }
    }

    /// Converts an object's `LabelSelector` (matchLabels + matchExpressions) like `metav1.LabelSelectorAsSelector`.
    ///
    /// An empty selector (`{}`) matches everything. A *missing* selector (`None`) is not handled
    /// here: whether it selects nothing (as apimachinery's `LabelSelectorAsSelector(nil)` does)
    /// or everything is the caller's decision for its field.
    pub fn from_k8s(selector: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (k, v) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::new(
                k.as_str(),
                Operator::Equals,
                vec![v.clone()],
            )?);
        }
        for expr in selector.match_expressions.iter().flatten() {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError::InvalidOperator(other.to_owned())),
            };
            let values = expr.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(expr.key.as_str(), operator, values)?);
        }
        Ok(Self::new(requirements))
    }

    /// The requirements, ordered by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The single value the first requirement on `key` demands (`=`, `==`, or `in` with one value).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Prints the selector as apimachinery's `Selector.String` (requirements joined by `,`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_label_selector(s)
    }
}

/// Lexer tokens of apimachinery's label selector grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Byte lexer mirroring apimachinery's: a NUL byte, like the end of input, ends a token.
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.src.as_bytes().get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let end = loop {
            match self.src.as_bytes().get(self.pos) {
                None => break self.pos,
                Some(0) => {
                    self.pos += 1;
                    break self.pos - 1;
                }
                Some(&c) if is_special_symbol(c) || is_whitespace(c) => break self.pos,
                Some(_) => self.pos += 1,
            }
        };
        // Token boundaries are ASCII bytes or the ends, so this slice is always on char boundaries.
        let lit = self.src.get(start..end).unwrap_or_default();
        match keyword(lit.as_bytes()) {
            Some(tok) => (tok, lit.to_owned()),
            None => (Token::Identifier, lit.to_owned()),
        }
    }

    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut buffer: Vec<u8> = Vec::new();
        let mut last: Option<(Token, usize)> = None;
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if !is_special_symbol(c) {
                self.unread();
                break;
            }
            buffer.push(c);
            if let Some(tok) = keyword(&buffer) {
                last = Some((tok, buffer.len()));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        match last {
            Some((tok, len)) => (
                tok,
                String::from_utf8_lossy(buffer.get(..len).unwrap_or_default()).into_owned(),
            ),
            None => (
                Token::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buffer)
                ),
            ),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut c = self.read();
        while is_whitespace(c) {
            c = self.read();
        }
        if c == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(c) {
            self.scan_special_symbol()
        } else {
            self.scan_id_or_keyword()
        }
    }
}

/// Whether `in`/`notin` are operators (after a key) or plain identifiers (everywhere else).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(s: &str) -> Self {
        let mut lexer = Lexer { src: s, pos: 0 };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            let end = item.0 == Token::EndOfString;
            items.push(item);
            if end {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn item(&self, at: usize, context: Context) -> (Token, String) {
        let (tok, lit) = self
            .items
            .get(at)
            .cloned()
            .unwrap_or((Token::EndOfString, String::new()));
        match tok {
            Token::In | Token::NotIn if context == Context::Values => (Token::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        self.item(self.position, context)
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.item(self.position, context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(SelectorError::Requirement)?;
                    requirements.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(SelectorError::Syntax(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::Syntax(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(SelectorError::Syntax(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return new_requirement(&key, op, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(&key, operator, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut tok, mut lit) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        // apimachinery validates the key here with a nil field path, printed as `<nil>`.
        if let Some(e) = label_key_error(&lit, "<nil>") {
            return Err(e);
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::EndOfString || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((lit, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: '=', '!=', '==', 'in', notin'"
                ));
            }
        })
    }

    /// Parses `(a,b,...)`; the result is a sorted set, where empty items stand for `""`.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let set = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        let finish = |mut set: Vec<String>| {
            set.sort();
            set.dedup();
            set
        };
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    set.push(lit);
                    let (tok2, lit2) = self.lookahead(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(finish(set)),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.push(String::new());
                    }
                    let (tok2, _) = self.lookahead(Context::Values);
                    if tok2 == Token::ClosedPar {
                        set.push(String::new());
                        return Ok(finish(set));
                    }
                    if tok2 == Token::Comma {
                        self.consume(Context::Values);
                        set.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if tok == Token::EndOfString || tok == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

/// Parses a `labelSelector` query value as kube-apiserver does (`labels.Parse`); `""` matches everything.
pub fn parse_label_selector(s: &str) -> Result<LabelSelector, SelectorError> {
    let requirements = Parser::new(s).parse()?;
    Ok(LabelSelector::new(requirements))
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// The field labels every kind supports (`DefaultMetaV1FieldSelectorConversion`).
pub const META_FIELD_LABELS: [&str; 2] = ["metadata.name", "metadata.namespace"];

/// A field requirement operator (`=` and `==` are the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One field selector term: a field, an operator and the unescaped value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field label, e.g. `metadata.name`.
    pub field: String,
    /// The operator.
    pub operator: FieldOperator,
    /// The value, with escapes removed.
    pub value: String,
}

impl FieldRequirement {
    /// Whether the field's value (absent = `""`) satisfies this term.
    pub fn matches(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or("");
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    /// Prints `field=value` or `field!=value` with the value escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_field_value(&self.value))
    }
}

/// A field selector: terms that must all hold (ANDed); empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// The terms, ordered by their source text as apimachinery orders them.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether the selector has no terms (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object matches; `get` returns a field's value, and an absent field counts as `""`.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches(get(&r.field).as_deref()))
    }

    /// The value the first `=`/`==` term on `field` demands, if any (e.g. `metadata.name`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }

    /// Checks every field against a kind's registered field labels; the first unknown one yields
    /// `field label not supported: <field>` (what kinds with field label conversions return).
    pub fn check_fields(&self, allowed: &[&str]) -> Result<(), SelectorError> {
        match self
            .requirements
            .iter()
            .find(|r| !allowed.contains(&r.field.as_str()))
        {
            Some(r) => Err(SelectorError::UnsupportedFieldLabel(r.field.clone())),
            None => Ok(()),
        }
    }

    /// Checks every field is `metadata.name` or `metadata.namespace`, with the message of
    /// apimachinery's default conversion (kinds that register no field labels).
    pub fn check_meta_fields(&self) -> Result<(), SelectorError> {
        match self
            .requirements
            .iter()
            .find(|r| !META_FIELD_LABELS.contains(&r.field.as_str()))
        {
            Some(r) => Err(SelectorError::UnknownFieldSelector(r.field.clone())),
            None => Ok(()),
        }
    }
}

impl fmt::Display for FieldSelector {
    /// Prints the terms joined by `,`, values escaped, as apimachinery's `Selector.String`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_field_selector(s)
    }
}

/// Escapes `\`, `,` and `=` in a value for use in a field selector (`fields.EscapeValue`).
pub fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape_field_value`], rejecting unknown escapes and bare `,`/`=` (`fields.UnescapeValue`).
fn unescape_field_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => return Err(SelectorError::InvalidEscape(format!("\\{other}"))),
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(SelectorError::UnescapedCharacter(c)),
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(SelectorError::InvalidEscape("\\".to_owned()));
    }
    Ok(out)
}

/// Splits on commas not preceded by a backslash escape; the escapes stay in the terms.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(s.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    terms.push(s.get(start..).unwrap_or_default());
    terms
}

/// Splits a term at the first operator (`!=`, then `==`, then `=` at each position).
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] = [
        ("!=", FieldOperator::NotEquals),
        ("==", FieldOperator::Equals),
        ("=", FieldOperator::Equals),
    ];
    for (i, _) in term.char_indices() {
        let rest = term.get(i..)?;
        for (text, op) in OPERATORS {
            if let Some(rhs) = rest.strip_prefix(text) {
                return Some((term.get(..i)?, op, rhs));
            }
        }
    }
    None
}

/// Parses a `fieldSelector` query value as kube-apiserver does (`fields.ParseSelector`); `""` matches everything.
///
/// Field names are not checked here; use [`FieldSelector::check_fields`] or
/// [`FieldSelector::check_meta_fields`] against the kind's field labels.
pub fn parse_field_selector(s: &str) -> Result<FieldSelector, SelectorError> {
    let mut parts = split_terms(s);
    parts.sort_unstable();
    let mut requirements = Vec::new();
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let Some((field, operator, rhs)) = split_term(part) else {
            return Err(SelectorError::FieldTerm {
                selector: s.to_owned(),
                term: part.to_owned(),
            });
        };
        requirements.push(FieldRequirement {
            field: field.to_owned(),
            operator,
            value: unescape_field_value(rhs)?,
        });
    }
    Ok(FieldSelector { requirements })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn sel(s: &str) -> LabelSelector {
        match parse_label_selector(s) {
            Ok(sel) => sel,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn label_err(s: &str) -> String {
        match parse_label_selector(s) {
            Ok(sel) => panic!("{s:?} should not parse, got {sel:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn fields(s: &str) -> FieldSelector {
        match parse_field_selector(s) {
            Ok(sel) => sel,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn field_err(s: &str) -> String {
        match parse_field_selector(s) {
            Ok(sel) => panic!("{s:?} should not parse, got {sel:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn getter(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map = labels(pairs);
        move |f: &str| map.get(f).cloned()
    }

    // --- label selectors: operators -------------------------------------------------------

    #[test]
    fn equals_matches_only_that_value() {
        let s = sel("app=web");
        assert_eq!(s.requirements()[0].operator(), Operator::Equals);
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "db")])));
        assert!(!s.matches(&labels(&[])));
    }

    #[test]
    fn double_equals_is_the_same_as_equals() {
        let s = sel("app==web");
        assert_eq!(s.requirements()[0].operator(), Operator::DoubleEquals);
        assert_eq!(s.requirements()[0].values(), ["web"]);
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "db")])));
    }

    #[test]
    fn not_equals_rejects_that_value() {
        let s = sel("app!=web");
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert!(s.matches(&labels(&[("app", "db")])));
    }

    #[test]
    fn not_equals_matches_an_absent_key() {
        assert!(sel("app!=web").matches(&labels(&[("other", "x")])));
    }

    #[test]
    fn in_matches_any_listed_value() {
        let s = sel("env in (prod,staging)");
        assert!(s.matches(&labels(&[("env", "prod")])));
        assert!(s.matches(&labels(&[("env", "staging")])));
        assert!(!s.matches(&labels(&[("env", "dev")])));
        assert!(!s.matches(&labels(&[])));
    }

    #[test]
    fn notin_rejects_listed_values() {
        let s = sel("env notin (prod,staging)");
        assert!(!s.matches(&labels(&[("env", "prod")])));
        assert!(s.matches(&labels(&[("env", "dev")])));
    }

    #[test]
    fn notin_matches_an_absent_key() {
        assert!(sel("env notin (prod)").matches(&labels(&[])));
    }

    #[test]
    fn set_operators_tolerate_spaces_tabs_and_newlines() {
        let s = sel("  env   in  ( prod ,\tstaging )\n, tier notin(a, b)  ");
        assert_eq!(s.requirements().len(), 2);
        assert_eq!(s.requirements()[0].values(), ["prod", "staging"]);
        assert!(s.matches(&labels(&[("env", "staging"), ("tier", "c")])));
        assert!(!s.matches(&labels(&[("env", "staging"), ("tier", "b")])));
    }

    #[test]
    fn set_values_are_sorted_and_deduplicated() {
        let s = sel("x in (b,a,b)");
        assert_eq!(s.requirements()[0].values(), ["a", "b"]);
    }

    #[test]
    fn empty_set_items_stand_for_the_empty_value() {
        assert_eq!(sel("x in ()").requirements()[0].values(), [""]);
        assert_eq!(
            sel("x in (a,,b)").requirements()[0].values(),
            ["", "a", "b"]
        );
        assert_eq!(sel("x in (,a)").requirements()[0].values(), ["", "a"]);
        assert_eq!(sel("x in (a,)").requirements()[0].values(), ["", "a"]);
    }

    #[test]
    fn in_and_notin_are_identifiers_where_values_are_expected() {
        let s = sel("in in (in,notin)");
        assert_eq!(s.requirements()[0].key(), "in");
        assert!(s.matches(&labels(&[("in", "notin")])));
    }

    #[test]
    fn bare_key_means_exists() {
        let s = sel("app");
        assert_eq!(s.requirements()[0].operator(), Operator::Exists);
        assert!(s.matches(&labels(&[("app", "")])));
        assert!(!s.matches(&labels(&[("other", "x")])));
    }

    #[test]
    fn bang_key_means_does_not_exist() {
        let s = sel("!app");
        assert_eq!(s.requirements()[0].operator(), Operator::DoesNotExist);
        assert!(s.matches(&labels(&[("other", "x")])));
        assert!(!s.matches(&labels(&[("app", "x")])));
        assert!(sel(" ! app ").matches(&labels(&[])));
    }

    #[test]
    fn equals_without_value_matches_the_empty_value() {
        let s = sel("app=");
        assert_eq!(s.requirements()[0].values(), [""]);
        assert!(s.matches(&labels(&[("app", "")])));
        assert!(!s.matches(&labels(&[])));
    }

    #[test]
    fn greater_and_less_than_compare_integers() {
        let s = sel("replicas>2,replicas<10");
        assert!(s.matches(&labels(&[("replicas", "5")])));
        assert!(!s.matches(&labels(&[("replicas", "2")])));
        assert!(!s.matches(&labels(&[("replicas", "ten")])));
        assert!(!s.matches(&labels(&[])));
    }

    #[test]
    fn greater_than_requires_an_integer_value() {
        assert_eq!(
            label_err("a>b"),
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn multiple_requirements_are_anded() {
        let s = sel("app=web,tier!=db,!legacy");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("legacy", "y")])));
        assert!(!s.matches(&labels(&[("tier", "fe")])));
    }

    #[test]
    fn requirements_are_ordered_by_key() {
        let s = sel("b=1,a=2");
        let keys: Vec<&str> = s.requirements().iter().map(Requirement::key).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn empty_string_matches_everything() {
        for s in ["", "   ", "\t\n"] {
            let s = sel(s);
            assert!(s.is_empty());
            assert!(s.matches(&labels(&[])));
            assert!(s.matches(&labels(&[("a", "b")])));
        }
    }

    #[test]
    fn qualified_keys_with_prefix_are_accepted() {
        let s = sel("app.kubernetes.io/name=web");
        assert!(s.matches(&labels(&[("app.kubernetes.io/name", "web")])));
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        let s = sel("z notin (b,a), !y, x, w==1, v!=2, u in (c), t>3");
        assert_eq!(s.to_string(), "t>3,u in (c),v!=2,w==1,x,!y,z notin (a,b)");
        assert_eq!(sel(&s.to_string()), s);
    }

    #[test]
    fn requires_exact_match_finds_single_value_equality() {
        let s = sel("app=web,env in (a,b),tier in (x)");
        assert_eq!(s.requires_exact_match("app"), Some("web"));
        assert_eq!(s.requires_exact_match("tier"), Some("x"));
        assert_eq!(s.requires_exact_match("env"), None);
        assert_eq!(s.requires_exact_match("nope"), None);
    }

    // --- label selectors: errors ----------------------------------------------------------

    #[test]
    fn invalid_key_is_rejected_with_nil_path_message() {
        assert_eq!(
            label_err("app:monolith"),
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
    }

    #[test]
    fn invalid_key_prefix_is_rejected() {
        let e = label_err("app.kubernetes_io/name=x");
        assert!(
            e.starts_with("unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain"),
            "{e}"
        );
    }

    #[test]
    fn too_long_key_is_rejected() {
        let e = label_err(&format!("{}=x", "k".repeat(64)));
        assert!(
            e.contains("name part must be no more than 63 characters"),
            "{e}"
        );
    }

    #[test]
    fn invalid_value_is_rejected_at_values_index_key() {
        assert_eq!(
            label_err("app=-web"),
            "unable to parse requirement: values[0][app]: Invalid value: \"-web\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
    }

    #[test]
    fn several_invalid_set_values_are_aggregated() {
        let e = label_err("app in (-a,-b)");
        assert!(
            e.starts_with("unable to parse requirement: [values[0][app]: Invalid value: \"-a\""),
            "{e}"
        );
        assert!(e.contains(", values[1][app]: Invalid value: \"-b\""), "{e}");
        assert!(e.ends_with(']'), "{e}");
    }

    #[test]
    fn too_long_value_is_rejected() {
        let e = label_err(&format!("a={}", "v".repeat(64)));
        assert!(e.contains("must be no more than 63 characters"), "{e}");
    }

    #[test]
    fn missing_operator_is_a_syntax_error() {
        assert_eq!(
            label_err("a b"),
            "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'"
        );
    }

    #[test]
    fn set_operator_needs_parentheses() {
        assert_eq!(
            label_err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            label_err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            label_err("a in"),
            "unable to parse requirement: found '' expected: '('"
        );
    }

    #[test]
    fn operator_in_place_of_value_is_rejected() {
        assert_eq!(
            label_err("a=("),
            "unable to parse requirement: found '(', expected: identifier"
        );
    }

    #[test]
    fn trailing_comma_expects_an_identifier() {
        assert_eq!(
            label_err("a=b,"),
            "found '', expected: identifier after ','"
        );
        assert_eq!(
            label_err("a=b,,c"),
            "found ',', expected: identifier after ','"
        );
    }

    #[test]
    fn leading_operator_is_rejected() {
        assert_eq!(
            label_err("=a"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            label_err(","),
            "found ',', expected: !, identifier, or 'end of string'"
        );
    }

    #[test]
    fn junk_after_a_requirement_is_rejected() {
        assert_eq!(
            label_err("!a b"),
            "found 'b', expected: ',' or 'end of string'"
        );
        assert_eq!(
            label_err("a=b c"),
            "found 'c', expected: ',' or 'end of string'"
        );
    }

    #[test]
    fn bang_needs_a_key() {
        assert_eq!(
            label_err("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            label_err("!=a"),
            "found '!=', expected: !, identifier, or 'end of string'"
        );
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_input() {
        let alphabet: Vec<char> = "ab=!(),<> \t\\/.-_in\u{0}é\u{1F600}".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            let mut s = String::new();
            let mut x = state;
            for _ in 0..len {
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
                x /= alphabet.len() as u64;
                if x == 0 {
                    x = state.rotate_left(17) | 1;
                }
            }
            let _ = parse_label_selector(&s).map(|sel| sel.matches(&labels(&[("a", "b")])));
            let _ = parse_field_selector(&s).map(|sel| sel.matches(|_| None));
        }
        for s in [
            "(((",
            ")))",
            "!!!!",
            "in",
            "notin",
            "in in",
            "a in ()",
            "a notin (,,)",
            "=",
            "==",
            "!=",
            "<>",
        ] {
            let _ = parse_label_selector(s);
            let _ = parse_field_selector(s);
        }
    }

    #[test]
    fn nul_byte_ends_a_token_or_the_input_like_apimachinery() {
        // Inside a token a NUL only ends that token; where a token would start it ends the input.
        assert_eq!(
            label_err("a=b\u{0}garbage"),
            "found 'garbage', expected: ',' or 'end of string'"
        );
        assert_eq!(sel("a=b \u{0} garbage"), sel("a=b"));
    }

    // --- k8s LabelSelector conversion -----------------------------------------------------

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_owned(),
            operator: op.to_owned(),
            values: if values.is_empty() {
                None
            } else {
                Some(values.iter().map(|v| (*v).to_owned()).collect())
            },
        }
    }

    #[test]
    fn k8s_empty_selector_matches_everything() {
        let s = LabelSelector::from_k8s(&metav1::LabelSelector::default()).unwrap();
        assert!(s.is_empty());
        assert!(s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn k8s_match_labels_become_equality_requirements() {
        let k = metav1::LabelSelector {
            match_labels: Some(labels(&[("app", "web"), ("tier", "fe")])),
            match_expressions: None,
        };
        let s = LabelSelector::from_k8s(&k).unwrap();
        assert_eq!(s.to_string(), "app=web,tier=fe");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe"), ("x", "y")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn k8s_match_expressions_convert_all_four_operators() {
        let k = metav1::LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("env", "In", &["prod", "staging"]),
                expr("tier", "NotIn", &["db"]),
                expr("team", "Exists", &[]),
                expr("legacy", "DoesNotExist", &[]),
            ]),
        };
        let s = LabelSelector::from_k8s(&k).unwrap();
        assert_eq!(
            s.to_string(),
            "app=web,env in (prod,staging),!legacy,team,tier notin (db)"
        );
        let ok = labels(&[("app", "web"), ("env", "prod"), ("team", "a")]);
        assert!(s.matches(&ok));
        let mut with_db = ok.clone();
        with_db.insert("tier".into(), "db".into());
        assert!(!s.matches(&with_db));
        let mut with_legacy = ok.clone();
        with_legacy.insert("legacy".into(), "".into());
        assert!(!s.matches(&with_legacy));
        let mut no_team = ok;
        no_team.remove("team");
        assert!(!s.matches(&no_team));
    }

    #[test]
    fn k8s_unknown_operator_is_rejected() {
        let k = metav1::LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("a", "Near", &["b"])]),
        };
        assert_eq!(
            LabelSelector::from_k8s(&k).unwrap_err().to_string(),
            "\"Near\" is not a valid label selector operator"
        );
    }

    #[test]
    fn k8s_in_without_values_is_rejected() {
        let k = metav1::LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("a", "In", &[])]),
        };
        assert_eq!(
            LabelSelector::from_k8s(&k).unwrap_err().to_string(),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
    }

    #[test]
    fn k8s_exists_with_values_is_rejected() {
        let k = metav1::LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("a", "Exists", &["b"])]),
        };
        assert_eq!(
            LabelSelector::from_k8s(&k).unwrap_err().to_string(),
            "values: Invalid value: []string{\"b\"}: values set must be empty for exists and does not exist"
        );
    }

    #[test]
    fn k8s_invalid_match_label_key_is_rejected_at_key() {
        let k = metav1::LabelSelector {
            match_labels: Some(labels(&[("-bad", "v")])),
            match_expressions: None,
        };
        let e = LabelSelector::from_k8s(&k).unwrap_err().to_string();
        assert!(
            e.starts_with("key: Invalid value: \"-bad\": name part must consist"),
            "{e}"
        );
    }

    // --- field selectors --------------------------------------------------------------------

    #[test]
    fn field_equals_matches_that_value() {
        let s = fields("metadata.name=nic1");
        assert_eq!(
            s.requirements(),
            [FieldRequirement {
                field: "metadata.name".into(),
                operator: FieldOperator::Equals,
                value: "nic1".into(),
            }]
        );
        assert!(s.matches(getter(&[("metadata.name", "nic1")])));
        assert!(!s.matches(getter(&[("metadata.name", "nic2")])));
    }

    #[test]
    fn field_double_equals_is_equals_without_a_leading_equals_sign() {
        let s = fields("metadata.name==nic1");
        assert_eq!(s.requirements()[0].operator, FieldOperator::Equals);
        assert_eq!(s.requirements()[0].value, "nic1");
    }

    #[test]
    fn field_not_equals_rejects_that_value() {
        let s = fields("metadata.namespace!=kube-system");
        assert_eq!(s.requirements()[0].operator, FieldOperator::NotEquals);
        assert!(!s.matches(getter(&[("metadata.namespace", "kube-system")])));
        assert!(s.matches(getter(&[("metadata.namespace", "default")])));
    }

    #[test]
    fn absent_field_counts_as_empty_string() {
        assert!(fields("spec.x=").matches(getter(&[])));
        assert!(!fields("spec.x!=").matches(getter(&[])));
        assert!(fields("spec.x!=y").matches(getter(&[])));
        assert!(!fields("spec.x=y").matches(getter(&[])));
    }

    #[test]
    fn field_terms_are_anded() {
        let s = fields("metadata.name=a,metadata.namespace=ns");
        assert!(s.matches(getter(&[
            ("metadata.name", "a"),
            ("metadata.namespace", "ns")
        ])));
        assert!(!s.matches(getter(&[
            ("metadata.name", "a"),
            ("metadata.namespace", "other")
        ])));
    }

    #[test]
    fn empty_field_selector_matches_everything() {
        for s in ["", ",", ",,"] {
            let s = fields(s);
            assert!(s.is_empty());
            assert!(s.matches(getter(&[])));
        }
    }

    #[test]
    fn field_value_escapes_are_removed() {
        let s = fields(r"spec.v=a\,b\=c\\d,metadata.name=x");
        let v = s
            .requirements()
            .iter()
            .find(|r| r.field == "spec.v")
            .unwrap();
        assert_eq!(v.value, r"a,b=c\d");
        assert_eq!(s.requirements().len(), 2);
        assert_eq!(s.to_string(), r"metadata.name=x,spec.v=a\,b\=c\\d");
    }

    #[test]
    fn escape_field_value_round_trips() {
        let raw = r"x=1,y\2";
        let s = fields(&format!("f={}", escape_field_value(raw)));
        assert_eq!(s.requirements()[0].value, raw);
    }

    #[test]
    fn unknown_escape_sequence_is_rejected() {
        assert_eq!(
            field_err(r"a=b\c"),
            r"invalid field selector: invalid escape sequence: \c"
        );
        assert_eq!(
            field_err(r"a=b\"),
            r"invalid field selector: invalid escape sequence: \"
        );
    }

    #[test]
    fn unescaped_equals_in_value_is_rejected_with_its_code_point() {
        assert_eq!(
            field_err("a=b=c"),
            "invalid field selector: unescaped character in value: 61"
        );
    }

    #[test]
    fn term_without_operator_is_rejected() {
        assert_eq!(
            field_err("metadata.name=a,oops"),
            "invalid selector: 'metadata.name=a,oops'; can't understand 'oops'"
        );
    }

    #[test]
    fn field_requires_exact_match_finds_equality_terms() {
        let s = fields("metadata.name=a,metadata.namespace!=b");
        assert_eq!(s.requires_exact_match("metadata.name"), Some("a"));
        assert_eq!(s.requires_exact_match("metadata.namespace"), None);
    }

    #[test]
    fn unsupported_field_label_error() {
        let s = fields("metadata.name=a,spec.foo=b");
        let e = s
            .check_fields(&["metadata.name", "metadata.namespace"])
            .unwrap_err();
        assert_eq!(e, SelectorError::UnsupportedFieldLabel("spec.foo".into()));
        assert_eq!(e.to_string(), "field label not supported: spec.foo");
        assert!(s.check_fields(&["metadata.name", "spec.foo"]).is_ok());
    }

    #[test]
    fn unknown_field_for_default_conversion_error() {
        let e = fields("x=1").check_meta_fields().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert!(
            fields("metadata.name=a,metadata.namespace=b")
                .check_meta_fields()
                .is_ok()
        );
    }
}
