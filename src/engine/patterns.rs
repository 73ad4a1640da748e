//! The pattern scanner: which pattern controls match a file, found in as few passes over its bytes
//! as keep every pass fast.
//!
//! All patterns could go into one `RegexSet`, but a set can skip ahead with a literal prefilter
//! (memchr, Teddy) only when every pattern in it starts with one of a small number of literals: one
//! pattern without such a prefix, or too many literals in total, and the set falls back to running
//! its automaton over every byte (about 0.5 GB/s against several GB/s). So the patterns are grouped:
//! patterns whose prefix literals are known are packed together up to [`LITERAL_BUDGET`] literals per
//! group; patterns without prefix literals share one group of their own. Each group is checked with
//! `is_match` (which stops at the first match) and only a matching group is asked which of its
//! patterns matched. The bundled packs run as four or five prefiltered passes.
//!
//! A pattern that starts with no literal but holds one of three bytes or more at its top level
//! (`\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9]{60,}`) is a group of its own, searched as a single
//! regex: the regex engine then looks for that inner literal (memmem) and matches around it, some
//! ten times faster than a set's automaton over every byte.

use regex::bytes::{Regex, RegexSet};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind};

use crate::policy::budget::Budgeted;
use crate::policy::pattern::{compile, compile_set};

/// Most prefix literals in one group before a new group is started.
pub const LITERAL_BUDGET: usize = 48;

struct Group {
    search: Search,
    /// The same patterns, for files too large for `search` within the matching budget.
    budgeted: Budgeted,
    /// For each pattern of the group, the control it belongs to.
    owners: Vec<usize>,
}

/// How a group is searched.
enum Search {
    /// Several patterns at once.
    Set(RegexSet),
    /// One pattern with an inner literal, searched from that literal.
    One(Regex),
}

impl Search {
    fn is_match(&self, bytes: &[u8]) -> bool {
        match self {
            Search::Set(set) => set.is_match(bytes),
            Search::One(re) => re.is_match(bytes),
        }
    }
}

/// Compiles `members` as one group; when the group is too large to compile (a huge alternation
/// beside others), as two halves, down to one pattern per group: every pattern compiled alone when
/// its policy was loaded, so a grouping, which is only an optimisation, never fails a scan.
fn build(members: &[&(String, usize)], groups: &mut Vec<Group>) -> Result<(), regex::Error> {
    if members.is_empty() {
        return Ok(());
    }
    let sources: Vec<&str> = members.iter().map(|p| p.0.as_str()).collect();
    let compiled = compile_set(&sources).and_then(|set| {
        Budgeted::new(&sources)
            .map(|budgeted| (Search::Set(set), budgeted))
            .map_err(regex::Error::Syntax)
    });
    match compiled {
        Ok((search, budgeted)) => {
            groups.push(Group {
                search,
                budgeted,
                owners: members.iter().map(|p| p.1).collect(),
            });
            Ok(())
        }
        Err(_) if members.len() > 1 => {
            let (a, b) = members.split_at(members.len() / 2);
            build(a, groups)?;
            build(b, groups)
        }
        Err(e) => Err(e),
    }
}

/// Every pattern of every pattern control, grouped for fast matching.
pub struct PatternScanner {
    groups: Vec<Group>,
}

/// The pattern's syntax tree, parsed as the pattern is compiled.
fn syntax(source: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(source)
        .ok()
}

/// How many prefix literals a pattern has, or `None` when they cannot be enumerated.
fn prefix_literals(hir: &Hir) -> Option<usize> {
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let n = seq.len()?;
    let useful = n > 0 && seq.min_literal_len().is_some_and(|l| l >= 2);
    useful.then_some(n)
}

/// Whether every match holds a literal of three bytes or more, found at the top level of the
/// pattern's concatenation (inside its capture groups): the literal the regex engine can search
/// for first. Only a heuristic for grouping: a pattern that the engine still searches byte by byte
/// costs a pass of its own, and matches the same.
fn has_inner_literal(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Capture(c) => has_inner_literal(&c.sub),
        HirKind::Concat(parts) => parts.iter().any(has_inner_literal),
        HirKind::Literal(lit) => lit.0.len() >= 3,
        _ => false,
    }
}

/// A group of one pattern searched from its inner literal, or `None` when it has none or does not
/// compile alone.
fn inner_literal_group(p: &(String, usize), hir: &Hir) -> Option<Group> {
    if !has_inner_literal(hir) {
        return None;
    }
    Some(Group {
        search: Search::One(compile(&p.0).ok()?),
        budgeted: Budgeted::new(&[p.0.as_str()]).ok()?,
        owners: vec![p.1],
    })
}

impl PatternScanner {
    /// Groups `(source, control index)` pairs, in order, and compiles each group.
    pub fn new(patterns: &[(String, usize)]) -> Result<PatternScanner, regex::Error> {
        let mut literal_groups: Vec<(usize, Vec<&(String, usize)>)> = Vec::new();
        let mut rest: Vec<(&(String, usize), Option<Hir>)> = Vec::new();
        for p in patterns {
            let hir = syntax(&p.0);
            match hir.as_ref().and_then(prefix_literals) {
                Some(n) => match literal_groups.last_mut() {
                    Some((count, members)) if *count + n <= LITERAL_BUDGET => {
                        *count += n;
                        members.push(p);
                    }
                    _ => literal_groups.push((n, vec![p])),
                },
                None => rest.push((p, hir)),
            }
        }
        let mut groups = Vec::new();
        let mut no_literal = Vec::new();
        for (p, hir) in rest {
            match hir.and_then(|hir| inner_literal_group(p, &hir)) {
                Some(group) => groups.push(group),
                None => no_literal.push(p),
            }
        }
        for members in literal_groups
            .into_iter()
            .map(|(_, m)| m)
            .chain(Some(no_literal))
        {
            build(&members, &mut groups)?;
        }
        Ok(PatternScanner { groups })
    }

