//! OpenSSH server configuration (`sshd_config`).
//!
//! Follows sshd's own reading rules, so that the facts say what sshd would actually do:
//! - keywords are case-insensitive (the document's keys are lowercase, as `sshd -T` prints them, and
//!   lookups ignore case, so a policy may write `PermitRootLogin`);
//! - for most keywords the first value wins; keywords that accumulate (`Port`, `HostKey`,
//!   `AllowUsers`...) become lists of every value;
//! - `Match` blocks do not change the global settings: each one is kept under `match` with its
//!   criteria and its own settings;
//! - `Include` is read in place, glob matches in lexical order, so a drop-in's first value wins over
//!   a later line of the main file; a `Match` in an included file ends with that file; a pattern
//!   that matches nothing is skipped, as sshd skips it. A relative pattern is resolved against the
//!   main file's directory (sshd's `/etc/ssh`); an absolute one inside the scanned tree when the main
//!   file sits at the same place there (`Include /etc/ssh/sshd_config.d/*.conf` in
//!   `ROOT/etc/ssh/sshd_config` reads `ROOT/etc/ssh/sshd_config.d/`);
//! - algorithm lists that start with `+`, `-` or `^` are resolved against OpenSSH's defaults
//!   (append, remove matching, prepend), so the fact is the list sshd would offer.

use std::path::{Path, PathBuf};

use std::io::ErrorKind;

use super::{ParseError, include, sshd_algorithms as algorithms};
use crate::collect::gate::{Gate, GateError};
use crate::doc::{Map, Node, Pos, Value};

/// Keywords whose every occurrence adds to a list rather than being ignored after the first.
const ACCUMULATING: [&str; 11] = [
    "acceptenv",
    "allowgroups",
    "allowusers",
    "denygroups",
    "denyusers",
    "hostcertificate",
    "hostkey",
    "listenaddress",
    "port",
    "setenv",
    "subsystem",
];

/// How deep `Include` may nest, as in sshd.
const MAX_INCLUDE_DEPTH: usize = 16;

/// The parsed configuration plus the files it included, in the order they were read.
#[derive(Debug)]
pub struct Parsed {
    /// The fact document.
    pub root: Node,
    /// Included files; a value with `pos.file == n` came from `included[n - 1]`.
    pub included: Vec<PathBuf>,
}

/// Parses `text`, read from `path`; included files are opened through `gate`.
pub fn parse(path: &Path, text: &str, gate: &Gate) -> Result<Parsed, ParseError> {
    let mut state = State {
        gate,
        base: path.parent().unwrap_or(Path::new("")).to_path_buf(),
        global: Map::case_insensitive(),
        matches: Vec::new(),
        current: None,
        included: Vec::new(),
        includes: Vec::new(),
    };
    state.read(text, 0, 0)?;
    let mut root = state.global;
    if !state.includes.is_empty() {
        root.insert(
            "include",
            Node::new(Pos::line(0), Value::List(state.includes)),
        );
    }
    if !state.matches.is_empty() {
        let blocks = state
            .matches
            .into_iter()
            .map(|(pos, criteria, settings)| {
                let mut m = Map::new();
                m.set_label(format!("Match {criteria}"));
                m.insert("criteria", Node::str(pos, criteria));
                m.insert("settings", Node::new(pos, Value::Map(settings)));
                Node::new(pos, Value::Map(m))
            })
            .collect();
        root.insert("match", Node::new(Pos::line(0), Value::List(blocks)));
    }
    Ok(Parsed {
        root: Node::new(Pos::line(1), Value::Map(root)),
        included: state.included,
    })
}

struct State<'g> {
    gate: &'g Gate,
    /// The main file's directory: what sshd's `/etc/ssh` is for this configuration.
    base: PathBuf,
    global: Map,
    /// `Match` blocks: where each starts, its criteria, its settings.
    matches: Vec<(Pos, String, Map)>,
    /// The `Match` block lines now belong to (`None`: the global settings).
    current: Option<usize>,
    included: Vec<PathBuf>,
    includes: Vec<Node>,
}

