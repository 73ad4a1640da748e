//! Dockerfiles (and Containerfiles), read as BuildKit reads them.
//!
//! The document:
//! - `instructions`: every instruction in order, each a map of `instruction` (upper case) and
//!   `args` (the rest, continuation lines joined with one space, heredoc bodies after a line
//!   break), plus `stage`, the index of the stage it belongs to;
//! - `stages`: one per `FROM`, each with `from` (the image, global `ARG` defaults substituted),
//!   `name` (after `AS`), `platform`, `base_is_stage` (the image is an earlier stage's name, or
//!   `scratch`), `final` (the last stage, the image that is shipped), `user` (the stage's last
//!   `USER`, or the one of the earlier stage it builds on) and its own `instructions`;
//! - `args`: the global `ARG`s (before the first `FROM`) and their defaults.
//!
//! Lines: a `#` line is a comment, also inside a continuation; the parser directives at the top
//! (`# escape=` sets the continuation character, `\` or `` ` ``); an instruction continues while
//! its line ends with that character; `<<WORD` (`<<-WORD`, quoted or not) opens a heredoc that
//! runs to a line holding `WORD` alone. Stages are named as elements (`stage "build"`).

use super::ParseError;
use crate::doc::{Map, Node, Pos, Value};

/// One instruction, with the line it starts on.
struct Instruction {
    line: usize,
    col: usize,
    keyword: String,
    args: String,
}

/// A stage as it is read: its facts so far, and what later instructions add to it.
struct Stage {
    facts: Map,
    /// The name after `AS`, by which later stages build on it.
    name: Option<String>,
    /// The user it runs as: its last `USER`, or the one of the stage it builds on.
    user: Option<Node>,
    instructions: Vec<Node>,
}

impl Stage {
    /// The stage's document; `last` says whether it is the shipped one.
    fn into_node(mut self, last: bool) -> Node {
        let pos = self.facts.get("from").map_or(Pos::line(1), |n| n.pos);
        self.facts
            .insert("final", Node::new(pos, Value::Bool(last)));
        if let Some(user) = self.user {
            self.facts.insert("user", user);
        }
        self.facts.insert(
            "instructions",
            Node::new(pos, Value::List(self.instructions)),
        );
        Node::new(pos, Value::Map(self.facts))
    }
}

/// Parses the text of a Dockerfile.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let instructions = read_instructions(text)?;
    let mut global_args: Vec<(String, Option<String>, Pos)> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut all = Vec::new();
    for ins in &instructions {
        let pos = Pos::new(ins.line, ins.col);
        if ins.keyword == "FROM" {
            let from = FromLine::parse(&ins.args, &global_args)
                .ok_or_else(|| ParseError::new(ins.line, ins.col, "FROM names no image"))?;
            let earlier = stages.iter().find(|s| {
                s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&from.image))
            });
            let mut facts = Map::new();
            facts.insert("index", Node::new(pos, Value::Int(stages.len() as i64)));
            facts.insert("from", Node::str(pos, from.image.clone()));
            if let Some(name) = &from.name {
                facts.insert("name", Node::str(pos, name.clone()));
            }
            if let Some(platform) = from.platform {
                facts.insert("platform", Node::str(pos, platform));
            }
            let is_stage = earlier.is_some() || from.image.eq_ignore_ascii_case("scratch");
            facts.insert("base_is_stage", Node::new(pos, Value::Bool(is_stage)));
            facts.set_label(match &from.name {
                Some(name) => format!("stage \"{name}\""),
                None => format!("stage {} ({})", stages.len(), from.image),
            });
            // A stage built on an earlier one runs as that one's user until it sets its own.
            let user = earlier.and_then(|s| s.user.clone());
            stages.push(Stage {
                facts,
                name: from.name,
                user,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            if ins.keyword == "USER" {
                stage.user = Some(Node::str(pos, ins.args.clone()));
            }
        } else if ins.keyword == "ARG" {
            // Before the first FROM only global ARGs build anything (parser directives are
            // comments).
            let (name, default) = arg(&ins.args);
            global_args.push((name, default, pos));
        }
        let mut item = Map::new();
        item.insert("instruction", Node::str(pos, ins.keyword.clone()));
        item.insert("args", Node::str(pos, ins.args.clone()));
        if let Some(stage) = stages.len().checked_sub(1) {
            item.insert("stage", Node::new(pos, Value::Int(stage as i64)));
        }
        item.set_label(format!("{} at line {}", ins.keyword, ins.line));
        let item = Node::new(pos, Value::Map(item));
        if let Some(stage) = stages.last_mut() {
            stage.instructions.push(item.clone());
        }
        all.push(item);
    }
    let count = stages.len();
    let stages: Vec<Node> = stages
        .into_iter()
        .enumerate()
        .map(|(i, stage)| stage.into_node(i + 1 == count))
        .collect();
    let mut args = Map::new();
    for (name, default, pos) in global_args {
        let value = default.map_or(Value::Null, Value::Str);
        args.insert(name, Node::new(pos, value));
    }
    let mut root = Map::new();
    root.insert("instructions", Node::new(Pos::line(1), Value::List(all)));
    root.insert("stages", Node::new(Pos::line(1), Value::List(stages)));
    root.insert("args", Node::new(Pos::line(1), Value::Map(args)));
    Ok(Node::new(Pos::line(1), Value::Map(root)))
}

