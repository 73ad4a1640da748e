//! The matching budget: no policy pattern may stall a scan, whatever the file.
//!
//! Regular expressions run in time linear in the input, but the constant is the size of the
//! automaton. The regex crate first runs a lazy DFA, which is fast while its cache of states holds;
//! a pattern such as `(?:[a-z]{100}){100}` (10,000 NFA states) makes that cache thrash on a file of
//! letters, and the crate falls back to a PikeVM whose work is NFA states × bytes: half a minute on
//! 1 MB. So each search of one pattern (or pattern group) over one file is allowed
//! [`MATCH_BUDGET`] steps of one NFA state over one byte:
//!
//! - when states × bytes fits the budget, the regex crate searches as usual: even its slowest
//!   engine stays within the budget;
//! - otherwise only the lazy DFA runs, configured to give up as the regex crate's own does when its
//!   cache thrashes, and the captures of each match are computed on the match alone, each charged
//!   against the budget (plus [`CAPTURE_STEPS_PER_BYTE`] per byte of the file). A lazy DFA that
//!   gives up, or matches whose captures would exceed the budget, make the search [`OverBudget`]:
//!   an `error` verdict for that control on that file.
//!
//! Every decision depends on the pattern and the bytes only, never on the clock, so results stay
//! deterministic.

use std::ops::Range;
use std::sync::Arc;

use regex_automata::hybrid::{dfa, regex::Regex as LazyRegex};
use regex_automata::nfa::thompson::{self, pikevm::PikeVM};
use regex_automata::util::iter::Searcher;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};

use super::condition::REGEX_SIZE_LIMIT;

/// Steps of one NFA state over one byte that one pattern may take on one file: about a second of
/// the slowest engine on one core.
pub const MATCH_BUDGET: u64 = 1 << 28;

/// Steps per byte of the file that computing captures may take on top of [`MATCH_BUDGET`]: the
/// captures of non-overlapping matches cost at most states × bytes, so a pattern of up to this many
/// states never runs out, however many matches a large file holds.
pub const CAPTURE_STEPS_PER_BYTE: u64 = 256;

/// The lazy DFA's cache, per search: large enough for every bundled pattern to run without a
/// single cache clear on any input.
const LAZY_CACHE: usize = 4 << 20;

/// A search that would exceed [`MATCH_BUDGET`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the pattern exceeded its matching budget on this file ({states} automaton states over {bytes} bytes, more than {MATCH_BUDGET} steps); the file was not judged by it"
)]
pub struct OverBudget {
    /// The pattern's automaton size.
    pub states: usize,
    /// The file's size.
    pub bytes: usize,
}

/// Where one match lies: the group whose value is judged, and the whole match around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spans {
    pub judged: Range<usize>,
    pub whole: Range<usize>,
}

/// One pattern, or a group of patterns, with what a budgeted search needs.
#[derive(Debug, Clone)]
pub struct Budgeted {
    /// NFA states: the cost of one byte in the slowest engine.
    states: usize,
    /// A lazy DFA that gives up rather than thrash (shared: it is not `Clone`).
    lazy: Arc<LazyRegex>,
    /// Captures of one match, computed on that match alone.
    pike: PikeVM,
}

/// How every policy pattern is read: bytes, ASCII classes (as `policy::pattern::compile`).
fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

impl Budgeted {
    /// Compiles `sources` (one or more patterns) for budgeted search.
    pub fn new(sources: &[&str]) -> Result<Budgeted, String> {
        let thompson = thompson::Config::new()
            .utf8(false)
            .nfa_size_limit(Some(REGEX_SIZE_LIMIT.saturating_mul(sources.len().max(1))));
        let pike = PikeVM::builder()
            .syntax(syntax_config())
            .thompson(thompson.clone())
            .build_many(sources)
            .map_err(|e| e.to_string())?;
        let hirs: Vec<_> = sources
            .iter()
            .filter_map(|s| syntax::parse_with(s, &syntax_config()).ok())
            .collect();
        let prefilter = (hirs.len() == sources.len())
            .then(|| Prefilter::from_hirs_prefix(MatchKind::LeftmostFirst, &hirs))
            .flatten();
        let lazy = LazyRegex::builder()
            .syntax(syntax_config())
            .thompson(thompson)
            .dfa(
                dfa::Config::new()
                    .prefilter(prefilter)
                    .cache_capacity(LAZY_CACHE)
                    .skip_cache_capacity_check(true)
                    .minimum_cache_clear_count(Some(3))
                    .minimum_bytes_per_state(Some(10)),
            )
            .build_many(sources)
            .map_err(|e| e.to_string())?;
        Ok(Budgeted {
            states: pike.get_nfa().states().len(),
            lazy: Arc::new(lazy),
            pike,
        })
    }

