//! Identities and the cryptography of the wire protocol, all on `ring`.
//!
//! - Ed25519 identities for the master and each minion, PKCS#8 PEM on disk (0600),
//!   public keys as SPKI PEM, fingerprints as colon-separated SHA-256 hex.
//! - An X25519 ephemeral exchange plus HKDF-SHA256 derives each session's key.
//! - AES-256-GCM seals session frames (counter nonces, one counter per direction)
//!   and publications (random nonces under the shared publish key).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::agreement::{self, EphemeralPrivateKey, X25519};
use ring::digest::{SHA256, digest};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use thiserror::Error;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid {what} PEM file")]
    BadPem { path: String, what: &'static str },
    #[error("invalid Ed25519 public key")]
    BadPublicKey,
    #[error("signature verification failed")]
    BadSignature,
    #[error("decryption failed (wrong key, tampered data or replayed nonce)")]
    Decrypt,
    #[error("key agreement failed")]
    Agreement,
    #[error("the system random source failed")]
    Random,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CryptoError + '_ {
    move |source| CryptoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Random bytes from the OS.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CryptoError::Random)?;
    Ok(buf)
}

/// An Ed25519 key pair: the identity of a master or a minion.
pub struct Identity {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.public().fingerprint())
    }
}

impl Identity {
    pub fn generate() -> Result<Self, CryptoError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| CryptoError::Random)?;
        Self::from_pkcs8(doc.as_ref().to_vec()).ok_or(CryptoError::Random)
    }

    fn from_pkcs8(pkcs8: Vec<u8>) -> Option<Self> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).ok()?;
        Some(Identity { pair, pkcs8 })
    }

    /// Load the key pair at `path`, or create it (mode 0600) with its public
    /// half beside it (`<stem>.pub`) when it does not exist yet.
    pub fn load_or_generate(priv_path: &Path, pub_path: &Path) -> Result<Self, CryptoError> {
        if priv_path.exists() {
            let id = Self::load(priv_path)?;
            if !pub_path.exists() {
                write_file(pub_path, id.public().to_pem().as_bytes(), 0o644)?;
            }
            return Ok(id);
        }
        if let Some(dir) = priv_path.parent() {
            private_dir(dir).map_err(io_err(dir))?;
        }
        let id = Self::generate()?;
        write_file(priv_path, id.private_pem().as_bytes(), 0o600)?;
        write_file(pub_path, id.public().to_pem().as_bytes(), 0o644)?;
        Ok(id)
    }

    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let text = fs::read_to_string(path).map_err(io_err(path))?;
        let bad = || CryptoError::BadPem {
            path: path.display().to_string(),
            what: "Ed25519 PKCS#8 private key",
        };
        let der = pem_decode("PRIVATE KEY", &text).ok_or_else(bad)?;
        Self::from_pkcs8(der).ok_or_else(bad)
    }

    /// The key pair as `load` reads it (PKCS#8 PEM): a secret, for a
    /// file of mode 0600 only.
    pub fn private_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8)
    }

    pub fn public(&self) -> PublicKey {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(raw)
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }
}

/// Write `bytes` to `path` with `mode`, replacing it atomically and durably.
///
/// The temporary file is a dot-file unique to this process and call, created
/// exclusively, so two writers never share it and a leftover cannot pass for
/// a real file (key listings skip dot-files).
/// Make `dir` (and any missing parent) a directory only its owner can
/// enter: created 0700, or narrowed to 0700 when it already exists. For
/// `pki_dir` and `cachedir`, which hold keys, job returns and pillar.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Replace `path` with `bytes` (mode `mode`) so that a crash leaves the old
/// content or the new, never a mix, and the new is durable on return.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CryptoError> {
    StagedFile::write(path, bytes, mode)?.commit()?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Make the renames and removals in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), CryptoError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// A file's new content written and flushed beside it, not yet in place:
/// [`StagedFile::commit`] renames it over the file (one atomic step, which a
/// caller may take under a lock while the slow flush happened outside it);
/// dropped uncommitted, it is removed. The rename is durable once the
/// directory is synced ([`sync_dir`]).
pub struct StagedFile {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl StagedFile {
    pub fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<Self, CryptoError> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staged = StagedFile {
            tmp: path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id())),
            path: path.to_path_buf(),
            committed: false,
        };
        write_new(&staged.tmp, bytes, mode)?;
        Ok(staged)
    }

    /// Put the new content in place.
    pub fn commit(mut self) -> Result<(), CryptoError> {
        fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CryptoError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    // The umask may have narrowed the mode.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// An Ed25519 public key (32 raw bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let raw: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadPublicKey)?;
        Ok(PublicKey(raw))
    }

    pub fn to_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem_encode("PUBLIC KEY", &der)
    }

    pub fn from_pem(text: &str) -> Option<Self> {
        let der = pem_decode("PUBLIC KEY", text)?;
        let raw = der.strip_prefix(&ED25519_SPKI_PREFIX[..])?;
        Self::from_bytes(raw).ok()
    }

    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let text = fs::read_to_string(path).map_err(io_err(path))?;
        Self::from_pem(&text).ok_or_else(|| CryptoError::BadPem {
            path: path.display().to_string(),
            what: "Ed25519 public key",
        })
    }

    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(msg, sig)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// SHA-256 of the raw key as colon-separated hex, like `salt-key -f`.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.0)
    }
}