impl State<'_> {
    fn read(&mut self, text: &str, file: u16, depth: usize) -> Result<(), ParseError> {
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (keyword, args) = split_keyword(t);
            let col = raw.len() - raw.trim_start().len() + 1;
            let mut pos = Pos::new(line, col);
            pos.file = file;
            if keyword.is_empty() {
                return Err(ParseError::new(line, col, "missing keyword"));
            }
            let kw = keyword.to_ascii_lowercase();
            if args.is_empty() && kw != "match" {
                return Err(ParseError::new(
                    line,
                    col + keyword.len(),
                    format!("`{keyword}` is missing its argument"),
                ));
            }
            match kw.as_str() {
                "match" => {
                    if args.is_empty() {
                        return Err(ParseError::new(line, col, "`Match` needs criteria"));
                    }
                    self.matches.push((pos, args, Map::case_insensitive()));
                    self.current = Some(self.matches.len() - 1);
                }
                "include" => {
                    self.includes.push(Node::str(pos, args.clone()));
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(ParseError::new(line, col, "`Include` nested too deeply"));
                    }
                    for pattern in args.split_whitespace() {
                        for inc in include::expand(&self.base, pattern, self.gate) {
                            // The path is named, never the content of a file that was not read.
                            let text = match self.gate.read_included(&inc) {
                                Ok(text) => text,
                                // sshd skips a pattern that matches nothing.
                                Err(GateError::Io(e)) if e.kind() == ErrorKind::NotFound => {
                                    continue;
                                }
                                Err(e) => {
                                    return Err(ParseError::new(
                                        line,
                                        col,
                                        format!("included file {}: {e}", inc.display()),
                                    ));
                                }
                            };
                            self.included.push(inc.clone());
                            let idx = u16::try_from(self.included.len()).unwrap_or(u16::MAX);
                            // A `Match` in the included file ends with it, as in sshd.
                            let current = self.current;
                            self.read(&text, idx, depth + 1).map_err(|e| {
                                ParseError::new(
                                    line,
                                    col,
                                    format!("in included file {}: {e}", inc.display()),
                                )
                            })?;
                            self.current = current;
                        }
                    }
                }
                _ => {
                    let target = match self.current.and_then(|i| self.matches.get_mut(i)) {
                        Some((_, _, settings)) => settings,
                        None => &mut self.global,
                    };
                    let value = algorithms::resolve(&kw, &args).unwrap_or(args);
                    set(target, &kw, Node::str(pos, value));
                }
            }
        }
        Ok(())
    }
}

fn set(map: &mut Map, kw: &str, value: Node) {
    if ACCUMULATING.contains(&kw) {
        map.push_to_list(kw, value);
    } else if !map.contains_key(kw) {
        map.insert(kw.to_string(), value);
    }
}

/// Splits `Keyword args` or `Keyword=args`, removing a trailing comment and quotes around a single
/// argument.
fn split_keyword(line: &str) -> (&str, String) {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = &line[..end];
    let rest = line[end..].trim_start();
    let rest = without_comment(rest.strip_prefix('=').unwrap_or(rest)).trim();
    let unquoted = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|r| !r.contains('"'))
        .unwrap_or(rest);
    (keyword, unquoted.to_string())
}