/// The `FROM` line: `[--platform=P] IMAGE [AS NAME]`.
struct FromLine {
    image: String,
    name: Option<String>,
    platform: Option<String>,
}

impl FromLine {
    fn parse(args: &str, global_args: &[(String, Option<String>, Pos)]) -> Option<FromLine> {
        let mut words = args.split_whitespace().peekable();
        let mut platform = None;
        while let Some(flag) = words.next_if(|w| w.starts_with("--")) {
            if let Some(p) = flag.strip_prefix("--platform=") {
                platform = Some(p.to_string());
            }
        }
        let image = substitute(words.next()?, global_args);
        let name = match (words.next(), words.next()) {
            (Some(as_), Some(name)) if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
            _ => None,
        };
        Some(FromLine {
            image,
            name,
            platform,
        })
    }
}

/// `NAME[=DEFAULT]` of an `ARG` line.
fn arg(args: &str) -> (String, Option<String>) {
    let word = args.split_whitespace().next().unwrap_or_default();
    match word.split_once('=') {
        Some((name, default)) => (name.to_string(), Some(super::unquote(default).to_string())),
        None => (word.to_string(), None),
    }
}

/// `$NAME`, `${NAME}` and `${NAME:-word}` replaced by the global `ARG` defaults, as BuildKit
/// expands a `FROM` line; a variable without a default stays as written.
fn substitute(word: &str, global_args: &[(String, Option<String>, Pos)]) -> String {
    let lookup = |name: &str| {
        global_args
            .iter()
            .rev()
            .find(|(n, _, _)| n == name)
            .and_then(|(_, d, _)| d.clone())
    };
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, fallback, len) = if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                out.push_str(&rest[i..]);
                return out;
            };
            let inner = &braced[..end];
            match inner.split_once(":-") {
                Some((n, w)) => (n, Some(w), end + 2),
                None => (inner, None, end + 2),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        };
        match lookup(name).or_else(|| fallback.map(str::to_string)) {
            Some(value) if !name.is_empty() => out.push_str(&value),
            _ => out.push_str(&rest[i..i + 1 + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// The instructions of `text`, continuation lines and heredocs joined.
fn read_instructions(text: &str) -> Result<Vec<Instruction>, ParseError> {
    let escape = escape_directive(text);
    let mut out: Vec<Instruction> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let col = raw.len() - trimmed.len() + 1;
        let mut logical = String::new();
        let mut current = trimmed;
        loop {
            let body = current.trim_end();
            match body.strip_suffix(escape) {
                Some(joined) => {
                    logical.push_str(joined.trim_end());
                    logical.push(' ');
                }
                None => {
                    logical.push_str(body);
                    break;
                }
            }
            // The next line that is not a comment continues the instruction.
            let next = loop {
                match lines.next() {
                    Some((_, l)) if l.trim_start().starts_with('#') => continue,
                    Some((_, l)) if l.trim().is_empty() => continue,
                    other => break other,
                }
            };
            match next {
                Some((_, l)) => current = l.trim_start(),
                None => break,
            }
        }
        let (keyword, args) = match logical.split_once(char::is_whitespace) {
            Some((k, a)) => (k, a.trim()),
            None => (logical.as_str(), ""),
        };
        if !keyword.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ParseError::new(
                i + 1,
                col,
                format!("`{keyword}` is not a Dockerfile instruction"),
            ));
        }
        let mut args = args.to_string();
        for (word, strip_tabs) in heredoc_words(&args) {
            let mut closed = false;
            for (_, l) in lines.by_ref() {
                let candidate = if strip_tabs {
                    l.trim_start_matches('\t')
                } else {
                    l
                };
                if candidate == word {
                    closed = true;
                    break;
                }
                args.push('\n');
                args.push_str(l);
            }
            if !closed {
                return Err(ParseError::new(
                    i + 1,
                    col,
                    format!("the heredoc `<<{word}` is not closed by a line `{word}`"),
                ));
            }
        }
        out.push(Instruction {
            line: i + 1,
            col,
            keyword: keyword.to_ascii_uppercase(),
            args,
        });
    }
    Ok(out)
}