/// Signatures this process has already verified, by a digest of the exact
/// key, signature and message. Several simulated minions in one process
/// (`brine-swarm`) receive the same signed publication; each still checks it,
/// and a copy whose bytes passed [`PublicKey::verify`] here before passes
/// again without redoing the curve arithmetic (half a swarm's CPU in a
/// burst). A real minion receives each publication once and does not use it.
#[derive(Default)]
pub struct VerifiedSignatures {
    recent: std::sync::Mutex<std::collections::VecDeque<[u8; 32]>>,
}

impl VerifiedSignatures {
    /// How many verified signatures are remembered (the newest).
    const KEEP: usize = 64;

    /// [`PublicKey::verify`], answered from memory for bytes verified before.
    pub fn verify(&self, key: &PublicKey, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let id = signed_bytes_digest(key, msg, sig);
        let recent = || self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent().contains(&id) {
            return Ok(());
        }
        key.verify(msg, sig)?;
        let mut recent = recent();
        if recent.len() >= Self::KEEP {
            recent.pop_front();
        }
        recent.push_back(id);
        Ok(())
    }
}

/// SHA-256 over the key, the signature's length and bytes, and the message:
/// two different (key, signature, message) triples never share a digest.
fn signed_bytes_digest(key: &PublicKey, msg: &[u8], sig: &[u8]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&SHA256);
    ctx.update(&key.0);
    ctx.update(&(sig.len() as u64).to_be_bytes());
    ctx.update(sig);
    ctx.update(msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

pub fn fingerprint_of(bytes: &[u8]) -> String {
    digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(label: &str, text: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    let body: String = text[start..stop].split_whitespace().collect();
    B64.decode(body).ok()
}

/// One side of an X25519 ephemeral exchange.
pub struct Ephemeral {
    private: EphemeralPrivateKey,
    public: [u8; 32],
}

impl Ephemeral {
    pub fn generate() -> Result<Self, CryptoError> {
        let private = EphemeralPrivateKey::generate(&X25519, &SystemRandom::new())
            .map_err(|_| CryptoError::Random)?;
        let public_key = private
            .compute_public_key()
            .map_err(|_| CryptoError::Random)?;
        let mut public = [0u8; 32];
        public.copy_from_slice(public_key.as_ref());
        Ok(Ephemeral { private, public })
    }

    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// Agree with the peer's ephemeral key and derive the session key with
    /// HKDF-SHA256 (salt: the handshake nonce, info: binds both identities).
    pub fn derive_session(
        self,
        peer_public: &[u8],
        nonce: &[u8],
        info: &[u8],
    ) -> Result<SessionCipher, CryptoError> {
        let peer = agreement::UnparsedPublicKey::new(&X25519, peer_public);
        let key = agreement::agree_ephemeral(self.private, &peer, |shared| {
            let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, nonce).extract(shared);
            let info_parts = [info];
            let okm = prk
                .expand(&info_parts, &AES_256_GCM)
                .map_err(|_| CryptoError::Agreement)?;
            Ok::<_, CryptoError>(UnboundKey::from(okm))
        })
        .map_err(|_| CryptoError::Agreement)??;
        Ok(SessionCipher {
            key: LessSafeKey::new(key),
        })
    }
}

/// Which way a session frame travels; part of the nonce, so the two
/// directions never reuse a nonce under the shared session key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToMaster = 1,
    ToMinion = 2,
}

/// AES-256-GCM under a session key, with counter nonces.
pub struct SessionCipher {
    key: LessSafeKey,
}

impl SessionCipher {
    fn nonce(dir: Direction, counter: u64) -> Nonce {
        let mut n = [0u8; NONCE_LEN];
        n[..4].copy_from_slice(&(dir as u32).to_be_bytes());
        n[4..].copy_from_slice(&counter.to_be_bytes());
        Nonce::assume_unique_for_key(n)
    }

    pub fn seal(&self, dir: Direction, counter: u64, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        // Sealing cannot fail for inputs below GCM's 64 GiB limit, far above our frame cap.
        if self
            .key
            .seal_in_place_append_tag(Self::nonce(dir, counter), Aad::from(aad), &mut buf)
            .is_err()
        {
            buf.clear();
        }
        buf
    }

