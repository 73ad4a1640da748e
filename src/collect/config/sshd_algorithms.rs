//! sshd's algorithm lists with `+`, `-` and `^`, resolved as sshd resolves them (OpenSSH's
//! `kex_assemble_names`): `+a,b` appends to the default list, `-a,b*` removes every default that
//! matches one of the (wildcard) patterns, `^a,b` puts them first. A policy then judges the list sshd
//! would offer: `MACs -hmac-sha1*` leaves only the stronger defaults, `Ciphers +3des-cbc` adds a weak
//! cipher to them.
//!
//! The defaults are OpenSSH 9.x's (`myproposal.h`), the cipher, MAC and key exchange lists being
//! those the `ssh-hardening` pack states for an unset keyword; a keyword not listed here keeps its
//! value as written.

/// Default algorithm lists, by lowercase keyword.
const DEFAULTS: [(&str, &str); 6] = [
    (
        "ciphers",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    ),
    (
        "macs",
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    ),
    (
        "kexalgorithms",
        "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
    ),
    (
        "hostkeyalgorithms",
        "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256",
    ),
    (
        "pubkeyacceptedalgorithms",
        "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256",
    ),
    (
        "casignaturealgorithms",
        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256",
    ),
];

/// The list sshd would use for `keyword` set to `value`, when `value` modifies the default list;
/// `None` when it is a plain list (or the keyword has no known default).
pub fn resolve(keyword: &str, value: &str) -> Option<String> {
    let op = value
        .chars()
        .next()
        .filter(|c| matches!(c, '+' | '-' | '^'))?;
    let defaults: Vec<&str> = DEFAULTS
        .iter()
        .find(|(k, _)| *k == keyword)?
        .1
        .split(',')
        .collect();
    let given: Vec<&str> = value[1..].split(',').filter(|s| !s.is_empty()).collect();
    let list: Vec<&str> = match op {
        '+' => defaults
            .iter()
            .copied()
            .chain(given.iter().copied().filter(|g| !defaults.contains(g)))
            .collect(),
        '-' => defaults
            .iter()
            .copied()
            .filter(|d| !given.iter().any(|g| wildcard(g, d)))
            .collect(),
        _ => given
            .iter()
            .copied()
            .chain(defaults.iter().copied().filter(|d| !given.contains(d)))
            .collect(),
    };
    Some(list.join(","))
}

/// OpenSSH's `match_pattern`: `*` matches any run of characters, `?` any one.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point: linear in practice, never recursive.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_append_remove_and_prepend() {
        let macs = resolve("macs", "-hmac-sha1,umac-64*,hmac-sha1-etm@openssh.com").unwrap();
        assert_eq!(
            macs,
            "umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512"
        );
        let ciphers = resolve("ciphers", "+3des-cbc").unwrap();
        assert!(ciphers.ends_with(",aes256-gcm@openssh.com,3des-cbc"));
        let kex = resolve("kexalgorithms", "^curve25519-sha256").unwrap();
        assert!(kex.starts_with("curve25519-sha256,sntrup761x25519-sha512@openssh.com,"));
        assert_eq!(kex.matches("curve25519-sha256,").count(), 1);
        assert_eq!(resolve("ciphers", "aes256-ctr"), None, "a plain list");
        assert_eq!(resolve("permitrootlogin", "-x"), None);
    }

    #[test]
    fn wildcards_as_openssh_matches_them() {
        assert!(wildcard("hmac-sha1*", "hmac-sha1-etm@openssh.com"));
        assert!(wildcard("*-cbc", "aes128-cbc"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("hmac-sha1", "hmac-sha1-etm@openssh.com"));
        assert!(!wildcard("*-cbc", "aes128-ctr"));
    }
}
