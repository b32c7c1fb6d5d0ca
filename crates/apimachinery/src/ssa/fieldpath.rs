//! Field paths, sets of them, and the FieldsV1 encoding Kubernetes stores in `managedFields`.
//!
//! Mirrors sigs.k8s.io/structured-merge-diff's `fieldpath` package: a [`FieldSet`] is a tree
//! whose nodes are [`PathElement`]s; a node is a *member* when the field it names is in the
//! set, and has *children* when fields below it are. Ordering, set operations and the FieldsV1
//! serialisation (`f:`, `k:`, `v:`, `i:` keys, `.` for "this node itself") follow that package.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Number, Value};

/// Why a FieldsV1 document cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsV1Error {
    /// A node of the document is not a JSON object.
    #[error("FieldsV1 node {0:?} is not an object")]
    NotAnObject(String),
    /// A key does not have the form `f:…`, `k:…`, `v:…`, `i:…` or `.`.
    #[error("invalid FieldsV1 key {0:?}: {1}")]
    InvalidKey(String, String),
}

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A field of a struct or a key of a map (`f:<name>`).
    Field(String),
    /// An item of a keyed list, named by its key fields sorted by name (`k:{…}`).
    Key(Vec<(String, Value)>),
    /// An item of a set list, named by its value (`v:<json>`).
    Value(Value),
    /// An item of a list, named by its position (`i:<index>`).
    Index(usize),
}

