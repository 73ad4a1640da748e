//! The bytes a target's verdicts are kept as outside memory: in the verdict cache, and in the
//! temporary file of a target with too many verdicts to hold ([`super::spill`]).
//!
//! The verdicts' own serde forms leave absent fields out, which only a self-describing format can
//! read back; the cache is read millions of times per scan, so it keeps them in a small binary form
//! of its own instead: LEB128 integers, length-prefixed UTF-8 strings, a presence byte before each
//! optional value. The cache file's format number changes with this layout. Decoding checks every
//! length and index against the scan's plan and gives `None` for anything it cannot read, which the
//! cache treats as a miss: a damaged cache costs time, never a verdict.

use std::borrow::Cow;

use super::{Judged, Stats, Verdict};
use crate::results::{Evidence, Location, State, SuppressionRef};

/// Encodes the verdicts of one target; `None` for what is never cached (an `error` about reading
/// the file itself, which names its own kind, and the verdicts of a target with too many to hold).
pub fn encode(judged: &Judged, out: &mut Vec<u8>) -> Option<()> {
    // Verdicts too many to hold are not kept either: such a target is judged afresh.
    if judged.spilled.is_some() {
        return None;
    }
    let mut w = Writer(out);
    w.len(judged.verdicts.len());
    for v in &judged.verdicts {
        if v.kind.is_some() {
            return None;
        }
        write_verdict(&mut w, v);
    }
    w.len(judged.clean.len());
    for &c in &judged.clean {
        w.len(c);
    }
    let s = &judged.stats;
    w.byte(
        u8::from(s.file_seen)
            | u8::from(s.symlink_skipped) << 1
            | u8::from(s.read) << 2
            | u8::from(s.binary_skipped) << 3
            | u8::from(s.too_large) << 4,
    );
    w.uint(s.bytes);
    w.len(s.documents.len());
    for (name, n) in &s.documents {
        w.str(name);
        w.uint(*n);
    }
    w.opt_str(judged.shown_name.as_deref());
    Some(())
}

/// Decodes what [`encode`] wrote, for a plan of `controls` controls; `environments` is kept as the
/// judged target's. `None` when the bytes are damaged or name a control the plan does not have.
pub fn decode(bytes: &[u8], controls: usize, environments: Vec<usize>) -> Option<Judged> {
    let mut r = Reader(bytes);
    let control = |r: &mut Reader<'_>| {
        r.uint()
            .and_then(|c| usize::try_from(c).ok())
            .filter(|&c| c < controls)
    };
    let n = r.len()?;
    let mut verdicts = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        verdicts.push(read_verdict(&mut r, controls)?);
    }
    let n = r.len()?;
    let clean = (0..n).map(|_| control(&mut r)).collect::<Option<_>>()?;
    let flags = r.byte()?;
    let mut stats = Stats {
        file_seen: flags & 1 != 0,
        symlink_skipped: flags & 2 != 0,
        read: flags & 4 != 0,
        binary_skipped: flags & 8 != 0,
        too_large: flags & 16 != 0,
        bytes: r.uint()?,
        documents: Default::default(),
    };
    for _ in 0..r.len()? {
        let name = r.str()?;
        let n = r.uint()?;
        stats.documents.insert(Cow::Owned(name), n);
    }
    let shown_name = r.opt_str()?;
    r.0.is_empty().then_some(Judged {
        verdicts,
        spilled: None,
        spill: None,
        clean,
        stats,
        shown_name,
        environments,
    })
}

/// Appends one verdict, its kind included, to `out`.
pub fn append_verdict(v: &Verdict, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.opt_str(v.kind);
    write_verdict(&mut w, v);
}

