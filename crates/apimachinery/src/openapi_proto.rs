//! The Swagger 2.0 document in protobuf: gnostic's `openapi.v2.Document` wire format.
//!
//! kubectl ≤ 1.28 downloads `/openapi/v2` with
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decodes the body
//! with `proto.Unmarshal` into gnostic's `openapi_v2.Document` (field numbers from gnostic's
//! `openapiv2/OpenAPIv2.proto`). [`v2_protobuf`] converts the JSON document
//! [`crate::openapi::v2_document`] builds into that message with a small hand-rolled encoder:
//! varints and length-delimited fields, nothing more is needed. Vendor extensions become
//! `NamedAny { name, value: Any { yaml } }` where `yaml` is the value's JSON text (JSON is
//! YAML), as kube-openapi reads `x-kubernetes-group-version-kind` from them.

use serde_json::{Map, Value};

/// The media type kubectl asks `/openapi/v2` for.
pub const V2_PROTOBUF_MEDIA_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The same type with `.` for `@`: what kube-apiserver labels the response with (Go's `mime`
/// parser rejects the `@` in a `Content-Type`), and which it also accepts in `Accept`.
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Appends `v` as a protobuf base-128 varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Wire type of varint fields.
const VARINT: u64 = 0;
/// Wire type of 64-bit fields (`double`).
const FIXED64: u64 = 1;
/// Wire type of length-delimited fields (strings, messages).
const LEN: u64 = 2;

/// A protobuf message being written, field by field.
#[derive(Debug, Default)]
pub struct Message {
    buf: Vec<u8>,
}

impl Message {
    /// An empty message.
    pub fn new() -> Message {
        Message::default()
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn tag(&mut self, field: u32, wire: u64) {
        put_varint(&mut self.buf, (u64::from(field) << 3) | wire);
    }

    /// A length-delimited field holding `bytes` (written even when empty).
    pub fn bytes(&mut self, field: u32, bytes: &[u8]) -> &mut Self {
        self.tag(field, LEN);
        put_varint(&mut self.buf, bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A `string` field; empty strings are omitted as proto3 does.
    pub fn string(&mut self, field: u32, s: &str) -> &mut Self {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
        self
    }

    /// An embedded message field (present even when `m` is empty).
    pub fn message(&mut self, field: u32, m: Message) -> &mut Self {
        self.bytes(field, &m.buf)
    }

    /// A `bool` field; `false` is omitted.
    pub fn boolean(&mut self, field: u32, b: bool) -> &mut Self {
        if b {
            self.tag(field, VARINT);
            put_varint(&mut self.buf, 1);
        }
        self
    }

    /// An `int64` field; zero is omitted, negatives take ten bytes.
    pub fn int64(&mut self, field: u32, v: i64) -> &mut Self {
        if v != 0 {
            self.tag(field, VARINT);
            put_varint(&mut self.buf, v as u64);
        }
        self
    }

    /// A `double` field; zero is omitted.
    pub fn double(&mut self, field: u32, v: f64) -> &mut Self {
        if v != 0.0 {
            self.tag(field, FIXED64);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self
    }
}

/// Encodes the Swagger 2.0 JSON document `doc` as gnostic `openapi.v2.Document`.
pub fn v2_protobuf(doc: &Value) -> Vec<u8> {
    let mut m = Message::new();
    m.string(1, str_of(doc, "swagger"));
    if let Some(info) = doc.get("info").and_then(Value::as_object) {
        let mut i = Message::new();
        i.string(1, str_in(info, "title"))
            .string(2, str_in(info, "version"))
            .string(3, str_in(info, "description"));
        extensions(&mut i, 7, info);
        m.message(2, i);
    }
    m.string(3, str_of(doc, "host"));
    m.string(4, str_of(doc, "basePath"));
    strings(&mut m, 5, doc.get("schemes"));
    strings(&mut m, 6, doc.get("consumes"));
    strings(&mut m, 7, doc.get("produces"));
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        let mut p = Message::new();
        for (name, item) in paths {
            if name.starts_with("x-") {
                p.message(1, named_any(name, item));
            } else if let Some(item) = item.as_object() {
                p.message(2, named(name, path_item(item)));
            }
        }
        m.message(8, p);
    }
    if let Some(defs) = doc.get("definitions").and_then(Value::as_object) {
        let mut d = Message::new();
        for (name, s) in defs {
            d.message(1, named(name, schema(s)));
        }
        m.message(9, d);
    }
    if let Some(security) = doc.get("security").and_then(Value::as_array) {
        for req in security {
            m.message(12, security_requirement(req));
        }
    }
    if let Some(defs) = doc.get("securityDefinitions").and_then(Value::as_object) {
        let mut d = Message::new();
        for (name, def) in defs {
            if let Some(item) = security_definition(def) {
                d.message(1, named(name, item));
            }
        }
        m.message(13, d);
    }
    if let Some(o) = doc.as_object() {
        extensions(&mut m, 16, o);
    }
    m.into_bytes()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn str_in<'a>(o: &'a Map<String, Value>, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A repeated `string` field from a JSON array of strings.
fn strings(m: &mut Message, field: u32, v: Option<&Value>) {
    for s in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = s.as_str() {
            m.bytes(field, s.as_bytes());
        }
    }
}

/// A `NamedX { name = 1; value = 2; }` message.
fn named(name: &str, value: Message) -> Message {
    let mut m = Message::new();
    m.string(1, name).message(2, value);
    m
}

/// `Any { yaml = 2 }` holding `v`'s JSON text.
fn any(v: &Value) -> Message {
    let mut m = Message::new();
    m.string(2, &v.to_string());
    m
}

fn named_any(name: &str, v: &Value) -> Message {
    named(name, any(v))
}

/// Every `x-` key of `o` as a repeated `NamedAny` field.
fn extensions(m: &mut Message, field: u32, o: &Map<String, Value>) {
    for (k, v) in o {
        if k.starts_with("x-") {
            m.message(field, named_any(k, v));
        }
    }
}

fn int_in(o: &Map<String, Value>, key: &str) -> i64 {
    o.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn f64_in(o: &Map<String, Value>, key: &str) -> f64 {
    o.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn bool_in(o: &Map<String, Value>, key: &str) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// `openapi.v2.Schema` from a JSON schema (a non-object encodes as an empty schema).
pub fn schema(v: &Value) -> Message {
    let mut m = Message::new();
    let Some(o) = v.as_object() else {
        return m;
    };
    m.string(1, str_in(o, "$ref"))
        .string(2, str_in(o, "format"))
        .string(3, str_in(o, "title"))
        .string(4, str_in(o, "description"));
    if let Some(d) = o.get("default") {
        m.message(5, any(d));
    }
    m.double(6, f64_in(o, "multipleOf"));
    if o.contains_key("maximum") {
        m.double(7, f64_in(o, "maximum"));
    }
    m.boolean(8, bool_in(o, "exclusiveMaximum"));
    if o.contains_key("minimum") {
        m.double(9, f64_in(o, "minimum"));
    }
    m.boolean(10, bool_in(o, "exclusiveMinimum"))
        .int64(11, int_in(o, "maxLength"))
        .int64(12, int_in(o, "minLength"))
        .string(13, str_in(o, "pattern"))
        .int64(14, int_in(o, "maxItems"))
        .int64(15, int_in(o, "minItems"))
        .boolean(16, bool_in(o, "uniqueItems"))
        .int64(17, int_in(o, "maxProperties"))
        .int64(18, int_in(o, "minProperties"));
    strings(&mut m, 19, o.get("required"));
    for e in o
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    match o.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut a = Message::new();
            a.tag(2, VARINT);
            put_varint(&mut a.buf, u64::from(*b));
            m.message(21, a);
        }
        Some(s @ Value::Object(_)) => {
            let mut a = Message::new();
            a.message(1, schema(s));
            m.message(21, a);
        }
        _ => {}
    }
    match o.get("type") {
        Some(Value::String(t)) => {
            let mut t_m = Message::new();
            t_m.bytes(1, t.as_bytes());
            m.message(22, t_m);
        }
        Some(Value::Array(ts)) => {
            let mut t_m = Message::new();
            for t in ts.iter().filter_map(Value::as_str) {
                t_m.bytes(1, t.as_bytes());
            }
            m.message(22, t_m);
        }
        _ => {}
    }
    match o.get("items") {
        Some(Value::Array(items)) => {
            let mut i = Message::new();
            for s in items {
                i.message(1, schema(s));
            }
            m.message(23, i);
        }
        Some(s @ Value::Object(_)) => {
            let mut i = Message::new();
            i.message(1, schema(s));
            m.message(23, i);
        }
        _ => {}
    }
    for s in o
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(s));
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        let mut p = Message::new();
        for (name, s) in props {
            p.message(1, named(name, schema(s)));
        }
        m.message(25, p);
    }
    m.string(26, str_in(o, "discriminator"))
        .boolean(27, bool_in(o, "readOnly"));
    if let Some(e) = o.get("example") {
        m.message(30, any(e));
    }
    extensions(&mut m, 31, o);
    m
}

/// `openapi.v2.PathItem`.
fn path_item(o: &Map<String, Value>) -> Message {
    let mut m = Message::new();
    m.string(1, str_in(o, "$ref"));
    for (method, field) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("options", 6),
        ("head", 7),
        ("patch", 8),
    ] {
        if let Some(op) = o.get(method).and_then(Value::as_object) {
            m.message(field, operation(op));
        }
    }
    for p in o
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(9, parameters_item(p));
    }
    extensions(&mut m, 10, o);
    m
}

