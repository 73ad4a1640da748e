//! YAML merge keys (`<<: *defaults`), as Kubernetes' and Compose's YAML readers apply them: the
//! keys of the merged mapping (or of each mapping of a merged list, the first one winning) join the
//! mapping that holds `<<`, unless it sets them itself. Kept as a literal key, `<<` would hide every
//! setting it brings (a `securityContext` taken from an anchor) from the controls.

use crate::doc::{Map, Node, Value};

use super::{YamlError, error_at};

/// Applies every merge key of `node`, innermost first, so that a merged mapping brings its own
/// merges along. A `<<` whose value is not a mapping or a list of mappings is an error, as it is
/// for the readers that apply these documents.
pub fn resolve(node: &mut Node) -> Result<(), YamlError> {
    match &mut node.value {
        Value::List(items) => items.iter_mut().try_for_each(resolve),
        Value::Map(map) => {
            let mut own = Vec::with_capacity(map.len());
            let mut sources = Vec::new();
            for (key, key_pos, mut value) in std::mem::take(map).into_entries() {
                resolve(&mut value)?;
                if key != "<<" {
                    own.push((key, key_pos, value));
                    continue;
                }
                match value.value {
                    Value::Map(m) => sources.push(m),
                    Value::List(items) => {
                        for item in items {
                            match item.value {
                                Value::Map(m) => sources.push(m),
                                other => return Err(not_mergeable(item.pos, &other)),
                            }
                        }
                    }
                    other => return Err(not_mergeable(value.pos, &other)),
                }
            }
            let mut merged = Map::from_entries(own);
            for source in sources {
                for (key, key_pos, value) in source.into_entries() {
                    if !merged.contains_key(&key) {
                        merged.insert_with_key_pos(key, key_pos, value);
                    }
                }
            }
            *map = merged;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn not_mergeable(pos: crate::doc::Pos, value: &Value) -> YamlError {
    let name = value.type_name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    error_at(
        pos,
        format!("`<<` merges a mapping or a list of mappings, not {article} {name}"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::parse_documents;
    use crate::doc::Node;

    fn json(node: &Node) -> String {
        node.to_json().to_string()
    }

    #[test]
    fn merged_keys_join_the_mapping_unless_it_sets_them() {
        let docs = parse_documents(
            "base: &base {name: web, image: web:1, securityContext: &sc {privileged: false, runAsNonRoot: true}}\nc:\n  <<: *base\n  name: sidecar\n  securityContext:\n    <<: *sc\n    privileged: true\n",
        )
        .unwrap();
        let c = docs[0].get("c").unwrap();
        assert_eq!(
            json(c),
            r#"{"name":"sidecar","securityContext":{"privileged":true,"runAsNonRoot":true},"image":"web:1"}"#
        );
        // A merged value keeps the position it was written at.
        assert_eq!(c.get("image").unwrap().pos.line, 1);
    }

    #[test]
    fn a_list_of_mappings_merges_the_first_one_first() {
        let docs = parse_documents(
            "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  z: 3\nd:\n  <<:\n    w: 4\n",
        )
        .unwrap();
        assert_eq!(json(docs[0].get("c").unwrap()), r#"{"z":3,"x":1,"y":1}"#);
        // A merge written in block style, without an anchor, is one too.
        assert_eq!(json(docs[0].get("d").unwrap()), r#"{"w":4}"#);
    }

    #[test]
    fn only_mappings_merge() {
        let e = parse_documents("a: 1\nb:\n  <<: 1\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 7));
        assert!(e.message.contains("not an integer"), "{e:?}");
        let e = parse_documents("a: &a [1]\nb:\n  <<: [*a]\n").unwrap_err();
        assert!(e.message.contains("not a list"), "{e:?}");
    }
}
