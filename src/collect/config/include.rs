//! Where an `Include` (sshd) or `include` (nginx) leads: one resolution for both formats, so that a
//! configuration inside a scanned root filesystem reads its own drop-ins, never the host's.

use std::path::{Component, Path, PathBuf};

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
    let Ok(glob) = globset::Glob::new(&name) else {
        return Vec::new();
    };
    let matcher = glob.compile_matcher();
    gate.files_in(dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| matcher.is_match(n)))
        .collect()
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
