//! A toy collector of a new target kind: endpoints answered from memory instead of the network.
//! It is the whole of what a new collector takes: one module implementing `Collector`, and one
//! `Registry::with` line where the scan is set up.

use vigil::collect::{Collected, Collector, Document, Input, Kind, Request, Source, Target};
use vigil::doc::{Map, Node, Pos, Value};

/// Kind `memory_endpoint`: what an in-memory table says each endpoint offers.
pub struct MemoryEndpoints;

/// (endpoint, protocols it accepts, whether it staples OCSP)
const TABLE: &[(&str, &[&str], bool)] = &[
    ("alpha.example:443", &["TLSv1.2", "TLSv1.3"], true),
    ("beta.example:443", &["TLSv1.0", "TLSv1.2", "SSLv3"], false),
];

impl Collector for MemoryEndpoints {
    fn source(&self) -> Source {
        Source::Endpoint
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "memory_endpoint",
            summary: "an endpoint as an in-memory table describes it",
        }]
    }

    fn collect(&self, input: &Input<'_>, _request: &Request<'_>, out: &mut Vec<Collected>) {
        let Target::Endpoint(endpoint) = input.target else {
            return;
        };
        let Some((_, protocols, stapling)) = TABLE.iter().find(|(n, _, _)| *n == endpoint.name)
        else {
            // Fail closed: an endpoint that cannot be reached is an error, never a pass.
            out.push(Collected::Error {
                kind: None,
                variant: None,
                pos: None,
                message: format!("{} did not answer", endpoint.name),
            });
            return;
        };
        let at = Pos::default();
        let mut facts = Map::new();
        let offered = protocols
            .iter()
            .map(|p| {
                let mut m = Map::new();
                m.set_label(format!("protocol {p}"));
                m.insert("name", Node::str(at, *p));
                Node::new(at, Value::Map(m))
            })
            .collect();
        facts.insert("protocols", Node::new(at, Value::List(offered)));
        facts.insert("ocsp_stapling", Node::new(at, Value::Bool(*stapling)));
        out.push(Collected::Document {
            kind: "memory_endpoint",
            variant: None,
            document: Document::new(Node::new(at, Value::Map(facts))),
        });
    }
}
