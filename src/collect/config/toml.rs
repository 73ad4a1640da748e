//! TOML files, through the `toml` crate's span-keeping parser.

use toml::de::{DeTable, DeValue};

use super::ParseError;
use crate::doc::{Lines, Map, Node, Pos, Value};

/// Parses the text of a TOML file.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let table = DeTable::parse(text).map_err(|e| {
        let pos = e
            .span()
            .map_or(Pos::default(), |s| Pos::at_offset(text, s.start));
        ParseError::new(
            pos.line as usize,
            pos.col as usize,
            e.message().trim().to_string(),
        )
    })?;
    let lines = Lines::new(text);
    let pos = lines.pos(table.span().start);
    Ok(Node::new(
        pos,
        Value::Map(convert_table(&lines, table.get_ref())),
    ))
}

fn convert_table(text: &Lines<'_>, table: &DeTable<'_>) -> Map {
    let mut map = Map::new();
    for (k, v) in table.iter() {
        let key_pos = text.pos(k.span().start);
        map.insert_with_key_pos(
            k.get_ref().to_string(),
            key_pos,
            convert(text, v.get_ref(), v.span().start),
        );
    }
    map
}

fn convert(text: &Lines<'_>, v: &DeValue<'_>, offset: usize) -> Node {
    let pos = text.pos(offset);
    let value = match v {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Str(i.as_str().to_string())),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .map(Value::Float)
            .unwrap_or_else(|_| Value::Str(f.as_str().to_string())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Str(d.to_string()),
        DeValue::Array(items) => Value::List(
            items
                .iter()
                .map(|i| convert(text, i.get_ref(), i.span().start))
                .collect(),
        ),
        DeValue::Table(t) => Value::Map(convert_table(text, t)),
    };
    Node::new(pos, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_arrays_and_positions() {
        let d =
            parse("title = \"x\"\n[server]\nport = 8_080\ntls = true\nciphers = [\"a\", \"b\"]\n")
                .unwrap();
        let port = d.get("server").unwrap().get("port").unwrap();
        assert_eq!((&port.value, port.pos.line), (&Value::Int(8080), 3));
        assert_eq!(
            d.get("server")
                .unwrap()
                .get("ciphers")
                .unwrap()
                .as_list()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn reports_errors_with_position() {
        let e = parse("a = 1\nb = \n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }
}