    /// The controls (indices) among `wanted` whose pattern may match somewhere in `bytes`: every
    /// one that does, and, where a group was too costly to search within the matching budget
    /// (`policy::budget`), the group's others too, for each pattern's own budgeted search to decide.
    pub fn matching(&self, bytes: &[u8], wanted: &[usize]) -> Vec<usize> {
        let mut hits = Vec::new();
        for g in &self.groups {
            if !g.owners.iter().any(|o| wanted.contains(o)) {
                continue;
            }
            if !g.budgeted.unrestricted(bytes.len()) {
                if g.budgeted.is_match(bytes) != Ok(false) {
                    hits.extend(g.owners.iter().filter(|o| wanted.contains(o)));
                }
                continue;
            }
            if !g.search.is_match(bytes) {
                continue;
            }
            match &g.search {
                Search::Set(set) if g.owners.len() > 1 => hits.extend(
                    set.matches(bytes)
                        .iter()
                        .map(|i| g.owners[i])
                        .filter(|o| wanted.contains(o)),
                ),
                // A group of one pattern matched: asking which would search the file again.
                _ => hits.extend(g.owners.iter().filter(|o| wanted.contains(o))),
            }
        }
        hits
    }

    /// Number of passes a file may need.
    #[cfg(test)]
    fn group_count(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_patterns_share_groups_and_the_rest_go_together() {
        let pats: Vec<(String, usize)> = [
            r"\bghp_[A-Za-z0-9]{36}",
            r"(?i)[a-z]*password\s*=",
            r"AKIA[A-Z2-7]{16}",
            r"[0-9]+ (?:dollars|euros)",
        ]
        .iter()
        .enumerate()
        .map(|(i, p)| (p.to_string(), i))
        .collect();
        assert_eq!(
            syntax(&pats[0].0).as_ref().and_then(prefix_literals),
            Some(1)
        );
        assert_eq!(syntax(&pats[1].0).as_ref().and_then(prefix_literals), None);
        let s = PatternScanner::new(&pats).unwrap();
        assert_eq!(s.group_count(), 2);
        let text = b"x ghp_0123456789abcdefghijklmnopqrstuvwxyz and 12 dollars";
        let mut m = s.matching(text, &[0, 1, 2, 3]);
        m.sort();
        assert_eq!(m, vec![0, 3]);
        assert_eq!(
            s.matching(text, &[3]),
            vec![3],
            "only wanted controls are reported"
        );
        assert!(s.matching(b"nothing here", &[0, 1, 2, 3]).is_empty());
    }

    #[test]
    fn a_group_of_one_pattern_answers_without_a_second_search() {
        // The second pattern's literals do not fit beside the first's: each is a group of its own.
        let many: Vec<String> = (0..LITERAL_BUDGET).map(|i| format!("k{i:02}x")).collect();
        let pats = vec![
            (r"\bghp_[A-Za-z0-9]{4}".to_string(), 7),
            (format!("(?:{})=[0-9]+", many.join("|")), 9),
        ];
        let s = PatternScanner::new(&pats).unwrap();
        assert_eq!(s.group_count(), 2);
        assert_eq!(s.matching(b"a k07x=12 b", &[7, 9]), vec![9]);
        assert_eq!(s.matching(b"ghp_abcd k07x=12", &[7, 9]), vec![7, 9]);
        assert!(
            s.matching(b"a k07x=12 b", &[7]).is_empty(),
            "only wanted controls"
        );
        assert!(s.matching(b"k07x= alone", &[7, 9]).is_empty());
    }

    #[test]
    fn a_pattern_with_an_inner_literal_is_searched_alone() {
        let pats: Vec<(String, usize)> = [
            r"\b(?P<secret>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,})",
            r"[0-9]+[a-z]{2}",
            r"(?i)[a-z]*password\s*=",
        ]
        .iter()
        .enumerate()
        .map(|(i, p)| (p.to_string(), i))
        .collect();
        let s = PatternScanner::new(&pats).unwrap();
        assert_eq!(s.group_count(), 2, "the two without a literal share a set");
        assert!(matches!(s.groups[0].search, Search::One(_)));
        assert!(matches!(s.groups[1].search, Search::Set(_)));
        let token = format!(
            "t = {}.atlasv1.{}\n",
            &"Zq4".repeat(5)[..14],
            "k".repeat(64)
        );
        assert_eq!(s.matching(token.as_bytes(), &[0, 1, 2]), vec![0]);
        assert!(
            s.matching(token.as_bytes(), &[1, 2]).is_empty(),
            "only wanted controls"
        );
        let mut m = s.matching(b"12ab; password =", &[0, 1, 2]);
        m.sort();
        assert_eq!(m, vec![1, 2]);
        assert!(s.matching(b"a .atlasv1. b", &[0, 1, 2]).is_empty());
    }
}
