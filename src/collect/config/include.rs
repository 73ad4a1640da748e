//! Where an `Include` (sshd) or `include` (nginx) leads: one resolution for both formats, so that a
//! configuration inside a scanned root filesystem reads its own drop-ins, never the host's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use globset::GlobMatcher;

use crate::collect::gate::Gate;

/// The files an include pattern names, in lexical order (as sshd and nginx read glob matches; a
/// glob that matches nothing names nothing). A relative pattern resolves against `base`, the main
/// file's directory (sshd's `/etc/ssh`, nginx's conf prefix); an absolute one inside the scanned
/// tree when that is a root filesystem ([`within_scanned_root`]). Directories are listed through the
/// gate, so that the verdict cache knows a new match is a change.
pub fn expand(base: &Path, pattern: &str, gate: &Gate) -> Vec<PathBuf> {
    let p = Path::new(pattern);
    let full = if p.is_absolute() {
        within_scanned_root(base, p)
    } else {
        base.join(p)
    };
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return vec![full];
    }
    let dir = full.parent().unwrap_or(Path::new("."));
    with_matcher(&name, |matcher| {
        gate.files_in(dir)
            .iter()
            .filter(|p| p.file_name().is_some_and(|n| matcher.is_match(n)))
            .cloned()
            .collect()
    })
    .unwrap_or_default()
}

/// Most file-name globs a thread keeps compiled.
const KEPT_GLOBS: usize = 64;

thread_local! {
    /// File-name globs this thread has compiled, by their text.
    static MATCHERS: RefCell<HashMap<String, GlobMatcher>> = RefCell::new(HashMap::new());
}

/// Calls `f` with the compiled matcher of the file-name glob `name`; `None` when it is not a glob.
/// Every host's configuration includes the same few globs (`*.conf`), and compiling one cost more
/// than listing its directory: so each thread keeps the ones it compiled, up to [`KEPT_GLOBS`].
fn with_matcher<T>(name: &str, f: impl FnOnce(&GlobMatcher) -> T) -> Option<T> {
    MATCHERS.with_borrow_mut(|kept| {
        if let Some(m) = kept.get(name) {
            return Some(f(m));
        }
        let matcher = globset::Glob::new(name).ok()?.compile_matcher();
        let answer = f(&matcher);
        if kept.len() >= KEPT_GLOBS {
            kept.clear();
        }
        kept.insert(name.to_string(), matcher);
        Some(answer)
    })
}

/// An absolute include path as it lies in the scanned tree: when the main file's directory ends
/// with the leading directories of `absolute` (`ROOT/etc/ssh` and `/etc/ssh/sshd_config.d/*.conf`),
/// the tree is a root filesystem and the path is read under `ROOT`; otherwise (a live `/etc/ssh`, or
/// a config copied elsewhere) the path is left as written.
fn within_scanned_root(base: &Path, absolute: &Path) -> PathBuf {
    let parts: Vec<&std::ffi::OsStr> = absolute
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    for k in (1..parts.len()).rev() {
        let lead: PathBuf = parts[..k].iter().collect();
        if base.ends_with(&lead) {
            let root: PathBuf = base
                .components()
                .take(base.components().count() - k)
                .collect();
            return root.join(parts.iter().collect::<PathBuf>());
        }
    }
    absolute.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_globs_answer_for_each_directory_and_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        for (sub, names) in [("a", &["x.conf", "y.txt"][..]), ("b", &["z.conf"][..])] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            for n in names {
                std::fs::write(dir.path().join(sub).join(n), "").unwrap();
            }
        }
        let gate = Gate::default();
        let names = |base: &str, pattern: &str| -> Vec<String> {
            expand(&dir.path().join(base), pattern, &gate)
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
                .collect()
        };
        // The same glob, compiled once, over two directories; then enough others to fill the
        // thread's store, after which the first is compiled again.
        assert_eq!(names("a", "*.conf"), ["x.conf"]);
        assert_eq!(names("b", "*.conf"), ["z.conf"]);
        for i in 0..=KEPT_GLOBS {
            assert!(names("a", &format!("*.{i}")).is_empty());
        }
        assert_eq!(names("a", "*.conf"), ["x.conf"]);
        assert_eq!(names("a", "[xy].*"), ["x.conf", "y.txt"]);
        assert!(names("a", "[.conf").is_empty(), "not a glob: names nothing");
    }

    #[test]
    fn absolute_paths_stay_inside_a_scanned_root() {
        let base = Path::new("image/etc/nginx");
        assert_eq!(
            within_scanned_root(base, Path::new("/etc/nginx/conf.d/a.conf")),
            Path::new("image/etc/nginx/conf.d/a.conf")
        );
        assert_eq!(
            within_scanned_root(
                Path::new("/etc/ssh"),
                Path::new("/etc/ssh/sshd_config.d/a.conf")
            ),
            Path::new("/etc/ssh/sshd_config.d/a.conf"),
            "a live configuration reads the live path"
        );
        assert_eq!(
            within_scanned_root(Path::new("copy"), Path::new("/etc/ssh/extra.conf")),
            Path::new("/etc/ssh/extra.conf"),
            "a configuration outside a root filesystem keeps the path as written"
        );
    }
}
