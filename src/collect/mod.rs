//! Collectors: each turns a target into typed fact documents that policies judge.
//!
//! A target is a file found by the walk, a network endpoint or a host ([`Target`]). A collector reads
//! one source of targets and produces documents of one or more kinds (`config`, `certificate`...);
//! a control names the kind it judges, and the engine asks the collector that produces that kind for
//! that source. Collectors know nothing of policies, and the engine knows nothing of any collector:
//! adding one is a module implementing [`Collector`] and one line in [`Registry::builtin`].

pub mod buffer;
pub mod canonical;
pub mod cert;
pub mod config;
pub mod file;
pub mod gate;
pub mod host;
pub mod inventory;
pub mod net;
pub(crate) mod open;
mod registry;
pub mod suppression;
mod target;
pub mod walk;

use std::any::Any;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::doc::{Node, Pos};

pub use registry::Registry;
pub use target::{Endpoint, Host, Source, Target};

/// One fact document produced from a target.
#[derive(Debug, Clone)]
pub struct Document {
    /// The facts.
    pub root: Node,
    /// A name for the document inside its target, such as `Deployment/prod/web` or a certificate's
    /// subject; `None` when the target holds a single document.
    pub label: Option<String>,
    /// Other files whose values are in the document (sshd `Include`): a value whose `pos.file` is
    /// `n` came from `included[n - 1]`.
    pub included: Vec<PathBuf>,
    /// Where the document starts in its target (a certificate's PEM block), when that says more
    /// than "the whole file": a verdict whose evidence has no position points here.
    pub anchor: Option<Pos>,
}

impl Document {
    /// A document with no label, no included files and no anchor.
    pub fn new(root: Node) -> Document {
        Document {
            root,
            label: None,
            included: Vec::new(),
            anchor: None,
        }
    }
}

/// A kind of fact document, as a control's `target.kind` names it.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The name used in policies: `config`, `certificate`.
    pub name: &'static str,
    /// One line for `vigil policy` and the documentation.
    pub summary: &'static str,
}

/// A collector-specific field a control's target may set (`format` for `config`).
#[derive(Debug, Clone, Copy)]
pub struct TargetOption {
    /// The field name in the target mapping.
    pub name: &'static str,
    /// The values it accepts.
    pub values: &'static [&'static str],
}

/// Scan-wide settings every collector may read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The evaluation clock (`--at`, or the scan's start).
    pub at: OffsetDateTime,
    /// Trust anchors for certificate chains (`--trust-store`); the system store when `None`.
    pub trust_store: Option<PathBuf>,
    /// What files a collector may open beyond its target (included files, drop-ins).
    pub gate: gate::Gate,
    /// Time limits of network probes.
    pub net: net::Limits,
    /// The control ids loaded for the scan, sorted: an inline suppression naming none of them is
    /// reported (the `suppression` kind's `known` fact).
    pub control_ids: std::sync::Arc<[String]>,
}

/// What a collector prepared once per scan (a loaded trust store), handed back on every call.
pub struct Prepared {
    /// The collector's own state; [`Request::state`] gives it back.
    pub state: Box<dyn Any + Send + Sync>,
    /// Problems that do not stop the scan, as (what, why): a system trust store that cannot be
    /// read. They are reported as scan errors.
    pub warnings: Vec<(String, String)>,
    /// What documents of some of its kinds depend on besides the target itself (certificates on
    /// the evaluation clock and the trust anchors); `None` when the target alone decides.
    pub environment: Option<Environment>,
}

/// What a collector's documents of some kinds depend on besides the target. Verdicts cached by
/// `vigil scan --cache` on documents of these kinds are reused only while the bytes are the same.
/// (A collector that looks at other files must do so through [`gate::Gate`], which tells the cache
/// that the target does not decide alone.)
#[derive(Debug, Clone)]
pub struct Environment {
    /// The kinds whose documents depend on it.
    pub kinds: &'static [&'static str],
    /// It, as bytes (the clock's instant, a digest of the anchors).
    pub bytes: Vec<u8>,
}

impl Prepared {
    /// No state, no warnings.
    pub fn nothing() -> Prepared {
        Prepared {
            state: Box::new(()),
            warnings: Vec::new(),
            environment: None,
        }
    }
}

/// Why a collector cannot run at all: the scan stops before it starts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PrepareError(pub String);

/// A target with what the engine already read of it.
pub struct Input<'a> {
    /// The target.
    pub target: &'a Target,
    /// A file's contents, read once by the engine for every collector (`None` for other targets).
    pub bytes: Option<&'a [u8]>,
    /// Whether those bytes look binary (a NUL byte near the start).
    pub binary: bool,
}

/// One kind of document wanted from a target, in one variant (the config format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wanted {
    /// The kind.
    pub kind: &'static str,
    /// The variant, for collectors that have them.
    pub variant: Option<&'static str>,
}

/// The top-level fields of a fact document that the loaded controls read: a collector may skip
/// computing the others (the certificate collector validates chains only when a control reads
/// `chain_valid`, `chain_error` or `chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    /// Every field (`vigil facts`, or a path that starts with a wildcard).
    All,
    /// These keys, sorted and without repetition.
    Some(Vec<String>),
}