/// `openapi.v2.Operation`.
fn operation(o: &Map<String, Value>) -> Message {
    let mut m = Message::new();
    strings(&mut m, 1, o.get("tags"));
    m.string(2, str_in(o, "summary"))
        .string(3, str_in(o, "description"))
        .string(5, str_in(o, "operationId"));
    strings(&mut m, 6, o.get("produces"));
    strings(&mut m, 7, o.get("consumes"));
    for p in o
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameters_item(p));
    }
    if let Some(responses) = o.get("responses").and_then(Value::as_object) {
        let mut r = Message::new();
        for (code, resp) in responses {
            if code.starts_with("x-") {
                r.message(2, named_any(code, resp));
            } else {
                r.message(1, named(code, response_value(resp)));
            }
        }
        m.message(9, r);
    }
    strings(&mut m, 10, o.get("schemes"));
    m.boolean(11, bool_in(o, "deprecated"));
    if let Some(security) = o.get("security").and_then(Value::as_array) {
        for req in security {
            m.message(12, security_requirement(req));
        }
    }
    extensions(&mut m, 13, o);
    m
}

/// `openapi.v2.ResponseValue` (a `Response` or a `JsonReference`).
fn response_value(v: &Value) -> Message {
    let mut m = Message::new();
    let Some(o) = v.as_object() else {
        return m;
    };
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        let mut j = Message::new();
        j.string(1, r);
        m.message(2, j);
        return m;
    }
    let mut r = Message::new();
    r.string(1, str_in(o, "description"));
    if let Some(s) = o.get("schema") {
        let mut item = Message::new();
        item.message(1, schema(s));
        r.message(2, item);
    }
    extensions(&mut r, 5, o);
    m.message(1, r);
    m
}

