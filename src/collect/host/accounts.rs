//! Kind `accounts`: users and groups as the root's passwd, shadow, group and gshadow files define
//! them, and the password policy of its login.defs. Each user and group is an element (`user
//! root`), so a control over `users[*]` reports each failing account at its own line.

use std::collections::{BTreeMap, HashMap};

use super::{Root, at, document};
use crate::collect::Document;
use crate::doc::{Map, Node, Pos, Value};

/// The facts of an `accounts` document.
pub const FIELDS: &[&str] = &[
    "users",
    "groups",
    "uid0_users",
    "unshadowed_users",
    "empty_password_users",
    "duplicate_uids",
    "duplicate_user_names",
    "duplicate_gids",
    "duplicate_group_names",
    "privileged_group_members",
    "login_defs",
];

/// Groups whose members can read secrets or become root.
const PRIVILEGED_GROUPS: [&str; 6] = ["root", "sudo", "wheel", "adm", "shadow", "disk"];

/// User and group names by id, from the root's own passwd and group files (not the scanning
/// machine's: a mounted image has its own).
pub struct IdNames {
    pub users: HashMap<u32, String>,
    pub groups: HashMap<u32, String>,
}

pub fn id_names(root: &Root<'_>) -> Result<IdNames, String> {
    // The first entry of an id names it, as getpwuid and getgrgid answer (root, not a later toor).
    let by_id = |text: &str| -> HashMap<u32, String> {
        let mut names = HashMap::new();
        for (_, f) in records(text) {
            if let (Some(id), Some(name)) = (
                f.get(2)
                    .and_then(|i| parse_id(i))
                    .and_then(|i| u32::try_from(i).ok()),
                f.first(),
            ) {
                names.entry(id).or_insert_with(|| name.to_string());
            }
        }
        names
    };
    Ok(IdNames {
        users: by_id(&root.read_required("/etc/passwd")?),
        groups: by_id(&root.read("/etc/group")?.unwrap_or_default()),
    })
}

/// The colon-separated records of a passwd-style file, with their 1-based line numbers; blank
/// lines, comments and NIS `+`/`-` lines are skipped.
fn records(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(n, line)| {
        let t = line.trim_end();
        (!t.is_empty() && !t.starts_with('#') && !t.starts_with(['+', '-']))
            .then(|| (n + 1, t.split(':').collect()))
    })
}

/// A uid or gid as glibc reads it: leading blanks and a `+` allowed, then decimal digits.
fn parse_id(field: &str) -> Option<i64> {
    let t = field.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u32>().ok().map(i64::from)
}

/// What a password field says: `hashed`, `empty` (anyone logs in without a password), `locked`
/// (`!` or `!!` before a hash or alone), `disabled` (`*`: no password login), or `shadowed`
/// (`x` in passwd: the hash is in shadow).
fn password_state(field: &str) -> &'static str {
    match field {
        "" => "empty",
        "x" => "shadowed",
        f if f.starts_with('!') => "locked",
        f if f.starts_with('*') => "disabled",
        _ => "hashed",
    }
}

