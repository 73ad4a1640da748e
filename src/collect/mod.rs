//! Collectors: each turns a target into typed fact documents that policies judge.
//!
//! A collector knows how to read one kind of target (a file's bytes, a config format, the
//! certificates and private keys in a file); it knows nothing of policies. Adding a collector never touches the
//! engine's evaluation.

pub mod cert;
pub mod config;
pub mod file;
pub mod walk;

use std::path::PathBuf;

use crate::doc::Node;

/// One fact document produced from a target.
#[derive(Debug, Clone)]
pub struct Document {
    /// The facts.
    pub root: Node,
    /// A name for the document inside its file, such as `Deployment/prod/web`; `None` when the file
    /// holds a single document.
    pub label: Option<String>,
    /// Other files whose values are in the document (sshd `Include`): a value whose `pos.file` is
    /// `n` came from `included[n - 1]`.
    pub included: Vec<PathBuf>,
}

impl Document {
    /// A document with no label and no included files.
    pub fn new(root: Node) -> Document {
        Document {
            root,
            label: None,
            included: Vec::new(),
        }
    }
}