impl PathElement {
    /// A `k:` element from key fields in any order.
    pub fn key(mut fields: Vec<(String, Value)>) -> PathElement {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The FieldsV1 key of this element, e.g. `f:spec` or `k:{"name":"a"}`.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut out = String::from("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go_json_string(name, &mut out);
                    out.push(':');
                    go_json_into(value, &mut out);
                }
                out.push('}');
                out
            }
            PathElement::Value(v) => format!("v:{}", go_json(v)),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a FieldsV1 key (not `.`).
    pub fn from_fields_v1_key(key: &str) -> Result<PathElement, FieldsV1Error> {
        let invalid = |why: &str| FieldsV1Error::InvalidKey(key.to_owned(), why.to_owned());
        let bytes = key.as_bytes();
        if bytes.len() < 2 {
            return Err(invalid("key must be at least 2 characters long"));
        }
        if bytes[1] != b':' {
            return Err(invalid("missing colon"));
        }
        // The first two bytes are ASCII, so slicing at 2 is on a character boundary.
        let rest = &key[2..];
        match bytes[0] {
            b'f' => Ok(PathElement::Field(rest.to_owned())),
            b'v' => serde_json::from_str(rest)
                .map(PathElement::Value)
                .map_err(|e| invalid(&e.to_string())),
            b'k' => match serde_json::from_str::<Value>(rest) {
                Ok(Value::Object(m)) if !m.is_empty() => {
                    Ok(PathElement::key(m.into_iter().collect()))
                }
                Ok(_) => Err(invalid("key fields must be a non-empty JSON object")),
                Err(e) => Err(invalid(&e.to_string())),
            },
            b'i' => rest
                .parse::<usize>()
                .map(PathElement::Index)
                .map_err(|e| invalid(&e.to_string())),
            _ => Err(invalid("unknown path element type")),
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => cmp_fields(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => cmp_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    /// The form kube-apiserver prints in conflict messages: `.name`, `[k="v",…]`, `[=v]`, `[i]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// structured-merge-diff's `value.ToString`: strings quoted, other scalars plain.
fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(value_to_string).collect::<Vec<_>>().join(",")
        ),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", value_to_string(v)))
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// Orders key-field lists as structured-merge-diff does: pairwise by name then value, shorter first.
fn cmp_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((an, av), (bn, bv)) in a.iter().zip(b) {
        let c = an.cmp(bn).then_with(|| cmp_values(av, bv));
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// Orders values as structured-merge-diff does: numbers, strings, booleans, lists, maps, null.
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                let c = cmp_values(i, j);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<(&String, &Value)> = x.iter().collect();
            let mut ys: Vec<(&String, &Value)> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let c = xk.cmp(yk).then_with(|| cmp_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Numeric order; an integer sorts before a float of the same value so that the order stays
/// total and consistent with equality.
fn cmp_numbers(x: &Number, y: &Number) -> Ordering {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(x), int(y)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => {
            let a = x.as_f64().unwrap_or(0.0);
            let b = y.as_f64().unwrap_or(0.0);
            a.partial_cmp(&b)
                .unwrap_or(Ordering::Equal)
                .then_with(|| x.is_f64().cmp(&y.is_f64()))
        }
    }
}

/// A field path, e.g. `.spec.peerings[name="a"].prefixes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<PathElement>);

impl FieldPath {
    /// A path of plain field names, e.g. `FieldPath::fields(&["spec", "x"])`.
    pub fn fields(names: &[&str]) -> FieldPath {
        FieldPath(
            names
                .iter()
                .map(|n| PathElement::Field((*n).to_owned()))
                .collect(),
        )
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for pe in &self.0 {
            write!(f, "{pe}")?;
        }
        Ok(())
    }
}

/// A set of field paths, stored as a tree of path elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// Elements at this level that are in the set themselves.
    members: BTreeSet<PathElement>,
    /// Elements at this level with members below them (never empty sets).
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// The set of the given paths.
    pub fn from_paths<'p>(paths: impl IntoIterator<Item = &'p FieldPath>) -> FieldSet {
        let mut s = FieldSet::new();
        for p in paths {
            s.insert(&p.0);
        }
        s
    }

    /// Whether the set has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// The number of member paths.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(FieldSet::len).sum::<usize>()
    }

    /// Adds `path` (its parents are not added); the empty path (the whole object) is ignored.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Whether `pe` is a member at this level.
    pub(crate) fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The subset below `pe`, relative to it.
    pub(crate) fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| {
                let i = c.intersection(other.children.get(pe)?);
                (!i.is_empty()).then(|| (pe.clone(), i))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Paths of `self` that are not paths of `other` (exact paths: removing a parent keeps its
    /// children).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| {
                let d = match other.children.get(pe) {
                    Some(oc) => c.difference(oc),
                    None => c.clone(),
                };
                (!d.is_empty()).then(|| (pe.clone(), d))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Paths of `self` that are neither paths of `other` nor below one.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| {
                if other.members.contains(pe) {
                    return None;
                }
                let d = match other.children.get(pe) {
                    Some(oc) => c.recursive_difference(oc),
                    None => c.clone(),
                };
                (!d.is_empty()).then(|| (pe.clone(), d))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Removes, in place, the paths of `other` and everything below them
    /// (`*self = self.recursive_difference(other)` without copying).
    pub fn remove_recursive(&mut self, other: &FieldSet) {
        for m in &other.members {
            self.members.remove(m);
            self.children.remove(m);
        }
        for (pe, oc) in &other.children {
            if let Some(c) = self.children.get_mut(pe) {
                c.remove_recursive(oc);
                if c.is_empty() {
                    self.children.remove(pe);
                }
            }
        }
    }

    /// Keeps, in place, only the paths that are members of `prefixes` or below one
    /// (`*self = self.restrict_to(prefixes)` without copying).
    pub fn retain_under(&mut self, prefixes: &FieldSet) {
        self.members.retain(|m| prefixes.members.contains(m));
        self.children.retain(|pe, c| {
            if prefixes.members.contains(pe) {
                return true;
            }
            match prefixes.children.get(pe) {
                Some(pc) => {
                    c.retain_under(pc);
                    !c.is_empty()
                }
                None => false,
            }
        });
    }

    /// Removes `pe` as a member at this level (what is below it stays).
    pub(crate) fn remove_member(&mut self, pe: &PathElement) {
        self.members.remove(pe);
    }

    /// Paths of `self` that are members of `prefixes` or below one.
    pub fn restrict_to(&self, prefixes: &FieldSet) -> FieldSet {
        let members = self
            .members
            .intersection(&prefixes.members)
            .cloned()
            .collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| {
                if prefixes.members.contains(pe) {
                    return Some((pe.clone(), c.clone()));
                }
                let r = c.restrict_to(prefixes.children.get(pe)?);
                (!r.is_empty()).then(|| (pe.clone(), r))
            })
            .collect();
        FieldSet { members, children }
    }

    /// The member paths, members of a level before the levels below it, each in order.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<FieldPath>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(FieldPath(p));
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Reads a FieldsV1 document, e.g. `{"f:spec":{"f:x":{}}}`.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, FieldsV1Error> {
        let Value::Object(m) = v else {
            return Err(FieldsV1Error::NotAnObject(String::new()));
        };
        let mut set = FieldSet::new();
        read_level(m, &mut set, "")?;
        Ok(set)
    }

    /// The FieldsV1 document of this set, keys in Kubernetes' order.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit())
    }

    fn emit(&self) -> Map<String, Value> {
        let mut out = Map::new();
        let mut members = self.members.iter().peekable();
        let mut children = self
            .children
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .peekable();
        loop {
            let next = match (members.peek(), children.peek()) {
                (None, None) => break,
                (Some(_), None) => Step::Member,
                (None, Some(_)) => Step::Child,
                (Some(m), Some((c, _))) => match (*m).cmp(*c) {
                    Ordering::Less => Step::Member,
                    Ordering::Greater => Step::Child,
                    Ordering::Equal => Step::Both,
                },
            };
            match next {
                Step::Member => {
                    if let Some(m) = members.next() {
                        out.insert(m.to_fields_v1_key(), Value::Object(Map::new()));
                    }
                }
                Step::Child => {
                    if let Some((pe, c)) = children.next() {
                        out.insert(pe.to_fields_v1_key(), Value::Object(c.emit()));
                    }
                }
                Step::Both => {
                    members.next();
                    if let Some((pe, c)) = children.next() {
                        let mut inner = Map::new();
                        inner.insert(".".into(), Value::Object(Map::new()));
                        inner.extend(c.emit());
                        out.insert(pe.to_fields_v1_key(), Value::Object(inner));
                    }
                }
            }
        }
        out
    }
}

enum Step {
    Member,
    Child,
    Both,
}

/// Reads the entries of one FieldsV1 object into `set` (`.` is handled by the caller).
fn read_level(m: &Map<String, Value>, set: &mut FieldSet, at: &str) -> Result<(), FieldsV1Error> {
    for (k, v) in m {
        if k == "." {
            continue;
        }
        let pe = PathElement::from_fields_v1_key(k)?;
        let here = format!("{at}{pe}");
        let Value::Object(inner) = v else {
            return Err(FieldsV1Error::NotAnObject(here));
        };
        if inner.is_empty() || inner.contains_key(".") {
            set.members.insert(pe.clone());
        }
        let mut child = FieldSet::new();
        read_level(inner, &mut child, &here)?;
        if !child.is_empty() {
            let merged = match set.children.remove(&pe) {
                Some(existing) => existing.union(&child),
                None => child,
            };
            set.children.insert(pe, merged);
        }
    }
    Ok(())
}

/// JSON as Go's `encoding/json` writes it: object keys sorted, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped, integral floats without a fraction.
pub(crate) fn go_json(v: &Value) -> String {
    let mut out = String::new();
    go_json_into(v, &mut out);
    out
}

fn go_json_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e21 => {
                out.push_str(&format!("{f:.0}"));
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => go_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_into(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json_into(x, out);
            }
            out.push('}');
        }
    }
}

fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
