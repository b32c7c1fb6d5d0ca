//! JSON decoding that records duplicate object keys (for `fieldValidation`).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses JSON into a [`Value`] (last duplicate wins, as Go does) and lists duplicate-key paths.
pub fn from_slice(bytes: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    let mut dupes = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Seed {
        path: String::new(),
        dupes: &mut dupes,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((v, dupes))
}

struct Seed<'a> {
    path: String,
    dupes: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, out.len());
            match seq.next_element_seed(Seed {
                path,
                dupes: &mut *self.dupes,
            })? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{}", self.path, key)
            };
            if out.contains_key(&key) {
                self.dupes.push(path.clone());
            }
            let v = map.next_value_seed(Seed {
                path,
                dupes: &mut *self.dupes,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn duplicate_keys_are_reported_with_their_path_and_last_wins() {
        let (v, d) = super::from_slice(br#"{"spec":{"a":1,"a":2},"x":[{"b":1,"b":1}]}"#).unwrap();
        assert_eq!(v["spec"]["a"], 2);
        assert_eq!(d, vec!["spec.a", "x[0].b"]);
    }
}
