//! nginx configuration: directives and nested blocks.
//!
//! The document has two parts:
//! - the configuration as written: each context (the file, `http`, `server`, `location`...) is a map
//!   from directive name to the list of its occurrences; a simple directive's occurrence is its
//!   arguments joined by one space (`"TLSv1.2 TLSv1.3"`), a block's is a map with `args` and the
//!   block's own directives;
//! - `servers`: one entry per `server` block with the settings that are in effect there: nginx
//!   inherits a directive from the enclosing `http` block unless the server sets it (in which case
//!   the server's occurrences replace the inherited ones entirely, as nginx does for `add_header`).
//!   Each entry also has `tls` (true when a `listen` has `ssl`/`quic` or `ssl on` is set) and
//!   `server_name`.
//!
//! `include` is read in place, as nginx reads it: the included files' directives belong to the
//! context of the `include` (so a `server` in `conf.d/site.conf` inherits the `http` settings of
//! `nginx.conf`), a relative path is resolved against the main file's directory (nginx's conf
//! prefix), glob matches are read in lexical order, and every value keeps the file and line it came
//! from. A file that the `nginx.conf` of its configuration includes directly is judged through that
//! file, once, and produces no document of its own; one that nothing includes is judged alone.

use std::path::{Path, PathBuf};

mod lexer;

use lexer::{Tok, tokenize};

use super::{ParseError, include};
use crate::collect::canonical::canonical;
use crate::collect::gate::{Gate, GateError};
use crate::doc::{Map, Node, Pos, Value};

/// How deep `include` may nest (nginx itself stops only at a cycle's exhaustion).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Directives that are not inherited by a `server` from its `http` block.
const NOT_INHERITED: [&str; 2] = ["args", "include"];

/// Directives whose argument list is followed by a block. A block after any other directive is
/// almost always a missing `;` (`server_tokens off` on the line before `server {`), so it is reported
/// rather than read as a block. Third-party `*_by_lua_block`-style directives are accepted by suffix.
const BLOCK_DIRECTIVES: [&str; 18] = [
    "events",
    "http",
    "server",
    "location",
    "upstream",
    "map",
    "geo",
    "if",
    "types",
    "stream",
    "mail",
    "limit_except",
    "split_clients",
    "match",
    "charset_map",
    "perl_set",
    "js_set",
    "zone",
];

/// The files nginx installs beside `nginx.conf`, which every distribution ships with the same
/// kinds of content: MIME types (`types`), the parameters passed to FastCGI, SCGI and uWSGI servers
/// (`*_param`), and character set tables (`charset_map`). None holds a directive a control judges,
/// so a repository that keeps its `nginx.conf` without them (they come with the nginx it runs on)
/// is judged without them rather than being an error; the document lists them in
/// `stock_includes_not_read`. Any other include that cannot be read is an error.
const STOCK_FILES: [&str; 8] = [
    "mime.types",
    "fastcgi_params",
    "fastcgi.conf",
    "scgi_params",
    "uwsgi_params",
    "koi-utf",
    "koi-win",
    "win-utf",
];

fn is_stock_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| STOCK_FILES.contains(&n))
}