/// `openapi.v2.ParametersItem`: a body or non-body `Parameter`, or a `JsonReference`.
fn parameters_item(v: &Value) -> Message {
    let mut m = Message::new();
    let Some(o) = v.as_object() else {
        return m;
    };
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        let mut j = Message::new();
        j.string(1, r);
        m.message(2, j);
        return m;
    }
    let location = str_in(o, "in");
    let mut parameter = Message::new();
    if location == "body" {
        let mut b = Message::new();
        b.string(1, str_in(o, "description"))
            .string(2, str_in(o, "name"))
            .string(3, location)
            .boolean(4, bool_in(o, "required"));
        if let Some(s) = o.get("schema") {
            b.message(5, schema(s));
        }
        extensions(&mut b, 6, o);
        parameter.message(1, b);
    } else {
        // Header and path sub-schemas have no allowEmptyValue: their later fields sit one lower.
        let (which, shift, ext) = match location {
            "header" => (1, 0, 22),
            "formData" => (2, 1, 23),
            "path" => (4, 0, 22),
            _ => (3, 1, 23),
        };
        let mut s = Message::new();
        s.boolean(1, bool_in(o, "required"))
            .string(2, location)
            .string(3, str_in(o, "description"))
            .string(4, str_in(o, "name"));
        if shift == 1 {
            s.boolean(5, bool_in(o, "allowEmptyValue"));
        }
        s.string(5 + shift, str_in(o, "type"))
            .string(6 + shift, str_in(o, "format"))
            .string(8 + shift, str_in(o, "collectionFormat"))
            .boolean(19 + shift, bool_in(o, "uniqueItems"));
        if let Some(d) = o.get("default") {
            s.message(9 + shift, any(d));
        }
        for e in o
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            s.message(20 + shift, any(e));
        }
        extensions(&mut s, ext, o);
        let mut nb = Message::new();
        nb.message(which, s);
        parameter.message(2, nb);
    }
    m.message(1, parameter);
    m
}

/// `openapi.v2.SecurityRequirement` from `{name: [scopes]}`.
fn security_requirement(v: &Value) -> Message {
    let mut m = Message::new();
    for (name, scopes) in v.as_object().into_iter().flatten() {
        let mut a = Message::new();
        strings(&mut a, 1, Some(scopes));
        m.message(1, named(name, a));
    }
    m
}