impl Fields {
    /// No field.
    pub fn none() -> Fields {
        Fields::Some(Vec::new())
    }

    /// Adds a key.
    pub fn add(&mut self, key: &str) {
        if let Fields::Some(keys) = self {
            if let Err(at) = keys.binary_search_by(|k| k.as_str().cmp(key)) {
                keys.insert(at, key.to_string());
            }
        }
    }

    /// Everything in `self` or `other`.
    pub fn merge(&mut self, other: &Fields) {
        match other {
            Fields::All => *self = Fields::All,
            Fields::Some(keys) => keys.iter().for_each(|k| self.add(k)),
        }
    }

    /// Whether `key` is read.
    pub fn contains(&self, key: &str) -> bool {
        match self {
            Fields::All => true,
            Fields::Some(keys) => keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok(),
        }
    }
}

/// The fields the controls read, for each kind of document a collector produces: kinds keyed by
/// names a policy chooses (host paths, sysctl keys, unit names) read only the names asked of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindFields {
    /// Every field of every kind (`vigil facts`).
    all: bool,
    by_kind: std::collections::BTreeMap<&'static str, Fields>,
}

/// What [`KindFields::of`] returns for a kind nobody reads, and for every kind of `all()`.
static NO_FIELDS: Fields = Fields::Some(Vec::new());
static ALL_FIELDS: Fields = Fields::All;

impl KindFields {
    /// Every field of every kind.
    pub fn all() -> KindFields {
        KindFields {
            all: true,
            by_kind: Default::default(),
        }
    }

    /// Adds the fields read of `kind`.
    pub fn add(&mut self, kind: &'static str, fields: &Fields) {
        self.by_kind
            .entry(kind)
            .or_insert_with(Fields::none)
            .merge(fields);
    }

    /// The fields read of `kind`.
    pub fn of(&self, kind: &str) -> &Fields {
        if self.all {
            return &ALL_FIELDS;
        }
        self.by_kind.get(kind).unwrap_or(&NO_FIELDS)
    }
}

/// What the engine asks of a collector for one target.
pub struct Request<'a> {
    /// The kinds and variants the applicable controls judge.
    pub wanted: &'a [Wanted],
    /// The fields the controls read, by kind; others may be left out.
    pub fields: &'a KindFields,
    /// Scan-wide settings.
    pub settings: &'a Settings,
    /// What [`Collector::prepare`] returned.
    pub state: &'a (dyn Any + Send + Sync),
}

impl Request<'_> {
    /// Whether documents of `kind` are wanted in any variant.
    pub fn wants(&self, kind: &str) -> bool {
        self.wanted.iter().any(|w| w.kind == kind)
    }
}

/// What a collector found: a document, or a part of the target it could not read.
#[derive(Debug)]
pub enum Collected {
    /// A fact document of one wanted kind and variant.
    Document {
        /// Its kind.
        kind: &'static str,
        /// Its variant.
        variant: Option<&'static str>,
        /// The facts.
        document: Document,
    },
    /// Something that could not be read or parsed; it blocks the controls of `kind` (every
    /// requested kind when `None`) and `variant` (every variant when `None`).
    Error {
        /// The kind of document that was lost.
        kind: Option<&'static str>,
        /// The variant that was lost.
        variant: Option<&'static str>,
        /// Where in the target, when known.
        pos: Option<Pos>,
        /// The reason, precise enough to act on.
        message: String,
    },
}

/// A collector: one source of targets, one or more kinds of fact documents.
pub trait Collector: Send + Sync {
    /// Which targets it reads.
    fn source(&self) -> Source;

    /// The kinds of document it produces.
    fn kinds(&self) -> &'static [Kind];

    /// Collector-specific fields a control's target may set.
    fn options(&self) -> &'static [TargetOption] {
        &[]
    }

    /// Whether controls of its kinds may use `pattern` checks over the target's raw text.
    fn reads_text(&self) -> bool {
        false
    }

    /// Whether its kinds describe what other controls judge rather than a target of their own
    /// (the inline suppressions of a file): its controls apply only to targets some other control
    /// applies to, so they never make a file be read, and their failures cannot be suppressed
    /// inline.
    fn companion(&self) -> bool {
        false
    }

    /// Runs once per scan, before any target, when a control needs this collector.
    fn prepare(&self, _settings: &Settings) -> Result<Prepared, PrepareError> {
        Ok(Prepared::nothing())
    }

    /// The variant of `kind` a control with these target options judges on `target` (the config
    /// format, given or inferred from the file name); an error message when it cannot be told.
    fn variant(
        &self,
        _kind: &'static str,
        _options: &std::collections::BTreeMap<String, String>,
        _target: &Target,
    ) -> Result<Option<&'static str>, String> {
        Ok(None)
    }

    /// The top-level fields a document of `kind` (of the variant a control's `format` names) can
    /// have, when the collector knows them all; `None` when any field may exist (YAML, sysctl).
    /// `vigil policy lint` warns of a key outside the list; `vigil facts --fields` prints it.
    fn known_fields(
        &self,
        _kind: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        None
    }

    /// Collects the wanted documents of one target into `out`.
    fn collect(&self, input: &Input<'_>, request: &Request<'_>, out: &mut Vec<Collected>);
}