/// Whether an include could not be read because it is not there to be read: missing, or outside
/// the paths named (a repository's `include /etc/nginx/mime.types`).
fn is_absent(e: &GateError) -> bool {
    match e {
        GateError::Outside => true,
        GateError::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// A parsed configuration and the files it included, in the order they were read.
pub struct Parsed {
    /// The fact document.
    pub root: Node,
    /// Included files; a value with `pos.file == n` came from `included[n - 1]`.
    pub included: Vec<PathBuf>,
}

/// Parses `text`, read from `path`: `None` when the `nginx.conf` of its configuration includes it,
/// so that it is judged through that file. Included files are opened through `gate`.
pub fn parse_file(path: &Path, text: &str, gate: &Gate) -> Result<Option<Parsed>, ParseError> {
    if included_by_main(path, gate) {
        return Ok(None);
    }
    let reader = Reader {
        gate,
        follow: true,
        base: path.parent().unwrap_or(Path::new("")).to_path_buf(),
        included: Vec::new(),
        stock_unread: Vec::new(),
    };
    reader.document(text).map(Some)
}

/// Whether `path` is read through the `nginx.conf` of its configuration: one in its directory's
/// parent (`conf.d/site.conf`, `sites-enabled/site`) that includes it directly. Only that file's
/// own `include` lines are looked at, so each file of a large `sites-enabled/` costs one read of
/// `nginx.conf`, not a read of every site.
fn included_by_main(path: &Path, gate: &Gate) -> bool {
    if path.file_name().is_some_and(|n| n == "nginx.conf") {
        return false;
    }
    let Some(main) = path
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("nginx.conf"))
    else {
        return false;
    };
    let Ok(text) = gate.read_included(&main) else {
        return false;
    };
    let Ok(toks) = tokenize(&text) else {
        return false;
    };
    let Ok(me) = canonical(path) else {
        return false;
    };
    let base = main.parent().unwrap_or(Path::new(""));
    toks.windows(3).any(|w| match w {
        [(Tok::Word(d), _), (Tok::Word(pattern), _), (Tok::Semi, _)] if d == "include" => {
            include::expand(base, pattern, gate)
                .iter()
                .any(|f| canonical(f).is_ok_and(|c| c == me))
        }
        _ => false,
    })
}

/// Reads a configuration and the files it includes.
struct Reader<'g> {
    gate: &'g Gate,
    /// Whether `include` is read (a file parsed without its path records it only).
    follow: bool,
    /// The main file's directory: where relative includes resolve.
    base: PathBuf,
    included: Vec<PathBuf>,
    /// nginx's own files that were named but not read, with where (see [`STOCK_FILES`]).
    stock_unread: Vec<(String, Pos)>,
}

