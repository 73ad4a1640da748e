//! A reader for one YAML mapping of a policy file that remembers which keys were used, so that every
//! key nobody asked for is reported as "unknown field", with a suggestion.

use super::diag::{Diagnostics, suggest};
use crate::doc::{Map, Node, Pos, Value};

/// Reads the fields of one mapping node (`what` names it in messages: "control", "target"...).
pub struct Fields<'n> {
    map: Option<&'n Map>,
    pos: Pos,
    what: &'static str,
    allowed: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// Starts reading `node`, which must be a mapping whose keys are all in `allowed`.
    pub fn new(
        node: &'n Node,
        what: &'static str,
        allowed: &[&'static str],
        diags: &mut Diagnostics,
    ) -> Fields<'n> {
        let map = node.as_map();
        if map.is_none() {
            diags.error(
                node.pos,
                format!("a {what} must be a mapping, found a {}", node.type_name()),
            );
        }
        let fields = Fields {
            map,
            pos: node.pos,
            what,
            allowed: allowed.to_vec(),
        };
        fields.check_unknown(diags);
        fields
    }

    /// Whether the node was a mapping at all (when it was not, an error is already recorded).
    pub fn is_map(&self) -> bool {
        self.map.is_some()
    }

    /// Position of the mapping itself.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    fn check_unknown(&self, diags: &mut Diagnostics) {
        let Some(map) = self.map else { return };
        for (key, key_pos, _) in map.iter_with_key_pos() {
            if !self.allowed.contains(&key) {
                diags.error(
                    key_pos,
                    format!(
                        "unknown field `{key}` in {}{}; expected one of: {}",
                        self.what,
                        suggest(key, self.allowed.iter().copied()),
                        self.allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// The raw node of a field, if present.
    pub fn node(&self, key: &str) -> Option<&'n Node> {
        self.map.and_then(|m| m.get(key))
    }

    /// A required field: records "missing field" when absent.
    pub fn require(&self, key: &str, diags: &mut Diagnostics) -> Option<&'n Node> {
        let node = self.node(key);
        if node.is_none() && self.map.is_some() {
            diags.error(
                self.pos,
                format!("{} is missing the required field `{key}`", self.what),
            );
        }
        node
    }

    /// An optional string field. Numbers and booleans are accepted as their text (`version: 1.2`).
    pub fn opt_str(&self, key: &str, diags: &mut Diagnostics) -> Option<String> {
        self.node(key).and_then(|n| string_of(n, key, diags))
    }

    /// A required string field.
    pub fn req_str(&self, key: &str, diags: &mut Diagnostics) -> Option<String> {
        self.require(key, diags)
            .and_then(|n| string_of(n, key, diags))
    }

    /// An optional list of strings; a single string is accepted as a list of one.
    pub fn str_list(&self, key: &str, diags: &mut Diagnostics) -> Vec<String> {
        match self.node(key) {
            None => Vec::new(),
            Some(n) => string_list(n, key, diags),
        }
    }

    /// An optional boolean field.
    pub fn opt_bool(&self, key: &str, diags: &mut Diagnostics) -> Option<bool> {
        let node = self.node(key)?;
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                diags.error(
                    node.pos,
                    format!("`{key}` must be true or false, found {}", describe(node)),
                );
                None
            }
        }
    }
}

/// The text of a scalar field; lists and maps are errors.
pub fn string_of(node: &Node, key: &str, diags: &mut Diagnostics) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => node.value.scalar_text(),
        _ => {
            diags.error(
                node.pos,
                format!("`{key}` must be a string, found {}", describe(node)),
            );
            None
        }
    }
}

/// A list of strings; a lone scalar counts as a list of one.
pub fn string_list(node: &Node, key: &str, diags: &mut Diagnostics) -> Vec<String> {
    match &node.value {
        Value::List(items) => items
            .iter()
            .filter_map(|n| string_of(n, key, diags))
            .collect(),
        _ => string_of(node, key, diags).into_iter().collect(),
    }
}

/// "a list", "the string \"x\"": how a found value is named in messages.
pub fn describe(node: &Node) -> String {
    match &node.value {
        Value::List(_) | Value::Map(_) | Value::Null => format!("a {}", node.type_name()),
        v => format!("the {} `{v}`", node.type_name()),
    }
}