/// Takes one verdict written by [`append_verdict`] off the front of `bytes`, for a plan of
/// `controls` controls whose verdicts may name one of `kinds`. `None` when the bytes are damaged.
pub fn take_verdict(bytes: &mut &[u8], controls: usize, kinds: &[&'static str]) -> Option<Verdict> {
    let mut r = Reader(bytes);
    let kind = match r.opt_str()? {
        None => None,
        Some(k) => Some(*kinds.iter().find(|&&known| known == k)?),
    };
    let mut v = read_verdict(&mut r, controls)?;
    v.kind = kind;
    *bytes = r.0;
    Some(v)
}

/// Writes one verdict, all but its kind (see [`encode`]).
fn write_verdict(w: &mut Writer<'_>, v: &Verdict) {
    w.len(v.control);
    w.byte(state_byte(v.state));
    w.opt_str(v.object.as_deref());
    w.opt_str(v.element.as_deref());
    match &v.location {
        None => w.byte(0),
        Some(l) => {
            w.byte(1);
            w.opt_u32(l.column);
            w.opt_u32(l.end_column);
            w.uint(u64::from(l.line));
            w.opt_str(l.path.as_deref());
        }
    }
    w.opt_str(v.observed.as_deref());
    w.opt_str(v.message.as_deref());
    w.len(v.evidence.len());
    for e in &v.evidence {
        w.str(&e.field);
        w.opt_u32(e.line);
        w.str(&e.observed);
        w.opt_str(e.path.as_deref());
    }
    w.opt_str(v.fingerprint.as_deref());
    w.len(v.blocks.len());
    for &b in &v.blocks {
        w.len(b);
    }
    match &v.suppression {
        None => w.byte(0),
        Some(s) => {
            w.byte(1);
            w.uint(u64::from(s.line));
            w.str(&s.reason);
        }
    }
}

/// Reads what [`write_verdict`] wrote, for a plan of `controls` controls.
fn read_verdict(r: &mut Reader<'_>, controls: usize) -> Option<Verdict> {
    let control = |r: &mut Reader<'_>| {
        r.uint()
            .and_then(|c| usize::try_from(c).ok())
            .filter(|&c| c < controls)
    };
    let mut v = Verdict::new(control(r)?, byte_state(r.byte()?)?);
    v.object = r.opt_str()?;
    v.element = r.opt_str()?;
    v.location = match r.byte()? {
        0 => None,
        1 => Some(Location {
            column: r.opt_u32()?,
            end_column: r.opt_u32()?,
            line: r.u32()?,
            path: r.opt_str()?,
        }),
        _ => return None,
    };
    v.observed = r.opt_str()?;
    v.message = r.opt_str()?;
    let n = r.len()?;
    v.evidence = (0..n)
        .map(|_| {
            Some(Evidence {
                field: r.str()?,
                line: r.opt_u32()?,
                observed: r.str()?,
                path: r.opt_str()?,
            })
        })
        .collect::<Option<_>>()?;
    v.fingerprint = r.opt_str()?;
    let n = r.len()?;
    v.blocks = (0..n).map(|_| control(r)).collect::<Option<_>>()?;
    v.suppression = match r.byte()? {
        0 => None,
        1 => Some(SuppressionRef {
            line: r.u32()?,
            reason: r.str()?,
        }),
        _ => return None,
    };
    Some(v)
}

fn state_byte(s: State) -> u8 {
    match s {
        State::Pass => 0,
        State::Fail => 1,
        State::Error => 2,
        State::NotApplicable => 3,
        State::Waived => 4,
        State::Baselined => 5,
        State::Suppressed => 6,
    }
}