    pub fn open(
        &self,
        dir: Direction,
        counter: u64,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut buf = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(Self::nonce(dir, counter), Aad::from(aad), &mut buf)
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

/// Which session counters have been seen: a sliding window, as in IPsec and
/// DTLS. Frames may overtake each other (the master seals replies on
/// concurrent tasks), so a counter below the highest is still accepted once,
/// as long as it is within the window; anything older or already seen is a
/// replay.
#[derive(Debug, Default, Clone)]
pub struct ReplayWindow {
    highest: u64,
    /// Bit i set = counter `highest - i` was seen.
    seen: u128,
}

impl ReplayWindow {
    const SIZE: u64 = 128;

    /// A window where `counter` (e.g. the grant's 0) is already spent.
    pub fn starting_at(counter: u64) -> Self {
        ReplayWindow {
            highest: counter,
            seen: 1,
        }
    }

    /// Would `counter` be fresh? (Check before decrypting, record after.)
    pub fn is_fresh(&self, counter: u64) -> bool {
        if counter > self.highest {
            return true;
        }
        let age = self.highest - counter;
        age < Self::SIZE && self.seen & (1u128 << age) == 0
    }

    /// Record an authentic frame's counter.
    pub fn record(&mut self, counter: u64) {
        if counter > self.highest {
            let shift = counter - self.highest;
            self.seen = if shift >= Self::SIZE {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.highest = counter;
        } else {
            let age = self.highest - counter;
            if age < Self::SIZE {
                self.seen |= 1u128 << age;
            }
        }
    }
}

/// The symmetric key every accepted minion shares for publications.
#[derive(Clone)]
pub struct PublishKey {
    raw: [u8; 32],
    key: LessSafeKey,
}

impl std::fmt::Debug for PublishKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublishKey(..)")
    }
}

impl PublishKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Self::from_bytes(&random_bytes::<32>()?)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let raw: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Decrypt)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| CryptoError::Decrypt)?;
        Ok(PublishKey {
            raw,
            key: LessSafeKey::new(unbound),
        })
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.raw
    }

    /// Seal with a fresh random nonce; returns (nonce, ciphertext).
    pub fn seal(
        &self,
        aad: &[u8],
        plain: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), CryptoError> {
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CryptoError::Decrypt)?;
        Ok((nonce, buf))
    }

    pub fn open(&self, nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        let mut buf = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_through_pem_files_with_private_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pem, pubp) = (dir.path().join("k.pem"), dir.path().join("k.pub"));
        let a = Identity::load_or_generate(&pem, &pubp).expect("generate");
        let b = Identity::load_or_generate(&pem, &pubp).expect("load");
        assert_eq!(a.public(), b.public());
        assert_eq!(PublicKey::load(&pubp).expect("pub"), a.public());
        let mode = fs::metadata(&pem).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn signatures_verify_only_for_the_signed_message_and_key() {
        let a = Identity::generate().expect("a");
        let b = Identity::generate().expect("b");
        let sig = a.sign(b"hello");
        assert!(a.public().verify(b"hello", &sig).is_ok());
        assert!(a.public().verify(b"hellp", &sig).is_err());
        assert!(b.public().verify(b"hello", &sig).is_err());
        let memo = VerifiedSignatures::default();
        for _ in 0..2 {
            assert!(memo.verify(&a.public(), b"hello", &sig).is_ok());
            assert!(memo.verify(&a.public(), b"hellp", &sig).is_err());
            assert!(memo.verify(&b.public(), b"hello", &sig).is_err());
        }
    }

    #[test]
    fn both_sides_derive_the_same_session_key() {
        let (m, n) = (
            Ephemeral::generate().expect("m"),
            Ephemeral::generate().expect("n"),
        );
        let (mp, np) = (m.public(), n.public());
        let k1 = m.derive_session(&np, b"nonce", b"info").expect("k1");
        let k2 = n.derive_session(&mp, b"nonce", b"info").expect("k2");
        let sealed = k1.seal(Direction::ToMaster, 7, b"aad", b"secret");
        assert_eq!(
            k2.open(Direction::ToMaster, 7, b"aad", &sealed)
                .expect("open"),
            b"secret"
        );
        assert!(k2.open(Direction::ToMaster, 8, b"aad", &sealed).is_err());
        assert!(k2.open(Direction::ToMinion, 7, b"aad", &sealed).is_err());
        assert!(k2.open(Direction::ToMaster, 7, b"aae", &sealed).is_err());
    }

    #[test]
    fn publish_key_detects_tampering() {
        let k = PublishKey::generate().expect("k");
        let (nonce, mut ct) = k.seal(b"1:2:t", b"job").expect("seal");
        assert_eq!(k.open(&nonce, b"1:2:t", &ct).expect("open"), b"job");
        ct[0] ^= 1;
        assert!(k.open(&nonce, b"1:2:t", &ct).is_err());
    }

    #[test]
    fn replay_window_accepts_reordering_once_and_refuses_repeats() {
        let mut w = ReplayWindow::starting_at(0);
        assert!(!w.is_fresh(0));
        for c in [2, 1, 5, 3] {
            assert!(w.is_fresh(c), "{c}");
            w.record(c);
            assert!(!w.is_fresh(c), "{c} again");
        }
        assert!(w.is_fresh(4));
        w.record(300);
        assert!(!w.is_fresh(4), "far behind the window");
        assert!(w.is_fresh(299) && !w.is_fresh(300));
    }

    #[test]
    fn fingerprint_is_colon_hex_sha256() {
        let fp = fingerprint_of(b"");
        assert!(fp.starts_with("e3:b0:c4:42"));
        assert_eq!(fp.len(), 32 * 3 - 1);
    }
}
