//! Walks over JSON values guided by a schema [`Node`]: the field set of a value, the structured
//! merge of an applied configuration into a live object, the comparison of two objects, and
//! the removal of paths.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::fieldpath::{FieldPath, FieldSet, PathElement};
use super::schema::{ListKind, Node};

/// Why a value cannot be read with its schema (an invalid applied configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError(pub String);

/// The path elements naming the items of `items` as `node` (a list) says, or `None` when the
/// list is atomic. Items that cannot be named (a set item that is not a scalar, a keyed item
/// without its keys, duplicates) are an error when `strict`, and make the list atomic otherwise.
pub(crate) fn list_elements(
    items: &[Value],
    node: &Node<'_>,
    strict: bool,
    path: &[PathElement],
) -> Result<Option<Vec<PathElement>>, ShapeError> {
    let kind = node.list_kind();
    if kind == ListKind::Atomic {
        return Ok(None);
    }
    let item_node = node.items();
    let mut out: Vec<PathElement> = Vec::with_capacity(items.len());
    let mut seen: BTreeSet<PathElement> = BTreeSet::new();
    let at = || FieldPath(path.to_vec()).to_string();
    for (i, item) in items.iter().enumerate() {
        let pe = match kind {
            ListKind::Set => match item {
                Value::Object(_) => Err(format!(
                    "{}: element {i}: associative list without keys has an element that's a map type",
                    at()
                )),
                Value::Array(_) => Err(format!(
                    "{}: element {i}: associative list without keys has an element that's a list type",
                    at()
                )),
                v => Ok(PathElement::Value(v.clone())),
            },
            ListKind::Map(keys) => match item {
                Value::Object(m) => {
                    let mut fields = Vec::with_capacity(keys.len());
                    let mut missing = None;
                    for k in keys.iter().filter_map(Value::as_str) {
                        match m.get(k).or_else(|| item_node.field_default(k)) {
                            Some(v) => fields.push((k.to_owned(), v.clone())),
                            None => {
                                missing = Some(k);
                                break;
                            }
                        }
                    }
                    match missing {
                        Some(k) => Err(format!(
                            "{}: element {i}: associative list with keys has an element that omits key field {k:?} (and doesn't have default value)",
                            at()
                        )),
                        None => Ok(PathElement::key(fields)),
                    }
                }
                _ => Err(format!(
                    "{}: element {i}: associative list with keys may not have non-map elements",
                    at()
                )),
            },
            ListKind::Atomic => return Ok(None),
        };
        match pe {
            Ok(pe) => {
                if !seen.insert(pe.clone()) {
                    if strict {
                        let dup = match &pe {
                            PathElement::Key(_) => format!("duplicate entries for key {pe}"),
                            _ => format!("duplicate entries for value {pe}"),
                        };
                        return Err(ShapeError(format!("{}: {dup}", at())));
                    }
                    return Ok(None);
                }
                out.push(pe);
            }
            Err(e) if strict => return Err(ShapeError(e)),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The fields `value` sets (structured-merge-diff's `ToFieldSet`).
pub(crate) fn field_set(
    value: &Value,
    node: Node<'_>,
    strict: bool,
) -> Result<FieldSet, ShapeError> {
    let mut set = FieldSet::new();
    walk_set(value, node, &mut Vec::new(), true, strict, &mut set)?;
    Ok(set)
}

fn walk_set(
    value: &Value,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
    at_root: bool,
    strict: bool,
    set: &mut FieldSet,
) -> Result<(), ShapeError> {
    match value {
        Value::Object(m) if !node.atomic_map() => {
            for (k, child) in m {
                let (cn, declared) = node.field(k, at_root);
                path.push(PathElement::Field(k.clone()));
                walk_set(child, cn, path, false, strict, set)?;
                let empty = matches!(child, Value::Null)
                    || matches!(child, Value::Object(c) if c.is_empty());
                if !declared || empty {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) => match list_elements(items, &node, strict, path)? {
            None => set.insert(path),
            Some(pes) => {
                let item_node = node.items();
                let keyed = matches!(node.list_kind(), ListKind::Map(_));
                for (item, pe) in items.iter().zip(pes) {
                    path.push(pe);
                    if keyed {
                        walk_set(item, item_node, path, false, strict, set)?;
                    }
                    set.insert(path);
                    path.pop();
                }
            }
        },
        _ => set.insert(path),
    }
    Ok(())
}

/// The paths where `value` (an applied configuration) sets `null` outside atomic values.
pub(crate) fn null_paths(value: &Value, node: Node<'_>) -> FieldSet {
    let mut set = FieldSet::new();
    walk_nulls(value, node, &mut Vec::new(), true, &mut set);
    set
}

fn walk_nulls(
    value: &Value,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
    at_root: bool,
    set: &mut FieldSet,
) {
    match value {
        Value::Null => set.insert(path),
        Value::Object(m) if !node.atomic_map() => {
            for (k, child) in m {
                let (cn, _) = node.field(k, at_root);
                path.push(PathElement::Field(k.clone()));
                walk_nulls(child, cn, path, false, set);
                path.pop();
            }
        }
        Value::Array(items) => {
            if !matches!(node.list_kind(), ListKind::Map(_)) {
                return;
            }
            if let Ok(Some(pes)) = list_elements(items, &node, false, path) {
                let item_node = node.items();
                for (item, pe) in items.iter().zip(pes) {
                    path.push(pe);
                    walk_nulls(item, item_node, path, false, set);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// Merges the applied configuration `applied` into `live` (structured-merge-diff's `Merge`):
/// maps merge key by key, keyed lists by key, sets by value, everything else is replaced.
pub(crate) fn merge(live: Option<&Value>, applied: &Value, node: Node<'_>, at_root: bool) -> Value {
    match applied {
        Value::Object(am) if !node.atomic_map() => {
            let mut out = match live {
                Some(Value::Object(lm)) => lm.clone(),
                _ => Map::new(),
            };
            for (k, av) in am {
                let (cn, _) = node.field(k, at_root);
                let merged = merge(out.get(k), av, cn, false);
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        Value::Array(ai) => {
            let Ok(Some(rpes)) = list_elements(ai, &node, false, &[]) else {
                return applied.clone();
            };
            let empty = Vec::new();
            let li = match live {
                Some(Value::Array(li)) => li,
                _ => &empty,
            };
            let lpes = match list_elements(li, &node, false, &[]) {
                Ok(Some(p)) => p,
                _ => Vec::new(),
            };
            let li: &[Value] = if lpes.len() == li.len() { li } else { &[] };
            let keyed = matches!(node.list_kind(), ListKind::Map(_));
            let item_node = node.items();
            let out = merge_order(&lpes, &rpes)
                .into_iter()
                .filter_map(|src| match src {
                    Source::Left(i) => li.get(i).cloned(),
                    Source::Right(l, r) => {
                        let a = ai.get(r)?;
                        let l = l.and_then(|l| li.get(l));
                        Some(if keyed {
                            merge(l, a, item_node, false)
                        } else {
                            a.clone()
                        })
                    }
                })
                .collect();
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// Where an item of a merged list comes from.
enum Source {
    /// The live item at this index, not in the applied list.
    Left(usize),
    /// The applied item at the second index, merged with the live one at the first if any.
    Right(Option<usize>, usize),
}

/// The order of a merged list (structured-merge-diff's): applied items in their order, live-only
/// items where they were relative to the items both lists share.
fn merge_order(lhs: &[PathElement], rhs: &[PathElement]) -> Vec<Source> {
    let index_l = first_positions(lhs);
    let index_r = first_positions(rhs);
    let pos_l = |pe: &PathElement| index_l.get(pe).copied();
    let in_r = |pe: &PathElement| index_r.contains_key(pe);
    let shared: Vec<&PathElement> = rhs.iter().filter(|pe| pos_l(pe).is_some()).collect();
    let mut shared_iter = shared.into_iter();
    let mut next_shared = shared_iter.next();
    let mut merged_r: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut li, mut ri) = (0, 0);
    let mut guard = 0usize;
    let limit = 2 * (lhs.len() + rhs.len()) + 2;
    while li < lhs.len() || ri < rhs.len() {
        guard += 1;
        if guard > limit {
            break;
        }
        if li < lhs.len() && ri < rhs.len() {
            let pe = &lhs[li];
            if *pe == rhs[ri] {
                merged_r.insert(pe);
                out.push(Source::Right(Some(li), ri));
                li += 1;
                ri += 1;
                next_shared = shared_iter.next();
                continue;
            }
            if in_r(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            let pe = &lhs[li];
            if !in_r(pe) {
                out.push(Source::Left(li));
                li += 1;
                continue;
            }
            if merged_r.contains(pe) {
                li += 1;
                continue;
            }
        }
        if ri < rhs.len() {
            let pe = &rhs[ri];
            merged_r.insert(pe);
            out.push(Source::Right(pos_l(pe), ri));
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared_iter.next();
            }
        } else {
            li += 1;
        }
    }
    out
}

/// The position of the first occurrence of each element.
fn first_positions(pes: &[PathElement]) -> BTreeMap<&PathElement, usize> {
    let mut m = BTreeMap::new();
    for (i, pe) in pes.iter().enumerate() {
        m.entry(pe).or_insert(i);
    }
    m
}

/// What changed between two objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Comparison {
    /// Paths present only in the new object (containers included).
    pub added: FieldSet,
    /// Leaf paths present in both with different values.
    pub modified: FieldSet,
    /// Paths present only in the old object (containers included).
    pub removed: FieldSet,
}

impl Comparison {
    /// Applies `keep` (which drops paths) to all three sets.
    pub(crate) fn filtered(self, keep: impl Fn(FieldSet) -> FieldSet) -> Comparison {
        Comparison {
            added: keep(self.added),
            modified: keep(self.modified),
            removed: keep(self.removed),
        }
    }
}

/// The shape of a value as the schema sees it.
enum Shape<'v> {
    Leaf,
    Map(&'v Map<String, Value>),
    List(&'v [Value], Vec<PathElement>),
}

fn shape<'v>(v: &'v Value, node: &Node<'_>) -> Shape<'v> {
    match v {
        Value::Object(m) if !node.atomic_map() => Shape::Map(m),
        Value::Array(items) => match list_elements(items, node, false, &[]) {
            Ok(Some(pes)) => Shape::List(items, pes),
            _ => Shape::Leaf,
        },
        _ => Shape::Leaf,
    }
}

/// Compares `old` with `new` (structured-merge-diff's `Compare`).
pub(crate) fn compare(old: &Value, new: &Value, node: Node<'_>) -> Comparison {
    let mut c = Comparison::default();
    walk_compare(Some(old), Some(new), node, &mut Vec::new(), true, &mut c);
    c
}

fn walk_compare(
    old: Option<&Value>,
    new: Option<&Value>,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
    at_root: bool,
    c: &mut Comparison,
) {
    match (old, new) {
        (None, None) => {}
        (None, Some(n)) => all_paths(n, node, path, at_root, &mut c.added),
        (Some(o), None) => all_paths(o, node, path, at_root, &mut c.removed),
        (Some(o), Some(n)) => match (shape(o, &node), shape(n, &node)) {
            (Shape::Map(om), Shape::Map(nm)) => {
                let keys = om.keys().chain(nm.keys().filter(|k| !om.contains_key(*k)));
                for k in keys {
                    let (cn, _) = node.field(k, at_root);
                    path.push(PathElement::Field(k.clone()));
                    walk_compare(om.get(k), nm.get(k), cn, path, false, c);
                    path.pop();
                }
            }
            (Shape::List(oi, op), Shape::List(ni, np)) => {
                let item_node = node.items();
                let keyed = matches!(node.list_kind(), ListKind::Map(_));
                let (index_o, index_n) = (first_positions(&op), first_positions(&np));
                let pes = op
                    .iter()
                    .chain(np.iter().filter(|pe| !index_o.contains_key(*pe)));
                for pe in pes {
                    let oi = index_o.get(pe).and_then(|&i| oi.get(i));
                    let ni = index_n.get(pe).and_then(|&i| ni.get(i));
                    path.push(pe.clone());
                    if keyed {
                        walk_compare(oi, ni, item_node, path, false, c);
                    } else if oi.is_none() {
                        c.added.insert(path);
                    } else if ni.is_none() {
                        c.removed.insert(path);
                    }
                    path.pop();
                }
            }
            _ => {
                if o != n {
                    c.modified.insert(path);
                }
            }
        },
    }
}

/// Every path of `v` (containers included) into `set`.
fn all_paths(
    v: &Value,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
    at_root: bool,
    set: &mut FieldSet,
) {
    match shape(v, &node) {
        Shape::Leaf => {}
        Shape::Map(m) => {
            for (k, child) in m {
                let (cn, _) = node.field(k, at_root);
                path.push(PathElement::Field(k.clone()));
                all_paths(child, cn, path, false, set);
                path.pop();
            }
        }
        Shape::List(items, pes) => {
            let item_node = node.items();
            let keyed = matches!(node.list_kind(), ListKind::Map(_));
            for (item, pe) in items.iter().zip(pes) {
                path.push(pe);
                if keyed {
                    all_paths(item, item_node, path, false, set);
                } else {
                    set.insert(path);
                }
                path.pop();
            }
        }
    }
    set.insert(path);
}

/// Removes from `merged` what the applying manager applied last time (`last`) and nobody owns
/// any more (`owned`, every manager's set including the new applied one), as
/// structured-merge-diff's `prune` does: a node of `last` goes when it, or an ancestor that is
/// itself in `last` or below a node of `last`, is not owned. Named struct fields count as owned
/// (and as last applied) when something below them is; list items and map entries do not.
/// `protected` top-level fields are never removed themselves.
pub(crate) fn prune(
    merged: &mut Value,
    node: Node<'_>,
    last: &FieldSet,
    owned: &FieldSet,
    protected: &[&str],
) {
    prune_level(
        merged,
        node,
        true,
        last,
        Some(owned),
        false,
        false,
        protected,
    );
}

#[allow(clippy::too_many_arguments)]
fn prune_level(
    v: &mut Value,
    node: Node<'_>,
    at_root: bool,
    last: &FieldSet,
    owned: Option<&FieldSet>,
    in_last: bool,
    unowned: bool,
    protected: &[&str],
) {
    match v {
        Value::Object(m) if !node.atomic_map() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let (cn, declared) = node.field(&k, at_root);
                let pe = PathElement::Field(k.clone());
                let l_sub = last.child(&pe);
                let o_sub = owned.and_then(|o| o.child(&pe));
                let l_member = last.has_member(&pe) || (declared && l_sub.is_some());
                let o_member =
                    owned.is_some_and(|o| o.has_member(&pe)) || (declared && o_sub.is_some());
                let chain = in_last || l_member;
                let trigger = unowned || (chain && !o_member);
                let keep_anyway = at_root && protected.contains(&k.as_str());
                if l_member && trigger && !keep_anyway {
                    m.shift_remove(&k);
                    continue;
                }
                if let (Some(l_sub), Some(child)) = (l_sub, m.get_mut(&k)) {
                    prune_level(child, cn, false, l_sub, o_sub, chain, trigger, protected);
                }
            }
        }
        Value::Array(items) => {
            let Ok(Some(pes)) = list_elements(items, &node, false, &[]) else {
                return;
            };
            let item_node = node.items();
            let keyed = matches!(node.list_kind(), ListKind::Map(_));
            let old = std::mem::take(items);
            for (mut item, pe) in old.into_iter().zip(pes) {
                let l_member = last.has_member(&pe);
                let o_member = owned.is_some_and(|o| o.has_member(&pe));
                let chain = in_last || l_member;
                let trigger = unowned || (chain && !o_member);
                if l_member && trigger {
                    continue;
                }
                if keyed && let Some(l_sub) = last.child(&pe) {
                    let o_sub = owned.and_then(|o| o.child(&pe));
                    prune_level(
                        &mut item, item_node, false, l_sub, o_sub, chain, trigger, protected,
                    );
                }
                items.push(item);
            }
        }
        _ => {}
    }
}

/// Removes the values at the member paths of `set` (with everything below them); with
/// `only_null`, only values that are `null`.
pub(crate) fn remove_paths(v: &mut Value, set: &FieldSet, node: Node<'_>, only_null: bool) {
    remove_level(v, set, node, true, only_null);
}

fn remove_level(v: &mut Value, set: &FieldSet, node: Node<'_>, at_root: bool, only_null: bool) {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let pe = PathElement::Field(k.clone());
                if set.has_member(&pe) && (!only_null || m.get(&k).is_some_and(Value::is_null)) {
                    m.shift_remove(&k);
                    continue;
                }
                if let (Some(sub), Some(child)) = (set.child(&pe), m.get_mut(&k)) {
                    let (cn, _) = node.field(&k, at_root);
                    remove_level(child, sub, cn, false, only_null);
                }
            }
        }
        Value::Array(items) => {
            let Ok(Some(pes)) = list_elements(items, &node, false, &[]) else {
                return;
            };
            let item_node = node.items();
            let old = std::mem::take(items);
            for (mut item, pe) in old.into_iter().zip(pes) {
                if set.has_member(&pe) && (!only_null || item.is_null()) {
                    continue;
                }
                if let Some(sub) = set.child(&pe) {
                    remove_level(&mut item, sub, item_node, false, only_null);
                }
                items.push(item);
            }
        }
        _ => {}
    }
}

/// Keeps only the values at or below the member paths of `keep` (containers on the way stay).
pub(crate) fn retain_paths(v: &mut Value, keep: &FieldSet, node: Node<'_>) {
    retain_level(v, keep, node, true);
}

fn retain_level(v: &mut Value, keep: &FieldSet, node: Node<'_>, at_root: bool) {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let pe = PathElement::Field(k.clone());
                if keep.has_member(&pe) {
                    continue;
                }
                match (keep.child(&pe), m.get_mut(&k)) {
                    (Some(sub), Some(child)) => {
                        let (cn, _) = node.field(&k, at_root);
                        retain_level(child, sub, cn, false);
                    }
                    _ => {
                        m.shift_remove(&k);
                    }
                }
            }
        }
        Value::Array(items) => {
            let Ok(Some(pes)) = list_elements(items, &node, false, &[]) else {
                items.clear();
                return;
            };
            let item_node = node.items();
            let old = std::mem::take(items);
            for (mut item, pe) in old.into_iter().zip(pes) {
                if keep.has_member(&pe) {
                    items.push(item);
                } else if let Some(sub) = keep.child(&pe) {
                    retain_level(&mut item, sub, item_node, false);
                    items.push(item);
                }
            }
        }
        _ => {}
    }
}
