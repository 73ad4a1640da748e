//! Kind `limits`: the resource limits pam_limits applies at login, from
//! `/etc/security/limits.conf` and then the `limits.d/*.conf` drop-ins in lexical order, as
//! pam_limits reads them. Each line is an element (`limit * hard core`) with its file and line.

use super::{Root, at, document};
use crate::collect::Document;
use crate::doc::{Map, Node, Pos, Value};

const MAIN: &str = "/etc/security/limits.conf";
const DROPINS: &str = "/etc/security/limits.d";

pub fn collect(root: &Root<'_>) -> Result<Document, String> {
    let mut sources = vec![MAIN.to_string()];
    // A drop-in directory that exists but cannot be read could hold the line that matters.
    let entries = match std::fs::read_dir(root.followed(DROPINS)) {
        Ok(e) => e.flatten().collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {DROPINS}: {e}")),
    };
    let mut dropins: Vec<String> = entries
        .iter()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".conf").then(|| format!("{DROPINS}/{name}"))
        })
        .collect();
    dropins.sort();
    sources.extend(dropins);
    let mut files = Vec::new();
    let mut entries = Vec::new();
    for source in sources {
        let Some(text) = root.read(&source)? else {
            continue;
        };
        files.push(source);
        let file = u16::try_from(files.len()).unwrap_or(u16::MAX);
        for (n, line) in text.lines().enumerate() {
            let t = line.split('#').next().unwrap_or_default().trim();
            let f: Vec<&str> = t.split_whitespace().collect();
            let [domain, kind, item, value] = f[..] else {
                continue;
            };
            let pos = at(file, n + 1);
            let mut m = Map::new();
            m.set_label(format!("limit {domain} {kind} {item}"));
            m.insert("domain", Node::str(pos, domain));
            m.insert("type", Node::str(pos, kind));
            m.insert("item", Node::str(pos, item));
            m.insert("value", Node::str(pos, value));
            entries.push(Node::new(pos, Value::Map(m)));
        }
    }
    let mut m = Map::new();
    m.insert("entries", Node::new(Pos::default(), Value::List(entries)));
    Ok(document(Node::new(Pos::default(), Value::Map(m)), files))
}
