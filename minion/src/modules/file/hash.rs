//! File digests for `file.get_hash`, `file.stats hash_type=...` and
//! `file.find print=md5`: Salt's `hashutils.get_hash` forms md5, sha1,
//! sha224, sha256, sha384 and sha512, as lowercase hex.
//!
//! md5 comes from the `md-5` crate, SHA-224 (which `ring` lacks) from `sha2`,
//! and the rest of the SHA-1/SHA-2 family from `ring`.

use std::io::Read;
use std::path::Path;

use md5::Digest as _;

/// A running digest of one of [`FORMS`].
enum Hasher {
    Md5(md5::Md5),
    Ring(ring::digest::Context),
    Sha224(sha2::Sha224),
}

impl Hasher {
    fn new(form: &str) -> Option<Hasher> {
        use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA384, SHA512};
        Some(match form {
            "md5" => Hasher::Md5(md5::Md5::new()),
            "sha1" => Hasher::Ring(Context::new(&SHA1_FOR_LEGACY_USE_ONLY)),
            "sha224" => Hasher::Sha224(sha2::Sha224::new()),
            "sha256" => Hasher::Ring(Context::new(&SHA256)),
            "sha384" => Hasher::Ring(Context::new(&SHA384)),
            "sha512" => Hasher::Ring(Context::new(&SHA512)),
            _ => return None,
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Ring(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Ring(h) => h.finish().as_ref().to_vec(),
            Hasher::Sha224(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("Invalid hash type: {0}")]
    InvalidForm(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The hex digest of the file at `path`, read `chunk` bytes at a time.
pub fn file_digest(path: &Path, form: &str, chunk: usize) -> Result<String, HashError> {
    let mut hasher = Hasher::new(form).ok_or_else(|| HashError::InvalidForm(form.to_string()))?;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; chunk.clamp(1, 1 << 24)];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.hex())
}

/// The hex digest of bytes in memory.
pub fn digest(data: &[u8], form: &str) -> Option<String> {
    let mut hasher = Hasher::new(form)?;
    hasher.update(data);
    Some(hasher.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha224_matches_fips_examples() {
        assert_eq!(
            digest(b"abc", "sha224").expect("sha224"),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        assert_eq!(
            digest(b"", "sha224").expect("sha224"),
            "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"
        );
        assert_eq!(
            digest(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "sha224"
            )
            .expect("sha224"),
            "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"
        );
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            digest(&million, "sha224").expect("sha224"),
            "20794655980c91d8bbb4c1ea97618a4bf03f42581948b2ee4ee7ad67"
        );
    }

    #[test]
    fn every_form_hashes() {
        assert_eq!(
            digest(b"abc", "md5").expect("md5"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            digest(b"abc", "sha1").expect("sha1"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            digest(b"abc", "sha256").expect("sha256"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for form in ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"] {
            assert!(digest(b"x", form).is_some(), "{form}");
        }
        assert!(digest(b"x", "crc32").is_none());
    }
}