pub fn collect(root: &Root<'_>) -> Result<Document, String> {
    let mut files: Vec<String> = Vec::new();
    let mut open = |abs: &str, required: bool| -> Result<Option<(String, u16)>, String> {
        let text = if required {
            Some(root.read_required(abs)?)
        } else {
            root.read(abs)?
        };
        Ok(text.map(|t| {
            files.push(abs.to_string());
            (t, files.len() as u16)
        }))
    };
    let passwd = open("/etc/passwd", true)?.unwrap_or_default();
    let shadow = open("/etc/shadow", false)?;
    let group = open("/etc/group", false)?;
    let login_defs = open("/etc/login.defs", false)?;

    // getspnam answers with the first entry of a name; a second one is reported as a duplicate.
    let mut shadow_entries: HashMap<&str, (usize, Vec<&str>)> = HashMap::new();
    let mut shadow_duplicates: Vec<String> = Vec::new();
    if let Some((t, _)) = &shadow {
        for (n, f) in records(t) {
            let Some(&name) = f.first() else { continue };
            if shadow_entries.contains_key(name) {
                shadow_duplicates.push(format!("{name} (twice in /etc/shadow)"));
            } else {
                shadow_entries.insert(name, (n, f));
            }
        }
    }
    let p = Pos::default();
    let mut users = Vec::new();
    let mut uid0 = Vec::new();
    let mut unshadowed = Vec::new();
    let mut empty = Vec::new();
    let mut uids: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut user_names: BTreeMap<String, usize> = BTreeMap::new();
    let mut primary: Vec<(String, i64)> = Vec::new();
    for (line, f) in records(&passwd.0) {
        let pos = at(passwd.1, line);
        let name = f.first().copied().unwrap_or_default();
        let field = |i: usize| f.get(i).copied().unwrap_or_default();
        let mut u = Map::new();
        u.set_label(format!("user {name}"));
        u.insert("name", Node::str(pos, name));
        let (uid, gid) = match (parse_id(field(2)), parse_id(field(3))) {
            (Some(u), Some(g)) => (Some(u), Some(g)),
            // A uid that is not a number cannot be judged (glibc would read ` 0` as root): the
            // whole accounts document is an error rather than a pass on a guess.
            _ => {
                return Err(format!(
                    "line {line} of /etc/passwd has a uid or gid that is not a number: {:?}",
                    f.iter().take(4).copied().collect::<Vec<_>>().join(":")
                ));
            }
        };
        for (key, id) in [("uid", uid), ("gid", gid)] {
            if let Some(id) = id {
                u.insert(key, Node::new(pos, Value::Int(id)));
            }
        }
        u.insert("home", Node::str(pos, field(5)));
        u.insert("shell", Node::str(pos, field(6)));
        let in_passwd = password_state(field(1));
        u.insert("passwd_field", Node::str(pos, in_passwd));
        if in_passwd != "shadowed" {
            unshadowed.push(Node::str(pos, name));
        }
        let mut state = in_passwd;
        if let Some((sline, s)) = shadow_entries.get(name) {
            let spos = at(shadow.as_ref().map_or(0, |s| s.1), *sline);
            // An empty passwd field lets pam_unix in without a password, whatever shadow holds.
            if in_passwd != "empty" {
                state = password_state(s.get(1).copied().unwrap_or_default());
            }
            for (i, key) in [
                (2, "last_change"),
                (3, "min_days"),
                (4, "max_days"),
                (5, "warn_days"),
                (6, "inactive_days"),
                (7, "expire"),
            ] {
                if let Some(v) = s.get(i).and_then(|v| v.parse::<i64>().ok()) {
                    u.insert(key, Node::new(spos, Value::Int(v)));
                }
            }
            u.insert("password", Node::str(spos, state));
        } else {
            u.insert("in_shadow", Node::new(pos, Value::Bool(false)));
            u.insert("password", Node::str(pos, state));
        }
        if state == "empty" {
            empty.push(Node::str(pos, name));
        }
        if uid == Some(0) {
            uid0.push(Node::str(pos, name));
        }
        if let Some(uid) = uid {
            uids.entry(uid).or_default().push(name.to_string());
        }
        if let Some(gid) = gid {
            primary.push((name.to_string(), gid));
        }
        *user_names.entry(name.to_string()).or_default() += 1;
        users.push(Node::new(pos, Value::Map(u)));
    }

    let mut groups = Vec::new();
    let mut gids: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut group_names: BTreeMap<String, usize> = BTreeMap::new();
    let mut privileged = Map::new();
    if let Some((text, file)) = &group {
        for (line, f) in records(text) {
            let pos = at(*file, line);
            let name = f.first().copied().unwrap_or_default();
            let gid = f.get(2).and_then(|g| parse_id(g));
            let mut members: Vec<String> = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let mut g = Map::new();
            g.set_label(format!("group {name}"));
            g.insert("name", Node::str(pos, name));
            if let Some(gid) = gid {
                g.insert("gid", Node::new(pos, Value::Int(gid)));
                gids.entry(gid).or_default().push(name.to_string());
            }
            let list = |m: &[String]| {
                Node::new(
                    pos,
                    Value::List(m.iter().map(|s| Node::str(pos, s.clone())).collect()),
                )
            };
            g.insert("members", list(&members));
            if PRIVILEGED_GROUPS.contains(&name) {
                // Users whose primary group it is are members too.
                for (user, _) in primary.iter().filter(|(_, pg)| Some(*pg) == gid) {
                    if !members.contains(user) {
                        members.push(user.clone());
                    }
                }
                privileged.insert(name.to_string(), list(&members));
            }
            *group_names.entry(name.to_string()).or_default() += 1;
            groups.push(Node::new(pos, Value::Map(g)));
        }
    }

    let strs = |v: Vec<String>| {
        Node::new(
            p,
            Value::List(v.into_iter().map(|s| Node::str(p, s)).collect()),
        )
    };
    let duplicates_by_id = |ids: &BTreeMap<i64, Vec<String>>, what: &str| {
        strs(
            ids.iter()
                .filter(|(_, names)| names.len() > 1)
                .map(|(id, names)| format!("{what} {id}: {}", names.join(", ")))
                .collect(),
        )
    };
    let duplicate_names = |names: &BTreeMap<String, usize>| {
        strs(
            names
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|(k, _)| k.clone())
                .collect(),
        )
    };

    let mut m = Map::new();
    m.insert("users", Node::new(p, Value::List(users)));
    m.insert("groups", Node::new(p, Value::List(groups)));
    m.insert("uid0_users", Node::new(p, Value::List(uid0)));
    m.insert("unshadowed_users", Node::new(p, Value::List(unshadowed)));
    m.insert("empty_password_users", Node::new(p, Value::List(empty)));
    m.insert("duplicate_uids", duplicates_by_id(&uids, "uid"));
    let mut names = duplicate_names(&user_names);
    if let Value::List(items) = &mut names.value {
        items.extend(shadow_duplicates.into_iter().map(|d| Node::str(p, d)));
    }
    m.insert("duplicate_user_names", names);
    m.insert("duplicate_gids", duplicates_by_id(&gids, "gid"));
    m.insert("duplicate_group_names", duplicate_names(&group_names));
    m.insert(
        "privileged_group_members",
        Node::new(p, Value::Map(privileged)),
    );
    if let Some((text, file)) = &login_defs {
        m.insert(
            "login_defs",
            Node::new(p, Value::Map(login_defs_map(text, *file))),
        );
    }
    Ok(document(Node::new(p, Value::Map(m)), files))
}

/// login.defs: `KEY value` lines; the last assignment of a key wins, as shadow-utils reads it.
fn login_defs_map(text: &str, file: u16) -> Map {
    let mut m = Map::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut parts = t.splitn(2, char::is_whitespace);
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let node = Node::str(at(file, n + 1), value.trim().trim_matches('"'));
        match m.get_mut(key) {
            Some(existing) => *existing = node,
            None => m.insert(key.to_string(), node),
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::password_state;

    #[test]
    fn ids_read_as_glibc_reads_them() {
        assert_eq!(super::parse_id(" 0"), Some(0));
        assert_eq!(super::parse_id("+1000"), Some(1000));
        assert_eq!(super::parse_id("x"), None);
        assert_eq!(super::parse_id(""), None);
    }

    #[test]
    fn password_fields() {
        assert_eq!(password_state(""), "empty");
        assert_eq!(password_state("x"), "shadowed");
        assert_eq!(password_state("!"), "locked");
        assert_eq!(password_state("!$6$abc"), "locked");
        assert_eq!(password_state("*"), "disabled");
        assert_eq!(password_state("$y$j9T$abc"), "hashed");
    }
}