fn byte_state(b: u8) -> Option<State> {
    Some(match b {
        0 => State::Pass,
        1 => State::Fail,
        2 => State::Error,
        3 => State::NotApplicable,
        4 => State::Waived,
        5 => State::Baselined,
        6 => State::Suppressed,
        _ => return None,
    })
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn uint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn len(&mut self, n: usize) {
        self.uint(n as u64);
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.byte(0),
            Some(s) => {
                self.byte(1);
                self.str(s);
            }
        }
    }

    fn opt_u32(&mut self, n: Option<u32>) {
        match n {
            None => self.byte(0),
            Some(n) => {
                self.byte(1);
                self.uint(u64::from(n));
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn uint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uint()?).ok()
    }

    /// A count: never more than the bytes left could hold, so a damaged count cannot ask for a
    /// huge allocation.
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.uint()?)
            .ok()
            .filter(|&n| n <= self.0.len().max(1) * 8)
    }

    fn str(&mut self) -> Option<String> {
        let n = usize::try_from(self.uint()?).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(s.to_vec()).ok()
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.str().map(Some),
            _ => None,
        }
    }

    fn opt_u32(&mut self) -> Option<Option<u32>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.u32().map(Some),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Judged {
        let mut pass = Verdict::new(0, State::Pass);
        pass.object = Some("Deployment/prod/web".into());
        pass.location = Some(Location {
            column: None,
            end_column: None,
            line: 7,
            path: None,
        });
        let mut fail = Verdict::new(2, State::Suppressed);
        fail.element = Some("container \"web\"".into());
        fail.location = Some(Location {
            column: Some(3),
            end_column: Some(19),
            line: 300,
            path: Some("conf.d/a.conf".into()),
        });
        fail.observed = Some("(absent)".into());
        fail.message = Some("é and ✓ survive".into());
        fail.evidence = vec![
            Evidence {
                field: "containers[0].securityContext".into(),
                line: Some(12),
                observed: "x".repeat(200),
                path: None,
            },
            Evidence {
                field: "b".into(),
                line: None,
                observed: String::new(),
                path: Some("p".into()),
            },
        ];
        fail.fingerprint = Some("ab12".into());
        fail.blocks = vec![1, 2, 900];
        fail.suppression = Some(SuppressionRef {
            line: 4,
            reason: "accepted".into(),
        });
        let mut stats = Stats {
            file_seen: true,
            read: true,
            binary_skipped: true,
            bytes: 1 << 40,
            ..Stats::default()
        };
        stats.documents.insert(Cow::Borrowed("kubernetes"), 3);
        stats.documents.insert(Cow::Borrowed("file"), 1);
        Judged {
            verdicts: vec![pass, fail],
            clean: vec![1, 0, 900],
            stats,
            shown_name: Some("a/[REDACTED]".into()),
            environments: vec![0, 3],
            ..Judged::default()
        }
    }

    #[test]
    fn what_is_encoded_decodes_to_the_same_verdicts() {
        let judged = sample();
        let mut bytes = Vec::new();
        encode(&judged, &mut bytes).unwrap();
        // Indices far above the bytes that follow them (the clean list ends the verdicts).
        let back = decode(&bytes, 901, vec![0, 3]).unwrap();
        assert_eq!(back.verdicts, judged.verdicts);
        assert_eq!(back.clean, judged.clean);
        assert_eq!(back.shown_name, judged.shown_name);
        assert_eq!(back.environments, vec![0, 3]);
        let s = &back.stats;
        assert!(s.file_seen && s.read && s.binary_skipped && !s.too_large && !s.symlink_skipped);
        assert_eq!(s.bytes, 1 << 40);
        assert_eq!(
            s.documents.iter().collect::<Vec<_>>(),
            judged.stats.documents.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn damaged_bytes_and_unknown_controls_are_refused_not_misread() {
        let mut bytes = Vec::new();
        encode(&sample(), &mut bytes).unwrap();
        assert!(
            decode(&bytes, 900, Vec::new()).is_none(),
            "control 900 of 900"
        );
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut], 901, Vec::new()).is_none(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, 901, Vec::new()).is_none());
        // Every single flipped byte either fails or decodes to something: never a panic.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode(&b, 901, Vec::new());
        }
    }

    #[test]
    fn a_verdict_about_the_file_itself_is_not_cached() {
        let mut judged = sample();
        judged.verdicts[0].kind = Some("file");
        assert!(encode(&judged, &mut Vec::new()).is_none());
    }
}