impl Reader<'_> {
    /// The fact document of the main file's `text`: its directives and the derived `servers`.
    fn document(mut self, text: &str) -> Result<Parsed, ParseError> {
        let mut root = self.parse_text(text, 0, 0)?;
        let servers = effective_servers(&root, None);
        root.insert("servers", Node::new(Pos::line(0), Value::List(servers)));
        if !self.stock_unread.is_empty() {
            let unread = self
                .stock_unread
                .drain(..)
                .map(|(path, pos)| Node::str(pos, path))
                .collect();
            root.insert(
                "stock_includes_not_read",
                Node::new(Pos::line(0), Value::List(unread)),
            );
        }
        Ok(Parsed {
            root: Node::new(Pos::line(1), Value::Map(root)),
            included: self.included,
        })
    }

    /// The directives of one file's text (`file`: its index in `included`, 0 for the main file).
    fn parse_text(&mut self, text: &str, file: u16, depth: usize) -> Result<Map, ParseError> {
        let mut toks = tokenize(text)?;
        for (_, pos) in &mut toks {
            pos.file = file;
        }
        let mut i = 0;
        self.parse_block(&toks, &mut i, None, depth)
    }

    /// Reads the files `include ARGS` names into `map`, at `pos` (of the directive) and `depth`.
    fn include(
        &mut self,
        map: &mut Map,
        args: &str,
        pos: Pos,
        depth: usize,
    ) -> Result<(), ParseError> {
        let err = |message: String| ParseError::new(pos.line as usize, pos.col as usize, message);
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(err("`include` nested too deeply".into()));
        }
        for file in include::expand(&self.base, args, self.gate) {
            // The path is named, never the content of a file that was not read.
            let text = match self.gate.read_included(&file) {
                Ok(text) => text,
                Err(e) if is_stock_file(&file) && is_absent(&e) => {
                    self.stock_unread.push((file.display().to_string(), pos));
                    continue;
                }
                Err(GateError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(err(format!(
                        "included file {} does not exist",
                        file.display()
                    )));
                }
                Err(e) => return Err(err(format!("included file {}: {e}", file.display()))),
            };
            self.included.push(file.clone());
            let idx = u16::try_from(self.included.len()).unwrap_or(u16::MAX);
            let inner = self
                .parse_text(&text, idx, depth + 1)
                .map_err(|e| err(format!("in included file {}: {e}", file.display())))?;
            for (k, _, v) in inner.into_entries() {
                let Value::List(items) = v.value else {
                    continue;
                };
                for item in items {
                    map.push_to_list(&k, item);
                }
            }
        }
        Ok(())
    }

    fn parse_block(
        &mut self,
        toks: &[(Tok, Pos)],
        i: &mut usize,
        opened_at: Option<Pos>,
        depth: usize,
    ) -> Result<Map, ParseError> {
        if let (Some(p), true) = (opened_at, depth > crate::doc::MAX_DEPTH) {
            return Err(ParseError::new(
                p.line as usize,
                p.col as usize,
                format!(
                    "blocks are nested more than {} levels deep here; the file is not judged",
                    crate::doc::MAX_DEPTH
                ),
            ));
        }
        let mut map = Map::new();
        loop {
            let Some((tok, pos)) = toks.get(*i) else {
                return match opened_at {
                    Some(p) => Err(ParseError::new(
                        p.line as usize,
                        p.col as usize,
                        "block opened here is never closed with `}`",
                    )),
                    None => Ok(map),
                };
            };
            match tok {
                Tok::Close => {
                    if opened_at.is_none() {
                        return Err(ParseError::new(
                            pos.line as usize,
                            pos.col as usize,
                            "unexpected `}`",
                        ));
                    }
                    *i += 1;
                    return Ok(map);
                }
                Tok::Semi | Tok::Open | Tok::Code(_) => {
                    return Err(ParseError::new(
                        pos.line as usize,
                        pos.col as usize,
                        "expected a directive name",
                    ));
                }
                Tok::Word(name) => {
                    let name_pos = *pos;
                    *i += 1;
                    let mut args = Vec::new();
                    loop {
                        match toks.get(*i) {
                            Some((Tok::Word(w), _)) => {
                                args.push(w.clone());
                                *i += 1;
                            }
                            Some((Tok::Semi, _)) => {
                                *i += 1;
                                let joined = args.join(" ");
                                if name == "include" && self.follow {
                                    self.include(&mut map, &joined, name_pos, depth)?;
                                }
                                map.push_to_list(name, Node::str(name_pos, joined));
                                break;
                            }
                            Some((Tok::Open, open_pos)) => {
                                let open_pos = *open_pos;
                                if !BLOCK_DIRECTIVES.contains(&name.as_str())
                                    && !name.ends_with("_block")
                                {
                                    let hint = match args.last() {
                                        Some(last) => {
                                            format!("; is a `;` missing before `{last}`?")
                                        }
                                        None => String::new(),
                                    };
                                    return Err(ParseError::new(
                                        name_pos.line as usize,
                                        name_pos.col as usize,
                                        format!("directive `{name}` does not take a block{hint}"),
                                    ));
                                }
                                *i += 1;
                                let mut with_args = Map::new();
                                with_args.insert("args", Node::str(name_pos, args.join(" ")));
                                if let Some((Tok::Code(code), code_pos)) = toks.get(*i) {
                                    // A Lua block: its code, then the `}` the lexer put after it.
                                    with_args.insert("code", Node::str(*code_pos, code.clone()));
                                    *i += 2;
                                    map.push_to_list(
                                        name,
                                        Node::new(name_pos, Value::Map(with_args)),
                                    );
                                    break;
                                }
                                let block = self.parse_block(toks, i, Some(open_pos), depth + 1)?;
                                // Moved, not copied: copying every level's subtree is quadratic in
                                // the depth.
                                for (k, p, v) in block.into_entries() {
                                    with_args.insert_with_key_pos(k, p, v);
                                }
                                map.push_to_list(name, Node::new(name_pos, Value::Map(with_args)));
                                break;
                            }
                            Some((Tok::Close | Tok::Code(_), _)) | None => {
                                return Err(ParseError::new(
                                    name_pos.line as usize,
                                    name_pos.col as usize,
                                    format!("directive `{name}` is not terminated by `;`"),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The `server` blocks under `ctx` (the file, or an `http`, `stream` or `mail` block), each with its
/// effective settings and the protocol of the block it sits in: `stream` and `mail` servers take
/// `ssl_protocols` and `ssl_ciphers` as `http` servers do, and inherit them from their own block.
fn effective_servers(ctx: &Map, inherited: Option<(&Map, &'static str)>) -> Vec<Node> {
    let mut out = Vec::new();
    for (name, occurrences) in ctx.iter() {
        let Some(list) = occurrences.as_list() else {
            continue;
        };
        let protocol = match name {
            "http" => "http",
            "stream" => "stream",
            "mail" => "mail",
            "server" => {
                for server in list {
                    if let Some(s) = server.as_map() {
                        out.push(effective(s, inherited, server.pos));
                    }
                }
                continue;
            }
            _ => continue,
        };
        for block in list {
            if let Some(b) = block.as_map() {
                out.extend(effective_servers(b, Some((b, protocol))));
            }
        }
    }
    out
}

fn effective(server: &Map, outer: Option<(&Map, &'static str)>, pos: Pos) -> Node {
    // A `server` outside any block is read as nginx reads a site file included from `http`.
    let (http, protocol) = match outer {
        Some((block, protocol)) => (Some(block), protocol),
        None => (None, "http"),
    };
    let simple = |m: &Map| -> Vec<(String, Node)> {
        m.iter()
            .filter(|(k, v)| {
                !NOT_INHERITED.contains(k)
                    && v.as_list()
                        .is_some_and(|l| l.iter().all(|o| o.as_str().is_some()))
            })
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let mut eff = Map::new();
    for (k, v) in simple(server) {
        eff.insert(k, v);
    }
    if let Some(h) = http {
        for (k, v) in simple(h) {
            if !eff.contains_key(&k) {
                eff.insert(k, v);
            }
        }
    }
    let strings = |k: &str| -> Vec<String> {
        eff.get(k)
            .and_then(Node::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let tls = strings("listen")
        .iter()
        .any(|l| l.split_whitespace().any(|w| w == "ssl" || w == "quic"))
        || strings("ssl").iter().any(|s| s == "on")
        // A mail server upgraded with STARTTLS speaks TLS with the same settings.
        || (protocol == "mail" && strings("starttls").iter().any(|s| s == "on" || s == "only"));
    let server_name = strings("server_name").join(" ");
    // The element name: the server's names and where it listens, which tell two blocks apart
    // (the port 80 and port 443 blocks of one site) without depending on line numbers.
    let kind = match protocol {
        "http" => "server",
        "stream" => "stream server",
        _ => "mail server",
    };
    let mut label = match server_name.as_str() {
        "" => format!("{kind} (no server_name)"),
        names => format!("{kind} \"{names}\""),
    };
    let listen = strings("listen");
    if !listen.is_empty() {
        label.push_str(&format!(" listen {}", listen.join(", ")));
    }
    eff.set_label(label);
    let mut locations = Vec::new();
    effective_locations(server, eff.get("add_header"), &mut locations);
    if !locations.is_empty() {
        eff.insert("locations", Node::new(pos, Value::List(locations)));
    }
    eff.insert("tls", Node::new(pos, Value::Bool(tls)));
    eff.insert("protocol", Node::str(pos, protocol));
    eff.insert("server_name", Node::str(pos, server_name));
    Node::new(pos, Value::Map(eff))
}

/// Every `location` under `ctx` (a server or a location), nested ones included, each with its path
/// and the `add_header` list in effect there: its own when it has any (nginx then drops every
/// inherited header), else the one it inherits.
fn effective_locations(ctx: &Map, inherited: Option<&Node>, out: &mut Vec<Node>) {
    let Some(list) = ctx.get("location").and_then(Node::as_list) else {
        return;
    };
    for location in list {
        let Some(map) = location.as_map() else {
            continue;
        };
        let headers = map.get("add_header").or(inherited);
        let path = map.get("args").and_then(Node::as_str).unwrap_or_default();
        let mut eff = Map::new();
        eff.set_label(format!("location {path}"));
        eff.insert("path", Node::str(location.pos, path));
        if let Some(h) = headers {
            eff.insert("add_header", h.clone());
        }
        out.push(Node::new(location.pos, Value::Map(eff)));
        effective_locations(map, headers, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses the text of one nginx configuration file, without following `include`.
    fn parse(text: &str) -> Result<Node, ParseError> {
        let gate = Gate::default();
        let reader = Reader {
            gate: &gate,
            follow: false,
            base: PathBuf::new(),
            included: Vec::new(),
            stock_unread: Vec::new(),
        };
        reader.document(text).map(|p| p.root)
    }

    const CONF: &str = r#"
user www-data;
http {
    server_tokens off;
    ssl_protocols TLSv1.2 TLSv1.3;
    add_header X-Frame-Options "DENY";
    server {
        listen 443 ssl;
        server_name example.org;
        add_header Strict-Transport-Security "max-age=63072000" always;
        location / { root /srv; }
    }
    server {
        listen 80;
        ssl_protocols TLSv1 TLSv1.2;
    }
}
"#;

    #[test]
    fn nested_blocks_and_directives() {
        let d = parse(CONF).unwrap();
        let http = &d.get("http").unwrap().as_list().unwrap()[0];
        let tokens = &http.get("server_tokens").unwrap().as_list().unwrap()[0];
        assert_eq!((tokens.as_str(), tokens.pos.line), (Some("off"), 4));
        let server = &http.get("server").unwrap().as_list().unwrap()[0];
        let loc = &server.get("location").unwrap().as_list().unwrap()[0];
        assert_eq!(loc.get("args").unwrap().as_str(), Some("/"));
    }

    #[test]
    fn servers_carry_effective_settings() {
        let d = parse(CONF).unwrap();
        let servers = d.get("servers").unwrap().as_list().unwrap();
        assert_eq!(servers.len(), 2);
        let a = &servers[0];
        assert_eq!(a.get("tls").unwrap().value, Value::Bool(true));
        let protos = &a.get("ssl_protocols").unwrap().as_list().unwrap()[0];
        assert_eq!(
            (protos.as_str(), protos.pos.line),
            (Some("TLSv1.2 TLSv1.3"), 5)
        );
        let headers = a.get("add_header").unwrap().as_list().unwrap();
        assert_eq!(
            headers.len(),
            1,
            "a server's add_header replaces the inherited ones"
        );
        assert_eq!(
            headers[0].as_str(),
            Some("Strict-Transport-Security max-age=63072000 always")
        );
        assert_eq!(
            a.as_map().unwrap().label(),
            Some("server \"example.org\" listen 443 ssl")
        );
        let b = &servers[1];
        assert_eq!(
            b.as_map().unwrap().label(),
            Some("server (no server_name) listen 80")
        );
        assert_eq!(b.get("tls").unwrap().value, Value::Bool(false));
        assert_eq!(
            b.get("ssl_protocols").unwrap().as_list().unwrap()[0]
                .pos
                .line,
            15
        );
    }

    #[test]
    fn stream_and_mail_servers_inherit_from_their_own_block() {
        let d = parse(
            "http {\n  ssl_protocols TLSv1.2;\n}\n\
             stream {\n  ssl_protocols TLSv1 TLSv1.2;\n  server {\n    listen 5432 ssl;\n  }\n  server {\n    listen 53;\n  }\n}\n\
             mail {\n  server {\n    listen 143;\n    starttls on;\n  }\n}\n",
        )
        .unwrap();
        let servers = d.get("servers").unwrap().as_list().unwrap();
        type Facts<'a> = (Option<&'a str>, Option<&'a str>, bool, Option<u32>);
        let facts: Vec<Facts> = servers
            .iter()
            .map(|s| {
                (
                    s.as_map().unwrap().label(),
                    s.get("protocol").unwrap().as_str(),
                    s.get("tls").unwrap().value == Value::Bool(true),
                    s.get("ssl_protocols")
                        .map(|p| p.as_list().unwrap()[0].pos.line),
                )
            })
            .collect();
        assert_eq!(
            facts,
            [
                (
                    Some("stream server (no server_name) listen 5432 ssl"),
                    Some("stream"),
                    true,
                    Some(5)
                ),
                (
                    Some("stream server (no server_name) listen 53"),
                    Some("stream"),
                    false,
                    Some(5)
                ),
                (
                    Some("mail server (no server_name) listen 143"),
                    Some("mail"),
                    true,
                    None
                ),
            ],
            "http's ssl_protocols does not reach stream or mail servers"
        );
    }

    #[test]
    fn syntax_errors() {
        let e = parse("http {\n  server_tokens off\n}\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        let e = parse("http {\n  server_tokens off\n  server {\n    listen 443 ssl;\n  }\n}\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        assert!(
            e.message.contains("is a `;` missing before `server`?"),
            "{e:?}"
        );
        let e = parse("http {\n  a b;\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("}\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
