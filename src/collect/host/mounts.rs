//! Kind `mounts`: the filesystems mounted on the host, keyed by mount point: what the kernel has
//! mounted (`/proc/self/mounts`) on the live machine, what `/etc/fstab` mounts at boot under
//! `--root DIR`. Each has its device, type and options (`options` as a list, for `contains`).

use super::{Root, at, document};
use crate::collect::Document;
use crate::doc::{Map, Node, Pos, Value};

pub fn collect(root: &Root<'_>) -> Result<Document, String> {
    let (abs, text) = if root.live {
        (
            "/proc/self/mounts",
            root.read_required("/proc/self/mounts")?,
        )
    } else {
        ("/etc/fstab", root.read("/etc/fstab")?.unwrap_or_default())
    };
    let mut map = Map::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = t.split_whitespace().collect();
        let (Some(device), Some(point), Some(fstype)) = (f.first(), f.get(1), f.get(2)) else {
            continue;
        };
        if *fstype == "swap" || *point == "none" {
            continue;
        }
        let pos = at(1, n + 1);
        let point = unescape(point);
        let options: Vec<Node> = effective_options(f.get(3).unwrap_or(&"defaults"))
            .into_iter()
            .map(|o| Node::str(pos, o))
            .collect();
        let mut m = Map::new();
        m.set_label(format!("mount {point}"));
        m.insert("device", Node::str(pos, unescape(device)));
        m.insert("fstype", Node::str(pos, *fstype));
        m.insert("options", Node::new(pos, Value::List(options)));
        // A later mount on the same point hides the earlier one, as the kernel stacks them.
        let node = Node::new(pos, Value::Map(m));
        match map.get_mut(&point) {
            Some(existing) => *existing = node,
            None => map.insert(point, node),
        }
    }
    Ok(document(
        Node::new(Pos::default(), Value::Map(map)),
        vec![abs.to_string()],
    ))
}

/// Pairs of options where the later one wins (`nodev,dev` mounts with devices).
const OPPOSITES: [(&str, &str); 5] = [
    ("nodev", "dev"),
    ("nosuid", "suid"),
    ("noexec", "exec"),
    ("ro", "rw"),
    ("noauto", "auto"),
];

/// The options a mount ends up with, as mount(8) applies them left to right: of each pair of
/// opposites only the last written stays; `defaults` stands for `rw,suid,dev,exec,auto`.
fn effective_options(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let expanded = list.split(',').flat_map(|o| match o {
        "defaults" => vec!["rw", "suid", "dev", "exec", "auto"],
        other => vec![other],
    });
    for o in expanded.filter(|o| !o.is_empty()) {
        if let Some((a, b)) = OPPOSITES.iter().find(|(a, b)| *a == o || *b == o) {
            out.retain(|x| x != a && x != b);
        } else {
            out.retain(|x| x != o);
        }
        out.push(o.to_string());
    }
    out
}

/// Mount tables escape blanks and backslashes as octal (`\040`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn later_options_win() {
        assert_eq!(
            super::effective_options("nodev,nosuid,noexec,exec,suid,dev"),
            ["exec", "suid", "dev"]
        );
        assert_eq!(
            super::effective_options("defaults,nodev"),
            ["rw", "suid", "exec", "auto", "nodev"]
        );
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape("/tmp"), "/tmp");
    }
}