/// `args` without a trailing comment: as sshd splits a line into arguments (OpenSSH 8.7 and
/// later), a `#` that starts an argument outside double quotes ends the line
/// (`PermitRootLogin no # root stays out` is `no`), while one inside an argument is part of it
/// (`AllowUsers alice#1`). Earlier versions refuse such a line for a keyword of one argument
/// ("garbage at end of line"), so no running server takes that comment for the value.
fn without_comment(args: &str) -> &str {
    let mut quoted = false;
    let mut word_start = true;
    for (i, c) in args.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if word_start && !quoted => return &args[..i],
            _ => {}
        }
        word_start = c.is_whitespace();
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_after_the_arguments_is_not_part_of_them() {
        let d = doc(
            "PermitRootLogin no # root stays out\nMaxAuthTries 3 #three\nAllowUsers alice#1 bob # two\nBanner \"/etc/issue # net\"\nCiphers aes256-gcm@openssh.com # only GCM\nMatch User bob # the deploy user\n  PasswordAuthentication yes # for now\n",
        );
        let text = |k: &str| d.get(k).unwrap().as_str().unwrap().to_string();
        assert_eq!(text("permitrootlogin"), "no");
        assert_eq!(text("maxauthtries"), "3");
        assert_eq!(text("banner"), "/etc/issue # net");
        assert_eq!(text("ciphers"), "aes256-gcm@openssh.com");
        let users = d.get("allowusers").unwrap().as_list().unwrap();
        assert_eq!(users[0].as_str(), Some("alice#1 bob"));
        let m = &d.get("match").unwrap().as_list().unwrap()[0];
        assert_eq!(m.get("criteria").unwrap().as_str(), Some("User bob"));
        let settings = m.get("settings").unwrap();
        assert_eq!(
            settings.get("PasswordAuthentication").unwrap().as_str(),
            Some("yes")
        );
    }

    fn doc(text: &str) -> Node {
        parse(Path::new("sshd_config"), text, &Gate::default())
            .unwrap()
            .root
    }

    #[test]
    fn first_value_wins_and_case_is_ignored() {
        let d = doc(
            "# c\npermitrootlogin no\nPermitRootLogin yes\nPort 22\nPort 2222\nCiphers=\"aes256-ctr\"\n",
        );
        let v = d.get("PermitRootLogin").unwrap();
        assert_eq!((v.as_str(), v.pos.line), (Some("no"), 2));
        let ports: Vec<_> = d
            .get("port")
            .unwrap()
            .as_list()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ports, ["22", "2222"]);
        assert_eq!(d.get("ciphers").unwrap().as_str(), Some("aes256-ctr"));
    }

    #[test]
    fn match_blocks_stay_separate() {
        let d = doc("X11Forwarding no\nMatch User anoncvs\n  X11Forwarding yes\n  PermitTTY no\n");
        assert_eq!(d.get("x11forwarding").unwrap().as_str(), Some("no"));
        let m = &d.get("match").unwrap().as_list().unwrap()[0];
        assert_eq!(m.get("criteria").unwrap().as_str(), Some("User anoncvs"));
        assert_eq!(
            m.get("settings")
                .unwrap()
                .get("X11Forwarding")
                .unwrap()
                .as_str(),
            Some("yes")
        );
    }

    #[test]
    fn missing_argument_is_an_error() {
        let e = parse(Path::new("x"), "PermitRootLogin\n", &Gate::default()).unwrap_err();
        assert_eq!((e.line, e.col), (1, 16));
    }

    #[test]
    fn includes_are_read_in_place_relative_to_the_main_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sshd_config.d")).unwrap();
        std::fs::write(
            dir.path().join("sshd_config.d/10-a.conf"),
            "PasswordAuthentication no\n",
        )
        .unwrap();
        let main = dir.path().join("sshd_config");
        let p = parse(
            &main,
            "Include sshd_config.d/*.conf\nPasswordAuthentication yes\n",
            &Gate::default(),
        )
        .unwrap();
        let v = p.root.get("passwordauthentication").unwrap();
        assert_eq!((v.as_str(), v.pos.line, v.pos.file), (Some("no"), 1, 1));
        assert_eq!(p.included, vec![dir.path().join("sshd_config.d/10-a.conf")]);
    }

    /// A root filesystem as a cloud image leaves it: the stock absolute `Include`, a drop-in that
    /// sets a value first, a drop-in whose `Match` must end with it, a pattern that matches nothing,
    /// and a relative include inside a drop-in, resolved against the main file's directory.
    #[test]
    fn drop_ins_as_sshd_reads_them_in_a_scanned_root() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join("image/etc/ssh");
        std::fs::create_dir_all(ssh.join("sshd_config.d")).unwrap();
        std::fs::create_dir_all(ssh.join("extra")).unwrap();
        std::fs::write(
            ssh.join("sshd_config.d/50-cloud-init.conf"),
            "PasswordAuthentication yes\nInclude extra/*.conf\n",
        )
        .unwrap();
        std::fs::write(ssh.join("extra/macs.conf"), "MACs -hmac-sha1*,umac-64*\n").unwrap();
        std::fs::write(
            ssh.join("sshd_config.d/60-backup.conf"),
            "Match User backup\n  ForceCommand internal-sftp\n",
        )
        .unwrap();
        let main = ssh.join("sshd_config");
        let text = "Include /etc/ssh/sshd_config.d/*.conf\nInclude /etc/ssh/missing.conf\nPasswordAuthentication no\nPermitRootLogin no\n";
        let p = parse(&main, text, &Gate::default()).unwrap();
        let get = |k: &str| {
            let n = p.root.get(k).unwrap();
            (n.as_str().unwrap().to_string(), n.pos.line, n.pos.file)
        };
        assert_eq!(
            get("passwordauthentication"),
            ("yes".into(), 1, 1),
            "the drop-in wins"
        );
        assert_eq!(
            get("permitrootlogin"),
            ("no".into(), 4, 0),
            "the Match of a drop-in ends with it"
        );
        assert_eq!(
            get("macs").0,
            "umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512"
        );
        assert_eq!(
            p.included,
            vec![
                ssh.join("sshd_config.d/50-cloud-init.conf"),
                ssh.join("extra/macs.conf"),
                ssh.join("sshd_config.d/60-backup.conf"),
            ]
        );
        let m = &p.root.get("match").unwrap().as_list().unwrap()[0];
        assert_eq!(m.get("criteria").unwrap().as_str(), Some("User backup"));
    }
}
