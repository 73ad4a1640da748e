//! The registry of collectors: which collector produces which kind of document from which source.
//!
//! Policies are validated against it (a control's `kind`, its collector's options) and the engine
//! dispatches through it. The built-in collectors are registered in [`Registry::builtin`], one line
//! each; a program embedding vigil can add its own with [`Registry::with`].

use std::sync::Arc;

use super::{Collector, Kind, Source, cert, config, file, host, net, suppression};

/// Every collector a scan can use.
#[derive(Clone)]
pub struct Registry {
    collectors: Vec<Arc<dyn Collector>>,
}

impl Registry {
    /// The collectors built into vigil.
    pub fn builtin() -> Registry {
        Registry::empty()
            .with(file::FileCollector)
            .with(config::ConfigCollector)
            .with(cert::CertCollector)
            .with(host::HostCollector)
            .with(net::ssh::SshCollector)
            .with(net::tls::TlsCollector)
            .with(suppression::SuppressionCollector)
    }

    /// A registry with no collector.
    pub fn empty() -> Registry {
        Registry {
            collectors: Vec::new(),
        }
    }

    /// Adds a collector.
    pub fn with(mut self, collector: impl Collector + 'static) -> Registry {
        self.collectors.push(Arc::new(collector));
        self
    }

    /// The collectors, in registration order.
    pub fn collectors(&self) -> &[Arc<dyn Collector>] {
        &self.collectors
    }

    /// Every kind, once, in registration order.
    pub fn kinds(&self) -> Vec<Kind> {
        let mut out: Vec<Kind> = Vec::new();
        for c in &self.collectors {
            for k in c.kinds() {
                if !out.iter().any(|o| o.name == k.name) {
                    out.push(*k);
                }
            }
        }
        out
    }

    /// The registered name of a kind (so that kinds compare as `&'static str`).
    pub fn kind(&self, name: &str) -> Option<&'static str> {
        self.collectors
            .iter()
            .flat_map(|c| c.kinds())
            .find(|k| k.name == name)
            .map(|k| k.name)
    }

    /// The collectors that produce `kind`, with their index.
    pub fn producers<'r>(
        &'r self,
        kind: &'r str,
    ) -> impl Iterator<Item = (usize, &'r dyn Collector)> + 'r {
        self.collectors
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.kinds().iter().any(|k| k.name == kind))
            .map(|(i, c)| (i, c.as_ref()))
    }

    /// The collector that produces `kind` from `source`, with its index.
    pub fn producer<'r>(
        &'r self,
        kind: &'r str,
        source: Source,
    ) -> Option<(usize, &'r dyn Collector)> {
        self.producers(kind).find(|(_, c)| c.source() == source)
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.kinds().iter().map(|k| k.name).collect();
        f.debug_struct("Registry").field("kinds", &kinds).finish()
    }
}