/// `openapi.v2.SecurityDefinitionsItem`; only API-key and basic schemes are encoded.
fn security_definition(v: &Value) -> Option<Message> {
    let o = v.as_object()?;
    let mut item = Message::new();
    match str_in(o, "type") {
        "apiKey" => {
            let mut k = Message::new();
            k.string(1, "apiKey")
                .string(2, str_in(o, "name"))
                .string(3, str_in(o, "in"))
                .string(4, str_in(o, "description"));
            extensions(&mut k, 5, o);
            item.message(2, k);
        }
        "basic" => {
            let mut b = Message::new();
            b.string(1, "basic").string(2, str_in(o, "description"));
            extensions(&mut b, 3, o);
            item.message(1, b);
        }
        _ => return None,
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A decoded field: number and either a varint or the length-delimited bytes.
    #[derive(Debug, PartialEq)]
    enum F {
        V(u64),
        D(u64),
        B(Vec<u8>),
    }

    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*i];
            *i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }

    fn decode(b: &[u8]) -> Vec<(u32, F)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let tag = varint(b, &mut i);
            let field = (tag >> 3) as u32;
            match tag & 7 {
                0 => out.push((field, F::V(varint(b, &mut i)))),
                1 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&b[i..i + 8]);
                    i += 8;
                    out.push((field, F::D(u64::from_le_bytes(a))));
                }
                2 => {
                    let n = varint(b, &mut i) as usize;
                    out.push((field, F::B(b[i..i + n].to_vec())));
                    i += n;
                }
                w => panic!("wire type {w}"),
            }
        }
        out
    }

    fn bytes_of(fields: &[(u32, F)], n: u32) -> Vec<Vec<u8>> {
        fields
            .iter()
            .filter(|(f, _)| *f == n)
            .filter_map(|(_, v)| match v {
                F::B(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    fn one(fields: &[(u32, F)], n: u32) -> Vec<u8> {
        let all = bytes_of(fields, n);
        assert_eq!(all.len(), 1, "field {n} of {fields:?}");
        all[0].clone()
    }

    fn text(fields: &[(u32, F)], n: u32) -> String {
        String::from_utf8(one(fields, n)).unwrap()
    }

    #[test]
    fn varints() {
        let enc = |v| {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            b
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(1), [1]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x80, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
        let mut i = 0;
        assert_eq!(varint(&enc(123_456_789), &mut i), 123_456_789);
    }

    #[test]
    fn fields_and_defaults() {
        let mut m = Message::new();
        m.string(1, "")
            .string(2, "a")
            .boolean(3, false)
            .boolean(4, true);
        m.int64(5, -1).double(6, 1.5);
        let f = decode(&m.into_bytes());
        assert_eq!(
            f,
            vec![
                (2, F::B(b"a".to_vec())),
                (4, F::V(1)),
                (5, F::V(u64::MAX)),
                (6, F::D(1.5f64.to_bits())),
            ]
        );
    }

    #[test]
    fn tiny_document_decodes_field_by_field() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1"},
            "paths": {
                "/apis/g/v1/things": {
                    "parameters": [{"name": "pretty", "in": "query", "type": "string", "uniqueItems": true}],
                    "patch": {
                        "operationId": "patchThing",
                        "parameters": [
                            {"name": "body", "in": "body", "required": true, "schema": {"type": "object"}},
                            {"name": "fieldValidation", "in": "query", "type": "string"}
                        ],
                        "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/g.v1.Thing"}}},
                        "x-kubernetes-action": "patch",
                        "x-kubernetes-group-version-kind": {"group": "g", "version": "v1", "kind": "Thing"}
                    }
                }
            },
            "definitions": {
                "g.v1.Thing": {
                    "description": "A thing.",
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "spec": {"$ref": "#/definitions/g.v1.Spec"},
                        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "size": {"type": "integer", "format": "int64"}
                    },
                    "x-kubernetes-group-version-kind": [{"group": "g", "kind": "Thing", "version": "v1"}]
                }
            },
        });
        let d = decode(&v2_protobuf(&doc));
        assert_eq!(text(&d, 1), "2.0");
        let info = decode(&one(&d, 2));
        assert_eq!(text(&info, 1), "Kubernetes");
        assert_eq!(text(&info, 2), "v1");

        // Paths → NamedPathItem → PathItem.
        let paths = decode(&one(&d, 8));
        let item = decode(&one(&paths, 2));
        assert_eq!(text(&item, 1), "/apis/g/v1/things");
        let item = decode(&one(&item, 2));
        // Path-level query parameter: ParametersItem.parameter.non_body.query.
        let p = decode(&one(&item, 9));
        let p = decode(&one(&p, 1));
        let nb = decode(&one(&p, 2));
        let q = decode(&one(&nb, 3));
        assert_eq!(text(&q, 2), "query");
        assert_eq!(text(&q, 4), "pretty");
        assert_eq!(text(&q, 6), "string");
        assert!(q.contains(&(20, F::V(1))));
        let patch = decode(&one(&item, 8));
        assert_eq!(text(&patch, 5), "patchThing");
        let params = bytes_of(&patch, 8);
        assert_eq!(params.len(), 2);
        let body = decode(&one(&decode(&one(&decode(&params[0]), 1)), 1));
        assert_eq!(text(&body, 2), "body");
        assert_eq!(text(&body, 3), "body");
        assert!(body.contains(&(4, F::V(1))));
        let fv = decode(&one(&decode(&one(&decode(&params[1]), 1)), 2));
        let fv = decode(&one(&fv, 3));
        assert_eq!(text(&fv, 4), "fieldValidation");
        let responses = decode(&one(&patch, 9));
        let ok = decode(&one(&responses, 1));
        assert_eq!(text(&ok, 1), "200");
        let resp = decode(&one(&decode(&one(&ok, 2)), 1));
        assert_eq!(text(&resp, 1), "OK");
        let s = decode(&one(&decode(&one(&resp, 2)), 1));
        assert_eq!(text(&s, 1), "#/definitions/g.v1.Thing");
        let exts = bytes_of(&patch, 13);
        assert_eq!(exts.len(), 2);
        let gvk = decode(&exts[1]);
        assert_eq!(text(&gvk, 1), "x-kubernetes-group-version-kind");
        let any = decode(&one(&gvk, 2));
        let yaml = text(&any, 2);
        assert_eq!(
            serde_json::from_str::<Value>(&yaml).unwrap(),
            json!({"group": "g", "version": "v1", "kind": "Thing"})
        );

        // Definitions → NamedSchema → Schema.
        let defs = decode(&one(&d, 9));
        let named = decode(&one(&defs, 1));
        assert_eq!(text(&named, 1), "g.v1.Thing");
        let thing = decode(&one(&named, 2));
        assert_eq!(text(&thing, 4), "A thing.");
        assert_eq!(text(&thing, 19), "spec");
        assert_eq!(text(&decode(&one(&thing, 22)), 1), "object");
        let ext = decode(&one(&thing, 31));
        assert_eq!(text(&ext, 1), "x-kubernetes-group-version-kind");
        let yaml = text(&decode(&one(&ext, 2)), 2);
        assert_eq!(
            serde_json::from_str::<Value>(&yaml).unwrap(),
            json!([{"group": "g", "kind": "Thing", "version": "v1"}])
        );
        let props = bytes_of(&decode(&one(&thing, 25)), 1);
        assert_eq!(props.len(), 4);
        let spec = decode(&props[0]);
        assert_eq!(text(&spec, 1), "spec");
        assert_eq!(text(&decode(&one(&spec, 2)), 1), "#/definitions/g.v1.Spec");
        let tags = decode(&one(&decode(&props[1]), 2));
        assert_eq!(text(&decode(&one(&tags, 22)), 1), "array");
        let item = decode(&one(&decode(&one(&tags, 23)), 1));
        assert_eq!(text(&decode(&one(&item, 22)), 1), "string");
        let enums: Vec<String> = bytes_of(&item, 20)
            .iter()
            .map(|a| text(&decode(a), 2))
            .collect();
        assert_eq!(enums, ["\"a\"", "\"b\""]);
        let labels = decode(&one(&decode(&props[2]), 2));
        let ap = decode(&one(&labels, 21));
        let ap = decode(&one(&ap, 1));
        assert_eq!(text(&decode(&one(&ap, 22)), 1), "string");
        let size = decode(&one(&decode(&props[3]), 2));
        assert_eq!(text(&size, 2), "int64");
    }

    #[test]
    fn additional_properties_false_and_empty_properties_are_present() {
        let s =
            decode(&schema(&json!({"additionalProperties": false, "properties": {}})).into_bytes());
        assert_eq!(one(&s, 21), vec![0x10, 0x00]);
        assert_eq!(one(&s, 25), Vec::<u8>::new());
    }
}