/// The continuation character a `# escape=` parser directive sets (`\` by default). Directives are
/// the `# key=value` comments before any other line.
fn escape_directive(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        if key.trim().eq_ignore_ascii_case("escape") && value.trim() == "`" {
            return '`';
        }
    }
    '\\'
}

/// The heredocs an instruction's line opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order, each with
/// whether its body's leading tabs are stripped.
fn heredoc_words(args: &str) -> Vec<(String, bool)> {
    let mut words = Vec::new();
    let mut rest = args;
    while let Some(i) = rest.find("<<") {
        let after = &rest[i + 2..];
        let (strip_tabs, after) = match after.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let body = quote.map_or(after, |q| &after[q.len_utf8()..]);
        let end = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        if end > 0
            && body[..end]
                .chars()
                .next()
                .is_some_and(|c| !c.is_ascii_digit())
        {
            words.push((body[..end].to_string(), strip_tabs));
        }
        rest = &body[end..];
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str_at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
        path.iter().try_fold(node, |n, k| n.get(k))?.as_str()
    }

    #[test]
    fn stages_users_and_arguments() {
        let text = "# syntax=docker/dockerfile:1\nARG BASE=node:20-alpine\nFROM --platform=$BUILDPLATFORM ${BASE} AS build\nUSER node\nRUN npm ci \\\n    # a comment inside the continuation\n    && npm run build\n\nFROM build AS test\nRUN npm test\nFROM gcr.io/distroless/nodejs20@sha256:abc\nCOPY --from=build /app /app\nUSER 0:0\nFROM scratch\n";
        let doc = parse(text).unwrap();
        let stages = doc.get("stages").unwrap().as_list().unwrap();
        assert_eq!(stages.len(), 4);
        assert_eq!(str_at(&stages[0], &["from"]), Some("node:20-alpine"));
        assert_eq!(str_at(&stages[0], &["platform"]), Some("$BUILDPLATFORM"));
        assert_eq!(str_at(&stages[0], &["user"]), Some("node"));
        assert_eq!(stages[0].as_map().unwrap().label(), Some("stage \"build\""));
        // `test` builds on `build`, and runs as its user.
        assert_eq!(
            stages[1].get("base_is_stage").unwrap().value,
            Value::Bool(true)
        );
        assert_eq!(str_at(&stages[1], &["user"]), Some("node"));
        assert_eq!(
            stages[2].get("base_is_stage").unwrap().value,
            Value::Bool(false)
        );
        assert_eq!(str_at(&stages[2], &["user"]), Some("0:0"));
        assert_eq!(stages[2].get("user").unwrap().pos.known_line(), Some(13));
        assert_eq!(stages[3].get("final").unwrap().value, Value::Bool(true));
        assert_eq!(
            stages[3].get("base_is_stage").unwrap().value,
            Value::Bool(true)
        );
        assert!(stages[3].get("user").is_none());
        // A stage's instructions start with its FROM.
        let run = &stages[0].get("instructions").unwrap().as_list().unwrap()[2];
        assert_eq!(str_at(run, &["args"]), Some("npm ci && npm run build"));
        assert_eq!(run.pos.known_line(), Some(5));
        let all = doc.get("instructions").unwrap().as_list().unwrap();
        assert_eq!(str_at(&all[0], &["instruction"]), Some("ARG"));
        assert!(all[0].get("stage").is_none(), "a global ARG is in no stage");
        assert_eq!(str_at(&doc, &["args", "BASE"]), Some("node:20-alpine"));
    }

    #[test]
    fn escape_directive_and_heredocs() {
        let text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN powershell -Command `\n    Write-Host hi\nRUN <<EOF\nset -e\ncurl -fsSL https://example.com/install.sh | sh\nEOF\nCOPY <<-\"CONF\" /etc/app.conf\n\tkey = value\n\tCONF\nUSER app\n";
        let doc = parse(text).unwrap();
        let all = doc.get("instructions").unwrap().as_list().unwrap();
        assert_eq!(
            str_at(&all[1], &["args"]),
            Some("powershell -Command Write-Host hi")
        );
        assert_eq!(
            str_at(&all[2], &["args"]),
            Some("<<EOF\nset -e\ncurl -fsSL https://example.com/install.sh | sh")
        );
        assert_eq!(str_at(&all[3], &["instruction"]), Some("COPY"));
        assert_eq!(str_at(&all[4], &["instruction"]), Some("USER"));
        assert_eq!(all[4].pos.known_line(), Some(12));
    }

    #[test]
    fn broken_files_are_errors_at_their_line() {
        let e = parse("FROM alpine\nRUN <<EOF\necho hi\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 1));
        assert!(e.message.contains("not closed"), "{}", e.message);
        let e = parse("FROM alpine\n  {\"a\": 1}\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        let e = parse("FROM --platform=linux/amd64\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
