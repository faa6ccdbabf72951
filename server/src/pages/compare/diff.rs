//! The config diff: which settings tell a set of runs apart.

use std::collections::BTreeMap;

use serde_json::Value;

/// Nested objects as dotted keys: `{"aom": {"steps": 3}}` gives `aom.steps`.
/// Arrays and scalars are leaves, and so is an empty object, which would
/// otherwise vanish from the diff.
pub fn flatten(value: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    match value {
        Value::Object(map) if !map.is_empty() => flatten_into(map, "", &mut out),
        other => {
            out.insert(String::new(), other.clone());
        }
    }
    out
}

fn flatten_into(map: &serde_json::Map<String, Value>, prefix: &str, out: &mut BTreeMap<String, Value>) {
    for (key, value) in map {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(inner) if !inner.is_empty() && !crate::pages::is_expression(value) => flatten_into(inner, &path, out),
            leaf => {
                out.insert(path, leaf.clone());
            }
        }
    }
}

/// One key across the runs, in the order the configs were given.
#[derive(Debug, PartialEq)]
pub struct DiffRow {
    pub key: String,
    /// None where a run's config lacks the key.
    pub values: Vec<Option<Value>>,
    /// Whether the runs disagree; a key missing in some run disagrees.
    pub differs: bool,
}

/// Numbers compare by value, so `1` and `1.0` (as an older config may have
/// stored it) are the same setting.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Every key of any config, sorted, with each run's value.
pub fn diff(configs: &[Value]) -> Vec<DiffRow> {
    let flat: Vec<BTreeMap<String, Value>> = configs.iter().map(flatten).collect();
    let mut keys: Vec<&String> = flat.iter().flat_map(|f| f.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let values: Vec<Option<Value>> = flat.iter().map(|f| f.get(key).cloned()).collect();
            let differs = values.windows(2).any(|pair| match (&pair[0], &pair[1]) {
                (Some(a), Some(b)) => !same(a, b),
                (None, None) => false,
                _ => true,
            });
            DiffRow { key: key.clone(), values, differs }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_objects_become_dotted_keys() {
        let flat = flatten(&json!({"epochs": 10, "aom": {"steps": 3, "inner": {"x": true}}, "list": [1, 2], "empty": {}}));
        let keys: Vec<&str> = flat.keys().map(String::as_str).collect();
        assert_eq!(keys, ["aom.inner.x", "aom.steps", "empty", "epochs", "list"]);
        assert_eq!(flat["aom.steps"], json!(3));
        assert_eq!(flat["list"], json!([1, 2]), "arrays are leaves");
        assert_eq!(flat["empty"], json!({}), "an empty section is kept");
    }

    #[test]
    fn a_scalar_config_is_one_unnamed_leaf() {
        assert_eq!(flatten(&json!(null)).into_iter().collect::<Vec<_>>(), [(String::new(), json!(null))]);
    }

    #[test]
    fn only_disagreeing_keys_differ() {
        let rows = diff(&[
            json!({"method": "aom", "epochs": 10, "aom": {"steps": 3}}),
            json!({"method": "pgd_at", "epochs": 10.0, "aom": {"steps": 3}}),
        ]);
        let differing: Vec<&str> = rows.iter().filter(|r| r.differs).map(|r| r.key.as_str()).collect();
        assert_eq!(differing, ["method"], "1 and 1.0 are the same number");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].key, "aom.steps");
    }

    #[test]
    fn a_key_missing_from_one_run_differs() {
        let rows = diff(&[json!({"a": 1, "b": {"c": 2}}), json!({"a": 1}), json!({"a": 1, "b": {"c": 2}})]);
        let b = rows.iter().find(|r| r.key == "b.c").unwrap();
        assert!(b.differs);
        assert_eq!(b.values, [Some(json!(2)), None, Some(json!(2))]);
        assert!(!rows.iter().find(|r| r.key == "a").unwrap().differs);
    }

    #[test]
    fn a_section_that_became_a_value_differs_on_both_keys() {
        let rows = diff(&[json!({"eval": {"n": 100}}), json!({"eval": "all"})]);
        let keys: Vec<(&str, bool)> = rows.iter().map(|r| (r.key.as_str(), r.differs)).collect();
        assert_eq!(keys, [("eval", true), ("eval.n", true)]);
    }

    #[test]
    fn one_run_differs_from_nothing() {
        assert!(diff(&[json!({"a": 1})]).iter().all(|r| !r.differs));
        assert!(diff(&[]).is_empty());
    }

    #[test]
    fn strings_show_bare() {
        assert_eq!(crate::pages::value_text(&json!("aom")), "aom");
        assert_eq!(crate::pages::value_text(&json!(0.5)), "0.5");
        assert_eq!(crate::pages::value_text(&json!(null)), "null");
        assert_eq!(crate::pages::value_text(&json!([1, "a"])), r#"[1,"a"]"#);
    }
}
