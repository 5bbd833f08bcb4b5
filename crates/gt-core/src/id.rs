//! Bead ids: `<prefix>-<base36 hash>`, with a hash length that grows with the
//! ledger so that ids stay short while the ledger is small.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Hash length for a ledger that already holds `count` ids with this prefix:
/// the chance that a fresh id collides stays near 1%.
pub fn hash_len_for(count: u64) -> usize {
    match count {
        0..500 => 3,
        500..17_000 => 4,
        17_000..600_000 => 5,
        600_000..21_000_000 => 6,
        _ => 8,
    }
}

/// The base36 hash of `seed`, `len` characters long.
pub fn hash36(seed: &[u8], len: usize) -> String {
    let digest = Sha256::digest(seed);
    let mut n = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(ALPHABET[(n % 36) as usize] as char);
        n /= 36;
    }
    out
}

/// A candidate id. `attempt` varies the seed on collision retries.
pub fn candidate(prefix: &str, title: &str, nanos: i128, attempt: u32, len: usize) -> String {
    let seed = format!(
        "{title}\u{0}{nanos}\u{0}{}\u{0}{attempt}",
        std::process::id()
    );
    format!("{prefix}-{}", hash36(seed.as_bytes(), len))
}

/// A prefix is 1 to 12 characters `[a-z][a-z0-9]*`.
pub fn validate_prefix(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 12
        && p.starts_with(|c: char| c.is_ascii_lowercase())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid id prefix '{}': use 1 to 12 characters a-z and 0-9, starting with a letter",
            p.escape_debug()
        )))
    }
}

/// An id typed by a user (full or partial) must look like an id before it is
/// looked up; this keeps odd bytes out of queries and messages.
pub fn validate_id_query(q: &str) -> Result<()> {
    let ok = !q.is_empty()
        && q.len() <= 200
        && q.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{}' is not a bead id",
            q.escape_debug()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_grows_with_ledger() {
        assert_eq!(hash_len_for(0), 3);
        assert_eq!(hash_len_for(499), 3);
        assert_eq!(hash_len_for(500), 4);
        assert_eq!(hash_len_for(100_000), 5);
        assert_eq!(hash_len_for(1_000_000), 6);
        let mut last = 0;
        for n in [0, 10, 1000, 20_000, 700_000, 30_000_000] {
            let l = hash_len_for(n);
            assert!(l >= last);
            last = l;
        }
    }

    #[test]
    fn candidates_are_base36_and_vary() {
        let a = candidate("hq", "t", 1, 0, 4);
        let b = candidate("hq", "t", 1, 1, 4);
        assert!(a.starts_with("hq-"));
        assert_eq!(a.len(), 7);
        assert_ne!(a, b);
        assert!(a[3..]
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
    }

    #[test]
    fn prefixes() {
        assert!(validate_prefix("hq").is_ok());
        assert!(validate_prefix("gt2").is_ok());
        assert!(validate_prefix("2gt").is_err());
        assert!(validate_prefix("Hq").is_err());
        assert!(validate_prefix("").is_err());
        assert!(validate_prefix("a-b").is_err());
    }

    #[test]
    fn id_queries() {
        assert!(validate_id_query("hq-4k2m").is_ok());
        assert!(validate_id_query("beads_rust-07b.1").is_ok());
        assert!(validate_id_query("hq-4k'; drop").is_err());
        assert!(validate_id_query("").is_err());
    }
}