    /// Whether the regex crate may search `len` bytes: even its slowest engine fits the budget.
    pub fn unrestricted(&self, len: usize) -> bool {
        (self.states as u64).saturating_mul(len as u64) <= MATCH_BUDGET
    }

    fn over(&self, bytes: &[u8]) -> OverBudget {
        OverBudget {
            states: self.states,
            bytes: bytes.len(),
        }
    }

    /// Whether any of the patterns matches, by the lazy DFA alone.
    pub fn is_match(&self, bytes: &[u8]) -> Result<bool, OverBudget> {
        let mut cache = self.lazy.create_cache();
        let input = Input::new(bytes).earliest(true);
        match self.lazy.try_search(&mut cache, &input) {
            Ok(m) => Ok(m.is_some()),
            Err(_) => Err(self.over(bytes)),
        }
    }

    /// The span of capture group `group` (the whole match when the group did not take part) of
    /// every match, and of the whole match, leftmost-first and non-overlapping, as the regex crate
    /// finds them.
    pub fn spans(&self, bytes: &[u8], group: usize) -> Result<Vec<Spans>, OverBudget> {
        let mut cache = self.lazy.create_cache();
        let mut pike_cache = self.pike.create_cache();
        let mut caps = self.pike.create_captures();
        let mut searcher = Searcher::new(Input::new(bytes));
        let mut spent: u64 = 0;
        let allowed =
            MATCH_BUDGET.saturating_add(CAPTURE_STEPS_PER_BYTE.saturating_mul(bytes.len() as u64));
        let mut out = Vec::new();
        loop {
            let found = searcher.try_advance(|input| self.lazy.try_search(&mut cache, input));
            let m = match found {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(out),
                Err(_) => return Err(self.over(bytes)),
            };
            spent = spent.saturating_add((self.states as u64).saturating_mul(m.len() as u64 + 1));
            if spent > allowed {
                return Err(self.over(bytes));
            }
            let on_match = Input::new(bytes)
                .span(m.range())
                .anchored(Anchored::Pattern(m.pattern()));
            self.pike.search(&mut pike_cache, &on_match, &mut caps);
            let judged = caps
                .get_group(group)
                .or_else(|| caps.get_group(0))
                .map_or(m.range(), |s| s.range());
            out.push(Spans {
                judged,
                whole: m.range(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex_spans(pattern: &str, bytes: &[u8], group: usize) -> Vec<Range<usize>> {
        let re = regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .unwrap();
        re.captures_iter(bytes)
            .map(|c| c.get(group).or_else(|| c.get(0)).unwrap().range())
            .collect()
    }

    #[test]
    fn budgeted_search_finds_what_the_regex_crate_finds() {
        let text = b"key=AKIAABCDEFGHIJKLMNOP x=1\nempty= \n\xff\xfe AKIA0000 word_boundary";
        for (pattern, group) in [
            (r"(AKIA[A-Z0-9]{16})", 1),
            (r"(?i)(\w+)\s*=\s*(\S*)", 2),
            (r"\b\w+\b", 0),
            (r"x*", 0),
            (r"(a)|(AKIA)", 1),
            (r"[\x80-\xff]+", 0),
        ] {
            let b = Budgeted::new(&[pattern]).unwrap();
            let (judged, whole): (Vec<_>, Vec<_>) = b
                .spans(text, group)
                .unwrap()
                .into_iter()
                .map(|s| (s.judged, s.whole))
                .unzip();
            assert_eq!(judged, regex_spans(pattern, text, group), "{pattern}");
            assert_eq!(whole, regex_spans(pattern, text, 0), "{pattern}");
            assert_eq!(
                b.is_match(text).unwrap(),
                !regex_spans(pattern, text, 0).is_empty()
            );
        }
    }

    #[test]
    fn a_pathological_pattern_is_over_budget_at_once() {
        let b = Budgeted::new(&["(?:[a-z]{100}){100}"]).unwrap();
        let letters = vec![b'a'; 1 << 20];
        assert!(!b.unrestricted(letters.len()));
        assert_eq!(
            b.spans(&letters, 0).unwrap_err().bytes,
            letters.len(),
            "the lazy DFA gives up instead of falling back to the slow engine"
        );
        assert!(b.unrestricted(1000), "a small file is searched as usual");
    }

    #[test]
    fn a_large_file_full_of_matches_of_a_small_pattern_is_searched_to_the_end() {
        let b = Budgeted::new(&["(AKIA[A-Z2-7]{16})"]).unwrap();
        let line = b"AKIAABCDEFGHIJKLMNOP\n";
        let text: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * 500_000)
            .collect();
        assert!(!b.unrestricted(text.len()));
        assert_eq!(b.spans(&text, 1).unwrap().len(), 500_000);
    }
}
