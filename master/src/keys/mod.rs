//! The minion key store: Salt's `pki_dir` layout and its auth rules.
//!
//! Each minion's Ed25519 public key (SPKI PEM) lives in one file named after
//! the minion id, in the directory of its state, exactly where Salt keeps it:
//!
//! | directory           | state                                               |
//! |---------------------|-----------------------------------------------------|
//! | `minions/`          | accepted                                            |
//! | `minions_pre/`      | pending (unaccepted)                                |
//! | `minions_rejected/` | rejected                                            |
//! | `minions_denied/`   | denied: another key presented for a known id        |
//!
//! An id is in at most one of accepted, pending and rejected: every write into
//! one of them removes the id from the other two (as Salt 3008's
//! `localfs_key.store` does). A denied file sits beside them: it records the
//! last key that was refused for that id and is not a state of the id.
//!
//! Rules follow Salt 3008 (`salt/channel/server.py` `_auth`, `salt/key.py`,
//! `salt/cache/localfs_key.py`, `salt/daemons/masterapi.py`):
//! - a rejected id is refused whatever key it presents, and rejection wins
//!   when an id somehow has several state files (rejected > pending > accepted);
//! - a key that differs from the accepted *or pending* one is written to
//!   `minions_denied/` and refused;
//! - symlinks and dot-files in the key directories are ignored;
//! - listings sort case-insensitively, like `salt.utils.data.sorted_ignorecase`.
//!
//! Mutations are serialised by a mutex, so concurrent auth requests and
//! `brine-key` commands in one master never interleave a read-decide-write.
//! The master's own key pair (`master.pem`, `master.pub`) lives in `pki_dir`
//! itself and is not touched here.
//!
//! The [`Keys`] trait is what the master asks of a key store; [`KeyStore`]
//! is the `pki_dir` one, [`PgKeyStore`] the one several masters share in
//! the cluster store (`cluster_store: postgres`). Both decide an auth
//! request with [`verdict`], so the rules above are written once.

mod postgres;

pub use postgres::{KeyChange, PgKeyStore};

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use brine_common::crypto::{PublicKey, StagedFile};
use brine_common::ids::MinionId;
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Mode of the key directories: only the master's user may list them.
const DIR_MODE: u32 = 0o700;
/// Mode of a public key file.
const KEY_MODE: u32 = 0o644;

/// The state of a minion key.
///
/// Variants are declared in the order of their JSON names, so sorting (and a
/// `BTreeMap<KeyState, _>`) gives the order `salt-key -L` prints them in:
/// Accepted, Denied, Unaccepted, Rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyState {
    #[serde(rename = "minions")]
    Accepted,
    #[serde(rename = "minions_denied")]
    Denied,
    #[serde(rename = "minions_pre")]
    Pending,
    #[serde(rename = "minions_rejected")]
    Rejected,
}

impl KeyState {
    /// Every state, in `salt-key -L` order.
    pub const ALL: [KeyState; 4] = [
        KeyState::Accepted,
        KeyState::Denied,
        KeyState::Pending,
        KeyState::Rejected,
    ];

    /// Salt's name for the state: its directory in `pki_dir` and its key in
    /// `salt-key --out json`.
    pub fn json_name(self) -> &'static str {
        match self {
            KeyState::Accepted => "minions",
            KeyState::Denied => "minions_denied",
            KeyState::Pending => "minions_pre",
            KeyState::Rejected => "minions_rejected",
        }
    }

    /// The heading `salt-key -L` prints above the state's ids.
    pub fn heading(self) -> &'static str {
        match self {
            KeyState::Accepted => "Accepted Keys:",
            KeyState::Denied => "Denied Keys:",
            KeyState::Pending => "Unaccepted Keys:",
            KeyState::Rejected => "Rejected Keys:",
        }
    }

    /// The state named by `salt-key -l ARG`, which matches on prefixes:
    /// `acc`, `pre`/`un`, `rej`, `den` (`all` is the caller's business).
    pub fn from_list_arg(arg: &str) -> Option<KeyState> {
        let arg = arg.to_ascii_lowercase();
        if arg.starts_with("acc") {
            Some(KeyState::Accepted)
        } else if arg.starts_with("pre") || arg.starts_with("un") {
            Some(KeyState::Pending)
        } else if arg.starts_with("rej") {
            Some(KeyState::Rejected)
        } else if arg.starts_with("den") {
            Some(KeyState::Denied)
        } else {
            None
        }
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json_name())
    }
}

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{}: not an Ed25519 public key in PEM form", .path.display())]
    BadKey { path: PathBuf },
    #[error("invalid key glob {pattern:?}: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("{max} keys are pending already (max_pending_keys): refused a new key")]
    PendingFull { max: usize },
    #[error("key store: {0}")]
    Cluster(#[from] crate::cluster_store::ClusterError),
    /// A request the store's rules do not allow, and why.
    #[error("{0}")]
    Refused(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> KeyError + 'a {
    move |source| KeyError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What the key store knows of an auth request under its lock: a decision,
/// or that the key is new and goes to this state (which depends only on the
/// auto-accept policy, so a second look under the lock finds the same one).
enum Decided {
    Known(AuthDecision),
    NewKey(KeyState),
}

/// What an auth request means, from the id's stored key alone: Salt 3008's
/// rules (the table of [`KeyStore::decide_auth`]). The store then does what
/// it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The id is rejected: refused whatever key it shows.
    Rejected,
    /// Another key than the stored accepted or pending one: record it as
    /// denied and refuse.
    Mismatch,
    /// The accepted key, presented again.
    Accepted,
    /// The pending key, with auto-accept: accept it now.
    AcceptPending,
    /// The pending key, without auto-accept: still pending.
    StillPending,
    /// An unknown id (or only a denied key on file): store the key in this
    /// state, after the `max_pending_keys` check when it is pending.
    New(KeyState),
}

/// The verdicts a store must write for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToWrite {
    Mismatch,
    AcceptPending,
    New(KeyState),
}

impl Verdict {
    /// The decision of a verdict that writes nothing (Rejected, Accepted,
    /// StillPending), said as every store says it; otherwise what the
    /// store has to write.
    pub fn without_write(self, id: &MinionId) -> Result<AuthDecision, ToWrite> {
        match self {
            Verdict::Rejected => Ok(AuthDecision::new(KeyState::Rejected, false, false)),
            Verdict::Accepted => Ok(AuthDecision::new(KeyState::Accepted, false, false)),
            Verdict::StillPending => {
                tracing::info!("key of {id} is pending: accept it with brine-key -a {id}");
                Ok(AuthDecision::new(KeyState::Pending, false, false))
            }
            Verdict::Mismatch => Err(ToWrite::Mismatch),
            Verdict::AcceptPending => Err(ToWrite::AcceptPending),
            Verdict::New(state) => Err(ToWrite::New(state)),
        }
    }
}

/// The [`Verdict`] for a request presenting `presented` for an id whose
/// state and key are `stored` (rejected > pending > accepted, see
/// [`KeyStore::lookup`]).
pub fn verdict(
    stored: Option<(KeyState, &PublicKey)>,
    presented: &PublicKey,
    auto: bool,
) -> Verdict {
    match stored {
        Some((KeyState::Rejected, _)) => Verdict::Rejected,
        Some((KeyState::Accepted | KeyState::Pending, key)) if key != presented => {
            Verdict::Mismatch
        }
        Some((KeyState::Accepted, _)) => Verdict::Accepted,
        Some((KeyState::Pending, _)) if auto => Verdict::AcceptPending,
        Some((KeyState::Pending, _)) => Verdict::StillPending,
        // `lookup` never answers Denied; it counts as unknown.
        Some((KeyState::Denied, _)) | None if auto => Verdict::New(KeyState::Accepted),
        Some((KeyState::Denied, _)) | None => Verdict::New(KeyState::Pending),
    }
}

/// The log line of a refused key that differs from the stored one.
fn log_mismatch(id: &MinionId) {
    tracing::error!(
        "authentication attempt from {id} failed: its public key does not match the \
         stored one; this may be an attempt to compromise the cluster"
    );
}

/// What the master asks of a key store: auth decisions, listings and the
/// `brine-key` commands. Every method may block on I/O.
pub trait Keys: Send + Sync + std::fmt::Debug {
    /// Decide an auth request and record what it changes (see
    /// [`KeyStore::decide_auth`]).
    fn decide_auth(
        &self,
        id: &MinionId,
        presented: &PublicKey,
        auto_accept: bool,
        autosign_patterns: &[String],
        max_pending: usize,
    ) -> Result<AuthDecision, KeyError>;

    /// The ids in `state`, sorted case-insensitively.
    fn list(&self, state: KeyState) -> Result<Vec<MinionId>, KeyError>;

    /// `id`'s state (accepted, pending or rejected) and key, if it has one.
    fn lookup(&self, id: &MinionId) -> Result<Option<(KeyState, PublicKey)>, KeyError>;

    /// Entries of the store that are not keys, as `<state>/<name>: <why>`.
    fn stray_files(&self) -> Result<Vec<String>, KeyError>;

    /// Move the ids matching `pattern` from `sources` (in priority order)
    /// to `target`; the ids moved, sorted.
    fn move_matching(
        &self,
        pattern: &str,
        sources: &[KeyState],
        target: KeyState,
    ) -> Result<Vec<MinionId>, KeyError>;

    /// Delete every key (in any state) whose id matches `pattern`. Returns the
    /// ids that lost at least one key, sorted.
    fn delete(&self, pattern: &str) -> Result<Vec<MinionId>, KeyError>;

    /// `(state, id, fingerprint)` of every key whose id matches `pattern`,
    /// ordered by state then id.
    fn fingerprints(&self, pattern: &str) -> Result<Vec<(KeyState, MinionId, String)>, KeyError>;

    /// Accept the pending keys whose id matches `pattern`, and the rejected
    /// and denied ones when asked. Returns the ids accepted, sorted.
    ///
    /// When an id matches in several source states, the first of pending,
    /// rejected, denied wins: accepting a denied key over a pending one takes
    /// an explicit second command.
    fn accept(
        &self,
        pattern: &str,
        include_rejected: bool,
        include_denied: bool,
    ) -> Result<Vec<MinionId>, KeyError> {
        let mut sources = vec![KeyState::Pending];
        if include_rejected {
            sources.push(KeyState::Rejected);
        }
        if include_denied {
            sources.push(KeyState::Denied);
        }
        self.move_matching(pattern, &sources, KeyState::Accepted)
    }

    /// Reject the pending keys whose id matches `pattern`, and the accepted
    /// and denied ones when asked. Returns the ids rejected, sorted.
    fn reject(
        &self,
        pattern: &str,
        include_accepted: bool,
        include_denied: bool,
    ) -> Result<Vec<MinionId>, KeyError> {
        let mut sources = vec![KeyState::Pending];
        if include_accepted {
            sources.push(KeyState::Accepted);
        }
        if include_denied {
            sources.push(KeyState::Denied);
        }
        self.move_matching(pattern, &sources, KeyState::Rejected)
    }
}

/// What the master does with an auth request, and what the key store changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthDecision {
    /// Accepted: the minion may have a session. Pending, Rejected, Denied:
    /// refused (Salt answers `ret: true` for pending so the minion retries).
    pub state: KeyState,
    /// The presented key was written to disk by this decision: a new pending
    /// key, an auto-accepted key, or a denied key.
    pub newly_stored: bool,
    /// The key was accepted by `auto_accept` or `autosign_file` just now.
    pub auto_accepted: bool,
}

impl AuthDecision {
    fn new(state: KeyState, newly_stored: bool, auto_accepted: bool) -> Self {
        AuthDecision {
            state,
            newly_stored,
            auto_accepted,
        }
    }

    /// Salt's `act` for the `salt/auth` event.
    pub fn act(&self) -> &'static str {
        match self.state {
            KeyState::Accepted => "accept",
            KeyState::Pending => "pend",
            KeyState::Rejected => "reject",
            KeyState::Denied => "denied",
        }
    }

    /// Salt's `result` for the `salt/auth` event: true for accept and pend.
    pub fn result(&self) -> bool {
        matches!(self.state, KeyState::Accepted | KeyState::Pending)
    }
}

/// The key directories under one `pki_dir`.
#[derive(Debug)]
pub struct KeyStore {
    pki_dir: PathBuf,
    /// Serialises every read-decide-write sequence of this process.
    lock: Mutex<()>,
}

impl KeyStore {
    /// Open the store, creating `pki_dir` and the four key directories (0700)
    /// when they are missing.
    pub fn open(pki_dir: impl AsRef<Path>) -> Result<KeyStore, KeyError> {
        let store = KeyStore {
            pki_dir: pki_dir.as_ref().to_path_buf(),
            lock: Mutex::new(()),
        };
        create_dir(&store.pki_dir)?;
        for state in KeyState::ALL {
            create_dir(&store.dir(state))?;
        }
        Ok(store)
    }

    pub fn pki_dir(&self) -> &Path {
        &self.pki_dir
    }

    /// The directory of a state.
    pub fn dir(&self, state: KeyState) -> PathBuf {
        self.pki_dir.join(state.json_name())
    }

    /// The file that holds `id`'s key in `state`.
    pub fn key_path(&self, state: KeyState, id: &MinionId) -> PathBuf {
        self.dir(state).join(id.as_str())
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state of `id` for auth purposes and its stored key. A rejected file
    /// wins over a pending one, which wins over an accepted one (Salt 3008's
    /// order, and the safe one should several exist). Denied is not a state of
    /// an id: see [`KeyStore::denied_key`].
    pub fn lookup(&self, id: &MinionId) -> Result<Option<(KeyState, PublicKey)>, KeyError> {
        for state in [KeyState::Rejected, KeyState::Pending, KeyState::Accepted] {
            if let Some(key) = self.read_key(state, id)? {
                return Ok(Some((state, key)));
            }
        }
        Ok(None)
    }

    /// The last key that was denied for `id`, if any.
    pub fn denied_key(&self, id: &MinionId) -> Result<Option<PublicKey>, KeyError> {
        self.read_key(KeyState::Denied, id)
    }

    /// Decide an auth request, as Salt's master `_auth` does, and record it:
    ///
    /// | stored state | presented key | auto-accept | result                       |
    /// |--------------|---------------|-------------|------------------------------|
    /// | rejected     | any           | any         | Rejected                     |
    /// | accepted     | same          | any         | Accepted                     |
    /// | accepted     | different     | any         | Denied (written to denied/)  |
    /// | pending      | different     | any         | Denied (written to denied/)  |
    /// | pending      | same          | yes         | Accepted (moved)             |
    /// | pending      | same          | no          | Pending                      |
    /// | none         | -             | yes         | Accepted (stored)            |
    /// | none         | -             | no          | Pending (stored)             |
    ///
    /// "auto-accept" is `auto_accept` or an `autosign_file` glob matching the id.
    /// A new key that would be pending while `max_pending` keys already are
    /// is refused ([`KeyError::PendingFull`]) and nothing is written.
    pub fn decide_auth(
        &self,
        id: &MinionId,
        presented: &PublicKey,
        auto_accept: bool,
        autosign_patterns: &[String],
        max_pending: usize,
    ) -> Result<AuthDecision, KeyError> {
        let auto = auto_accept || autosign_matches(id, autosign_patterns);
        let decided = {
            let _guard = self.guard();
            self.decide_known_key(id, presented, auto, max_pending)?
        };
        let state = match decided {
            Decided::Known(decision) => return Ok(decision),
            Decided::NewKey(state) => state,
        };
        // A new key's file is written and flushed (the slow part: a disk
        // flush) without the store's lock, so that a fleet authenticating at
        // once flushes in parallel rather than one key after another; then it
        // is put in place under the lock if the id is still unknown.
        let staged = stage_key_file(&self.dir(state), id, presented)?;
        {
            let _guard = self.guard();
            // Known meanwhile: the same minion asking twice, or brine-key.
            if let Decided::Known(decision) =
                self.decide_known_key(id, presented, auto, max_pending)?
            {
                return Ok(decision);
            }
            staged
                .commit()
                .map_err(key_write_error(&self.key_path(state, id)))?;
            self.remove_other_states(id, state)?;
        }
        sync_dir(&self.dir(state))?;
        if state == KeyState::Accepted {
            tracing::info!("new key of {id} accepted automatically");
        } else {
            tracing::info!("new key of {id} placed in pending");
        }
        Ok(AuthDecision::new(state, true, state == KeyState::Accepted))
    }

    /// The decision for an id whose key is on file, or the state a new key
    /// goes to (after the `max_pending_keys` check). Called under the lock.
    fn decide_known_key(
        &self,
        id: &MinionId,
        presented: &PublicKey,
        auto: bool,
        max_pending: usize,
    ) -> Result<Decided, KeyError> {
        let stored = self.lookup(id)?;
        let verdict = verdict(stored.as_ref().map(|(s, k)| (*s, k)), presented, auto);
        let to_write = match verdict.without_write(id) {
            Ok(decision) => return Ok(Decided::Known(decision)),
            Err(to_write) => to_write,
        };
        let decision = match to_write {
            ToWrite::Mismatch => {
                log_mismatch(id);
                let written = self.write_denied(id, presented)?;
                AuthDecision::new(KeyState::Denied, written, false)
            }
            ToWrite::AcceptPending => {
                self.move_key(id, KeyState::Pending, KeyState::Accepted)?;
                tracing::info!("pending key of {id} accepted automatically");
                AuthDecision::new(KeyState::Accepted, true, true)
            }
            ToWrite::New(KeyState::Pending) => {
                if self.pending_count(max_pending)? >= max_pending {
                    return Err(KeyError::PendingFull { max: max_pending });
                }
                return Ok(Decided::NewKey(KeyState::Pending));
            }
            ToWrite::New(state) => return Ok(Decided::NewKey(state)),
        };
        Ok(Decided::Known(decision))
    }

    /// How many keys are pending, counted from the directory (brine-key
    /// changes it from another process). Only new ids pay for it, and the
    /// count stops at `max_pending` entries.
    fn pending_count(&self, max_pending: usize) -> Result<usize, KeyError> {
        let dir = self.dir(KeyState::Pending);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        let names = entries.filter_map(|e| e.ok()).filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|name| !is_temporary_file(name))
        });
        Ok(names.take(max_pending).count())
    }

    /// The ids in `state`, sorted case-insensitively.
    pub fn list(&self, state: KeyState) -> Result<Vec<MinionId>, KeyError> {
        Ok(self.read_key_dir(state)?.ids)
    }

    /// Entries of the key directories that are not key files (a name that
    /// is not a valid minion id, like a hidden `.shadow`, or not a regular
    /// file), as `<state dir>/<name>: <why>`. Such a key can never
    /// authenticate; listings report them rather than hide them.
    pub fn stray_files(&self) -> Result<Vec<String>, KeyError> {
        let mut stray = Vec::new();
        for state in KeyState::ALL {
            for (name, why) in self.read_key_dir(state)?.stray {
                stray.push(format!("{}/{name}: {why}", state.json_name()));
            }
        }
        Ok(stray)
    }

    fn read_key_dir(&self, state: KeyState) -> Result<KeyDir, KeyError> {
        let dir = self.dir(state);
        let mut listing = KeyDir::default();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            // A directory removed behind our back simply holds no keys.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("list", &dir))?;
            match key_file_id(&entry) {
                KeyFile::Key(id) => listing.ids.push(id),
                KeyFile::Temporary => {}
                KeyFile::Stray(why) => listing
                    .stray
                    .push((entry.file_name().to_string_lossy().into_owned(), why)),
            }
        }
        sort_ids(&mut listing.ids);
        Ok(listing)
    }

    /// Every state with its ids (empty states included, as `salt-key -L` shows them).
    pub fn list_all(&self) -> Result<BTreeMap<KeyState, Vec<MinionId>>, KeyError> {
        KeyState::ALL
            .into_iter()
            .map(|state| Ok((state, self.list(state)?)))
            .collect()
    }

    /// Delete every key (in any state) whose id matches `pattern`. Returns the
    /// ids that lost at least one key, sorted.
    pub fn delete(&self, pattern: &str) -> Result<Vec<MinionId>, KeyError> {
        let matcher = IdPattern::new(pattern)?;
        let _guard = self.guard();
        let mut deleted = Vec::new();
        for state in KeyState::ALL {
            for id in self
                .list(state)?
                .into_iter()
                .filter(|id| matcher.matches(id))
            {
                if remove_file(&self.key_path(state, &id))? {
                    deleted.push(id);
                }
            }
        }
        self.sync_dirs(&KeyState::ALL)?;
        sort_ids(&mut deleted);
        deleted.dedup();
        Ok(deleted)
    }

    /// `(state, id, fingerprint)` of every key whose id matches `pattern`,
    /// ordered by state then id. A key file that cannot be read is logged and
    /// left out, so one bad file does not hide the others.
    pub fn fingerprints(
        &self,
        pattern: &str,
    ) -> Result<Vec<(KeyState, MinionId, String)>, KeyError> {
        let matcher = IdPattern::new(pattern)?;
        let mut out = Vec::new();
        for state in KeyState::ALL {
            for id in self
                .list(state)?
                .into_iter()
                .filter(|id| matcher.matches(id))
            {
                match self.read_key(state, &id) {
                    Ok(Some(key)) => out.push((state, id, key.fingerprint())),
                    Ok(None) => {} // removed since the listing
                    Err(e) => tracing::warn!("skipping key of {id}: {e}"),
                }
            }
        }
        Ok(out)
    }

    /// Move the ids matching `pattern` from `sources` (in priority order) to `target`.
    pub fn move_matching(
        &self,
        pattern: &str,
        sources: &[KeyState],
        target: KeyState,
    ) -> Result<Vec<MinionId>, KeyError> {
        let matcher = IdPattern::new(pattern)?;
        let _guard = self.guard();
        let mut moved: Vec<MinionId> = Vec::new();
        for &source in sources {
            for id in self
                .list(source)?
                .into_iter()
                .filter(|id| matcher.matches(id))
            {
                if moved.contains(&id) {
                    continue;
                }
                // Salt refuses to accept a file that is not a valid key; so do we.
                if let Err(e) = self.read_key(source, &id) {
                    tracing::error!("not moving the key of {id} to {target}: {e}");
                    continue;
                }
                self.move_key(&id, source, target)?;
                moved.push(id);
            }
        }
        sort_ids(&mut moved);
        Ok(moved)
    }

    /// Read `id`'s key in `state`: `None` when there is no such regular file.
    fn read_key(&self, state: KeyState, id: &MinionId) -> Result<Option<PublicKey>, KeyError> {
        let path = self.key_path(state, id);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        if !meta.file_type().is_file() {
            // Salt ignores symlinks here too: a key must be a file of its own.
            tracing::warn!("ignoring {}: not a regular file", path.display());
            return Ok(None);
        }
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        PublicKey::from_pem(&text)
            .map(Some)
            .ok_or(KeyError::BadKey { path })
    }

    /// Record a refused key in `minions_denied/`. Returns whether the file
    /// changed (the same refused key presented again writes nothing).
    fn write_denied(&self, id: &MinionId, key: &PublicKey) -> Result<bool, KeyError> {
        // An unreadable denied file is replaced rather than blocking the record.
        if let Ok(Some(existing)) = self.read_key(KeyState::Denied, id)
            && existing == *key
        {
            return Ok(false);
        }
        write_key_file(&self.dir(KeyState::Denied), id, key)?;
        Ok(true)
    }

    /// Move `id`'s key file from `from` to `to` (one atomic rename) and keep
    /// the id in one state only.
    fn move_key(&self, id: &MinionId, from: KeyState, to: KeyState) -> Result<(), KeyError> {
        let (src, dst) = (self.key_path(from, id), self.key_path(to, id));
        fs::rename(&src, &dst).map_err(io_err("move", &src))?;
        if to != KeyState::Denied {
            self.remove_other_states(id, to)?;
        }
        self.sync_dirs(&[from, to])
    }

    fn sync_dirs(&self, states: &[KeyState]) -> Result<(), KeyError> {
        states.iter().try_for_each(|&s| sync_dir(&self.dir(s)))
    }

    /// Remove `id` from the states of {accepted, pending, rejected} other than `keep`.
    fn remove_other_states(&self, id: &MinionId, keep: KeyState) -> Result<(), KeyError> {
        for state in [KeyState::Accepted, KeyState::Pending, KeyState::Rejected] {
            if state != keep && remove_file(&self.key_path(state, id))? {
                tracing::debug!("removed {id} from {state}");
                sync_dir(&self.dir(state))?;
            }
        }
        Ok(())
    }
}

/// The `pki_dir` store answers as its inherent methods do.
impl Keys for KeyStore {
    fn decide_auth(
        &self,
        id: &MinionId,
        presented: &PublicKey,
        auto_accept: bool,
        autosign_patterns: &[String],
        max_pending: usize,
    ) -> Result<AuthDecision, KeyError> {
        KeyStore::decide_auth(
            self,
            id,
            presented,
            auto_accept,
            autosign_patterns,
            max_pending,
        )
    }

    fn list(&self, state: KeyState) -> Result<Vec<MinionId>, KeyError> {
        KeyStore::list(self, state)
    }

    fn lookup(&self, id: &MinionId) -> Result<Option<(KeyState, PublicKey)>, KeyError> {
        KeyStore::lookup(self, id)
    }

    fn stray_files(&self) -> Result<Vec<String>, KeyError> {
        KeyStore::stray_files(self)
    }

    fn move_matching(
        &self,
        pattern: &str,
        sources: &[KeyState],
        target: KeyState,
    ) -> Result<Vec<MinionId>, KeyError> {
        KeyStore::move_matching(self, pattern, sources, target)
    }

    fn delete(&self, pattern: &str) -> Result<Vec<MinionId>, KeyError> {
        KeyStore::delete(self, pattern)
    }

    fn fingerprints(&self, pattern: &str) -> Result<Vec<(KeyState, MinionId, String)>, KeyError> {
        KeyStore::fingerprints(self, pattern)
    }
}

/// The key store `config` names, for a tool beside the master (`brine-key`
/// when no master answers, `brine-ssh --bootstrap`): `pki_dir`, or the
/// cluster store's, whose masters hear of changes as from one of them.
pub fn open_configured(
    config: &brine_common::config::MasterConfig,
) -> Result<std::sync::Arc<dyn Keys>, KeyError> {
    use crate::cluster_store::{Cluster, Settings};
    Ok(match config.cluster_store {
        brine_common::config::ClusterStore::Redb => {
            tracing::debug!("key store: {}", config.pki_dir.display());
            std::sync::Arc::new(KeyStore::open(&config.pki_dir)?)
        }
        brine_common::config::ClusterStore::Postgres => {
            let settings = Settings::from_config(&config.postgres)?;
            tracing::debug!("key store: {}", settings.target());
            std::sync::Arc::new(PgKeyStore::new(Cluster::open(settings)?))
        }
    })
}

/// A `brine-key` glob: Salt's fnmatch, or several separated by commas.
pub(crate) struct IdPattern {
    globs: Vec<GlobMatcher>,
}

impl IdPattern {
    pub(crate) fn new(pattern: &str) -> Result<Self, KeyError> {
        let globs = pattern
            .split(',')
            .map(|part| {
                compile_glob(part).map_err(|reason| KeyError::BadPattern {
                    pattern: pattern.to_string(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(IdPattern { globs })
    }

    pub(crate) fn matches(&self, id: &MinionId) -> bool {
        self.globs.iter().any(|g| g.is_match(id.as_str()))
    }
}

/// Compile one glob with fnmatch's rules: `*` also matches `/` and `.`, a
/// backslash is an ordinary character.
fn compile_glob(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| e.to_string())
}

/// Whether `id` matches one of the `autosign_file` patterns: the id itself
/// or a glob (Salt's `expr_match`, without its regular-expression fallback).
pub fn autosign_matches(id: &MinionId, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        p == id.as_str()
            || match compile_glob(p) {
                Ok(glob) => glob.is_match(id.as_str()),
                Err(e) => {
                    tracing::warn!("ignoring autosign pattern {p:?}: {e}");
                    false
                }
            }
    })
}

/// The patterns in Salt's `autosign_file`: one per line, surrounding blanks
/// trimmed, `#` comments and blank lines skipped. A missing file gives none.
///
/// Like Salt (`AutoKey.check_permissions`, default `permissive_pki_access:
/// False`), a file that others or its group may write is ignored with a
/// warning: whoever can write it could have any minion accepted.
pub fn autosign_patterns(path: &Path) -> Vec<String> {
    read_signing_file(path, false)
}

/// [`autosign_patterns`] with Salt's `permissive_pki_access`: when true, a
/// group-writable file is read too (never a world-writable one).
pub fn read_signing_file(path: &Path, permissive_pki_access: bool) -> Vec<String> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!("cannot read {}: {e}", path.display());
            return Vec::new();
        }
    };
    let mode = meta.permissions().mode();
    let group_writable = mode & 0o020 != 0;
    if mode & 0o002 != 0 || (group_writable && !permissive_pki_access) {
        tracing::warn!("wrong permissions for {}, ignoring content", path.display());
        return Vec::new();
    }
    match fs::read_to_string(path) {
        Ok(text) => parse_signing_file(&text),
        Err(e) => {
            tracing::warn!("cannot read {}: {e}", path.display());
            Vec::new()
        }
    }
}

fn parse_signing_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(String::from)
        .collect()
}

/// What a key directory holds.
#[derive(Default)]
struct KeyDir {
    ids: Vec<MinionId>,
    /// Entries that are not key files, with the reason.
    stray: Vec<(String, String)>,
}

/// What one entry of a key directory is.
enum KeyFile {
    Key(MinionId),
    /// A file `crypto::write_file` is writing.
    Temporary,
    /// Anything else, with the reason it is not a key file.
    Stray(String),
}

/// What a directory entry is: a key file is a regular file (not a symlink)
/// whose name is a valid id. Anything else but our own temporary files is
/// stray, reported and never silently skipped: a hidden `.shadow` once
/// authenticated while no listing showed it.
fn key_file_id(entry: &fs::DirEntry) -> KeyFile {
    let name = entry.file_name();
    let Some(name) = name.to_str() else {
        return KeyFile::Stray("not a valid minion id (not UTF-8)".into());
    };
    if is_temporary_file(name) {
        return KeyFile::Temporary;
    }
    if !entry.file_type().is_ok_and(|t| t.is_file()) {
        return KeyFile::Stray("not a regular file".into());
    }
    match MinionId::parse(name) {
        Ok(id) => KeyFile::Key(id),
        Err(e) => KeyFile::Stray(e.to_string()),
    }
}

/// A file `crypto::write_file` is in the middle of writing (`.<id>.<pid>.<n>.tmp`).
fn is_temporary_file(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Salt's `sorted_ignorecase`, with the exact name as tie-break so the order
/// is total.
pub(crate) fn sort_ids(ids: &mut [MinionId]) {
    ids.sort_by(|a, b| {
        let (la, lb) = (a.as_str().to_lowercase(), b.as_str().to_lowercase());
        la.cmp(&lb).then_with(|| a.cmp(b))
    });
}

fn create_dir(path: &Path) -> Result<(), KeyError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(io_err("create directory", path))
}

/// Remove a file; `false` when it did not exist.
fn remove_file(path: &Path) -> Result<bool, KeyError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

/// Write `key` to `dir/<id>` atomically, mode 0644.
fn write_key_file(dir: &Path, id: &MinionId, key: &PublicKey) -> Result<(), KeyError> {
    let path = dir.join(id.as_str());
    brine_common::crypto::write_file(&path, key.to_pem().as_bytes(), KEY_MODE)
        .map_err(key_write_error(&path))
}

/// `key` written and flushed beside `dir/<id>`, to be put in place later.
fn stage_key_file(dir: &Path, id: &MinionId, key: &PublicKey) -> Result<StagedFile, KeyError> {
    let path = dir.join(id.as_str());
    StagedFile::write(&path, key.to_pem().as_bytes(), KEY_MODE).map_err(key_write_error(&path))
}

fn key_write_error(path: &Path) -> impl FnOnce(brine_common::crypto::CryptoError) -> KeyError {
    let path = path.to_path_buf();
    move |e| KeyError::Io {
        action: "write",
        path,
        source: io_error_of(e),
    }
}

/// Make the renames and removals in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    brine_common::crypto::sync_dir(dir).map_err(|e| KeyError::Io {
        action: "sync",
        path: dir.to_path_buf(),
        source: io_error_of(e),
    })
}

/// The I/O error inside a crypto helper's error, kind and all (a full disk
/// stays `StorageFull`, a refused one `PermissionDenied`); the path is the
/// [`KeyError`]'s own.
fn io_error_of(e: brine_common::crypto::CryptoError) -> io::Error {
    match e {
        brine_common::crypto::CryptoError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brine_common::crypto::Identity;

    fn key() -> PublicKey {
        Identity::generate().expect("generate").public()
    }

    fn id(s: &str) -> MinionId {
        MinionId::parse(s).expect("id")
    }

    fn ids(list: &[&str]) -> Vec<MinionId> {
        list.iter().map(|s| id(s)).collect()
    }

    fn store() -> (tempfile::TempDir, KeyStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = KeyStore::open(dir.path().join("pki")).expect("open");
        (dir, store)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    /// Put `id` with `key` in `state` directly, as an operator or an earlier run would.
    fn place(store: &KeyStore, state: KeyState, name: &str, key: &PublicKey) {
        write_key_file(&store.dir(state), &id(name), key).expect("place");
    }

    #[test]
    fn open_creates_private_directories() {
        let (_dir, store) = store();
        for state in KeyState::ALL {
            assert_eq!(mode(&store.dir(state)), 0o700, "{state}");
        }
        assert!(store.dir(KeyState::Pending).ends_with("minions_pre"));
    }

    #[test]
    fn state_names_and_headings_are_salts() {
        assert_eq!(
            serde_json::to_value(KeyState::Pending).expect("json"),
            "minions_pre"
        );
        assert_eq!(
            serde_json::from_value::<KeyState>("minions_denied".into()).expect("json"),
            KeyState::Denied
        );
        let headings: Vec<_> = KeyState::ALL.iter().map(|s| s.heading()).collect();
        assert_eq!(
            headings,
            [
                "Accepted Keys:",
                "Denied Keys:",
                "Unaccepted Keys:",
                "Rejected Keys:"
            ]
        );
        assert_eq!(KeyState::from_list_arg("un"), Some(KeyState::Pending));
        assert_eq!(
            KeyState::from_list_arg("accepted"),
            Some(KeyState::Accepted)
        );
        assert_eq!(KeyState::from_list_arg("all"), None);
    }

    #[test]
    fn new_keys_beyond_max_pending_are_refused_unwritten() {
        let (_dir, store) = store();
        store
            .decide_auth(&id("a1"), &key(), false, &[], 2)
            .expect("first");
        store
            .decide_auth(&id("a2"), &key(), false, &[], 2)
            .expect("second");
        let third = store.decide_auth(&id("a3"), &key(), false, &[], 2);
        assert!(
            matches!(third, Err(KeyError::PendingFull { max: 2 })),
            "{third:?}"
        );
        assert_eq!(
            store.list(KeyState::Pending).expect("list"),
            ids(&["a1", "a2"])
        );
        // An id already pending, and auto-accepted ones, are not new pending keys.
        let k = key();
        store
            .decide_auth(&id("b1"), &k, true, &[], 2)
            .expect("auto");
        assert_eq!(
            store.lookup(&id("b1")).expect("lookup").map(|(s, _)| s),
            Some(KeyState::Accepted)
        );
    }

    #[test]
    fn unknown_minion_is_stored_pending_with_public_mode() {
        let (_dir, store) = store();
        let k = key();
        let d = store
            .decide_auth(&id("web1"), &k, false, &[], 1000)
            .expect("auth");
        assert_eq!(d, AuthDecision::new(KeyState::Pending, true, false));
        assert_eq!((d.act(), d.result()), ("pend", true));
        let path = store.key_path(KeyState::Pending, &id("web1"));
        assert_eq!(mode(&path), 0o644);
        assert_eq!(
            store.lookup(&id("web1")).expect("lookup"),
            Some((KeyState::Pending, k))
        );
        // Asking again with the same key changes nothing.
        let again = store
            .decide_auth(&id("web1"), &k, false, &[], 1000)
            .expect("auth");
        assert_eq!(again, AuthDecision::new(KeyState::Pending, false, false));
    }

    #[test]
    fn unknown_minion_is_accepted_by_auto_accept_or_autosign() {
        let (_dir, store) = store();
        let d = store
            .decide_auth(&id("a1"), &key(), true, &[], 1000)
            .expect("auth");
        assert_eq!(d, AuthDecision::new(KeyState::Accepted, true, true));
        let globs = vec!["web*".to_string()];
        let d = store
            .decide_auth(&id("web7"), &key(), false, &globs, 1000)
            .expect("auth");
        assert_eq!((d.state, d.auto_accepted), (KeyState::Accepted, true));
        let d = store
            .decide_auth(&id("db1"), &key(), false, &globs, 1000)
            .expect("auth");
        assert_eq!(d.state, KeyState::Pending);
        assert_eq!(
            store.list(KeyState::Accepted).expect("list"),
            ids(&["a1", "web7"])
        );
    }

    #[test]
    fn accepted_minion_with_same_key_is_accepted_without_writing() {
        let (_dir, store) = store();
        let k = key();
        place(&store, KeyState::Accepted, "web1", &k);
        let d = store
            .decide_auth(&id("web1"), &k, false, &[], 1000)
            .expect("auth");
        assert_eq!(d, AuthDecision::new(KeyState::Accepted, false, false));
        assert!(store.list(KeyState::Denied).expect("list").is_empty());
    }

    #[test]
    fn accepted_minion_with_different_key_is_denied_and_recorded() {
        let (_dir, store) = store();
        let (good, evil) = (key(), key());
        place(&store, KeyState::Accepted, "web1", &good);
        // auto_accept must not let a different key in either.
        let d = store
            .decide_auth(&id("web1"), &evil, true, &["*".into()], 1000)
            .expect("auth");
        assert_eq!(d, AuthDecision::new(KeyState::Denied, true, false));
        assert_eq!((d.act(), d.result()), ("denied", false));
        assert_eq!(store.denied_key(&id("web1")).expect("denied"), Some(evil));
        // The accepted key is untouched and still works.
        assert_eq!(
            store.lookup(&id("web1")).expect("lookup"),
            Some((KeyState::Accepted, good))
        );
        // The same impostor again: still denied, nothing rewritten.
        let again = store
            .decide_auth(&id("web1"), &evil, false, &[], 1000)
            .expect("auth");
        assert_eq!(again, AuthDecision::new(KeyState::Denied, false, false));
    }

    #[test]
    fn pending_minion_with_different_key_is_denied_like_salt() {
        let (_dir, store) = store();
        let (first, second) = (key(), key());
        store
            .decide_auth(&id("web1"), &first, false, &[], 1000)
            .expect("pend");
        for auto in [false, true] {
            let d = store
                .decide_auth(&id("web1"), &second, auto, &[], 1000)
                .expect("auth");
            assert_eq!(d.state, KeyState::Denied, "auto={auto}");
        }
        assert_eq!(
            store.lookup(&id("web1")).expect("lookup"),
            Some((KeyState::Pending, first))
        );
        assert_eq!(store.denied_key(&id("web1")).expect("denied"), Some(second));
    }

    #[test]
    fn pending_minion_is_moved_to_accepted_by_autosign() {
        let (_dir, store) = store();
        let k = key();
        store
            .decide_auth(&id("web1"), &k, false, &[], 1000)
            .expect("pend");
        let d = store
            .decide_auth(&id("web1"), &k, false, &["web?".into()], 1000)
            .expect("auth");
        assert_eq!(d, AuthDecision::new(KeyState::Accepted, true, true));
        assert_eq!(
            store.list(KeyState::Pending).expect("list"),
            Vec::<MinionId>::new()
        );
        assert_eq!(
            store.lookup(&id("web1")).expect("lookup"),
            Some((KeyState::Accepted, k))
        );
    }

    #[test]
    fn rejected_minion_is_refused_whatever_key_it_presents() {
        let (_dir, store) = store();
        let k = key();
        place(&store, KeyState::Rejected, "web1", &k);
        for presented in [k, key()] {
            let d = store
                .decide_auth(&id("web1"), &presented, true, &["*".into()], 1000)
                .expect("auth");
            assert_eq!(d, AuthDecision::new(KeyState::Rejected, false, false));
            assert_eq!((d.act(), d.result()), ("reject", false));
        }
        assert!(store.list(KeyState::Denied).expect("list").is_empty());
    }

    #[test]
    fn rejection_wins_when_an_id_has_several_state_files() {
        let (_dir, store) = store();
        let k = key();
        place(&store, KeyState::Accepted, "web1", &k);
        place(&store, KeyState::Rejected, "web1", &k);
        let d = store
            .decide_auth(&id("web1"), &k, false, &[], 1000)
            .expect("auth");
        assert_eq!(d.state, KeyState::Rejected);
    }

    #[test]
    fn a_new_key_asked_for_at_once_is_stored_once_and_a_rival_key_denied() {
        let (_dir, store) = store();
        let (mine, rival) = (key(), key());
        let decisions: Vec<_> = std::thread::scope(|scope| {
            let asks: Vec<_> = (0..8)
                .map(|i| {
                    let (store, presented) = (&store, if i == 7 { rival } else { mine });
                    scope.spawn(move || store.decide_auth(&id("web1"), &presented, true, &[], 10))
                })
                .collect();
            asks.into_iter()
                .map(|a| a.join().expect("thread").expect("decision"))
                .collect()
        });
        let stored = store.lookup(&id("web1")).expect("lookup");
        let (state, winner) = stored.expect("a key on file");
        assert_eq!(state, KeyState::Accepted);
        assert_eq!(
            decisions
                .iter()
                .filter(|d| d.newly_stored && d.state == KeyState::Accepted)
                .count(),
            1,
            "written once: {decisions:?}"
        );
        // Whichever key won, every ask with the other one was denied.
        for (i, d) in decisions.iter().enumerate() {
            let presented = if i == 7 { rival } else { mine };
            let expected = if presented == winner {
                KeyState::Accepted
            } else {
                KeyState::Denied
            };
            assert_eq!(d.state, expected, "ask {i}: {decisions:?}");
        }
        let names: Vec<_> = fs::read_dir(store.dir(KeyState::Accepted))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["web1"], "no staged file left behind");
    }

    #[test]
    fn corrupt_stored_key_is_an_error_not_an_accept() {
        let (_dir, store) = store();
        fs::write(store.key_path(KeyState::Accepted, &id("web1")), "not a key").expect("write");
        let err = store
            .decide_auth(&id("web1"), &key(), true, &[], 1000)
            .expect_err("corrupt");
        assert!(matches!(err, KeyError::BadKey { .. }), "{err}");
        assert!(err.to_string().contains("minions/web1"), "{err}");
    }

    #[test]
    fn symlinks_and_dot_files_are_not_keys() {
        let (dir, store) = store();
        let outside = dir.path().join("outside.pub");
        fs::write(&outside, key().to_pem()).expect("write");
        std::os::unix::fs::symlink(&outside, store.key_path(KeyState::Accepted, &id("evil")))
            .expect("symlink");
        fs::write(
            store.dir(KeyState::Accepted).join(".hidden"),
            key().to_pem(),
        )
        .expect("write");
        assert!(store.list(KeyState::Accepted).expect("list").is_empty());
        assert_eq!(store.lookup(&id("evil")).expect("lookup"), None);
    }

    #[test]
    fn list_is_sorted_ignoring_case_and_list_all_has_every_state() {
        let (_dir, store) = store();
        for name in ["web10", "Alpha", "beta", "web2"] {
            place(&store, KeyState::Accepted, name, &key());
        }
        place(&store, KeyState::Pending, "new", &key());
        assert_eq!(
            store.list(KeyState::Accepted).expect("list"),
            ids(&["Alpha", "beta", "web10", "web2"])
        );
        let all = store.list_all().expect("all");
        assert_eq!(
            all.keys().copied().collect::<Vec<_>>(),
            KeyState::ALL.to_vec()
        );
        assert_eq!(all[&KeyState::Pending], ids(&["new"]));
        assert!(all[&KeyState::Rejected].is_empty());
    }

    #[test]
    fn accept_moves_matching_pending_keys_only() {
        let (_dir, store) = store();
        for name in ["web1", "web2", "db1"] {
            place(&store, KeyState::Pending, name, &key());
        }
        place(&store, KeyState::Rejected, "web3", &key());
        assert_eq!(
            store.accept("web*", false, false).expect("accept"),
            ids(&["web1", "web2"])
        );
        assert_eq!(store.list(KeyState::Pending).expect("list"), ids(&["db1"]));
        assert_eq!(
            store.list(KeyState::Rejected).expect("list"),
            ids(&["web3"])
        );
        assert_eq!(
            store.accept("web*", true, false).expect("accept"),
            ids(&["web3"])
        );
        assert!(store.list(KeyState::Rejected).expect("list").is_empty());
        // Comma-separated globs, as salt-key takes them.
        place(&store, KeyState::Pending, "x1", &key());
        assert_eq!(
            store.accept("db1,x?", false, false).expect("accept"),
            ids(&["db1", "x1"])
        );
        assert_eq!(
            store.accept("*", false, false).expect("accept"),
            Vec::<MinionId>::new()
        );
    }

    #[test]
    fn accept_of_a_denied_key_replaces_the_accepted_one() {
        let (_dir, store) = store();
        let (old, new) = (key(), key());
        place(&store, KeyState::Accepted, "web1", &old);
        store
            .decide_auth(&id("web1"), &new, false, &[], 1000)
            .expect("deny");
        assert!(
            store
                .accept("web1", false, false)
                .expect("accept")
                .is_empty()
        );
        assert_eq!(
            store.accept("web1", false, true).expect("accept"),
            ids(&["web1"])
        );
        assert_eq!(
            store.lookup(&id("web1")).expect("lookup"),
            Some((KeyState::Accepted, new))
        );
        assert!(store.list(KeyState::Denied).expect("list").is_empty());
    }

    #[test]
    fn accept_skips_a_file_that_is_not_a_key() {
        let (_dir, store) = store();
        fs::write(store.key_path(KeyState::Pending, &id("junk")), "junk").expect("write");
        place(&store, KeyState::Pending, "ok", &key());
        assert_eq!(
            store.accept("*", false, false).expect("accept"),
            ids(&["ok"])
        );
        assert_eq!(store.list(KeyState::Pending).expect("list"), ids(&["junk"]));
    }

    #[test]
    fn reject_moves_pending_and_optionally_accepted_keys() {
        let (_dir, store) = store();
        place(&store, KeyState::Pending, "web1", &key());
        place(&store, KeyState::Accepted, "web2", &key());
        assert_eq!(
            store.reject("web*", false, false).expect("reject"),
            ids(&["web1"])
        );
        assert_eq!(
            store.list(KeyState::Accepted).expect("list"),
            ids(&["web2"])
        );
        assert_eq!(
            store.reject("web*", true, false).expect("reject"),
            ids(&["web2"])
        );
        assert_eq!(
            store.list(KeyState::Rejected).expect("list"),
            ids(&["web1", "web2"])
        );
        assert!(store.list(KeyState::Accepted).expect("list").is_empty());
        // Once rejected, the minion is refused.
        let d = store
            .decide_auth(&id("web2"), &key(), true, &[], 1000)
            .expect("auth");
        assert_eq!(d.state, KeyState::Rejected);
    }

    #[test]
    fn delete_removes_matching_keys_in_every_state() {
        let (_dir, store) = store();
        place(&store, KeyState::Accepted, "web1", &key());
        place(&store, KeyState::Denied, "web1", &key());
        place(&store, KeyState::Pending, "web2", &key());
        place(&store, KeyState::Rejected, "web3", &key());
        place(&store, KeyState::Accepted, "db1", &key());
        assert_eq!(
            store.delete("web*").expect("delete"),
            ids(&["web1", "web2", "web3"])
        );
        let all = store.list_all().expect("all");
        assert_eq!(all[&KeyState::Accepted], ids(&["db1"]));
        assert!(all[&KeyState::Denied].is_empty() && all[&KeyState::Pending].is_empty());
        assert_eq!(store.delete("*").expect("delete all"), ids(&["db1"]));
        // A deleted minion starts over as a new one.
        let d = store
            .decide_auth(&id("db1"), &key(), false, &[], 1000)
            .expect("auth");
        assert_eq!(d, AuthDecision::new(KeyState::Pending, true, false));
    }

    #[test]
    fn fingerprints_cover_matching_keys_in_state_order() {
        let (_dir, store) = store();
        let (a, b) = (key(), key());
        place(&store, KeyState::Pending, "web2", &b);
        place(&store, KeyState::Accepted, "web1", &a);
        place(&store, KeyState::Accepted, "db1", &key());
        let fps = store.fingerprints("web*").expect("fingerprints");
        assert_eq!(
            fps,
            vec![
                (KeyState::Accepted, id("web1"), a.fingerprint()),
                (KeyState::Pending, id("web2"), b.fingerprint()),
            ]
        );
    }

    #[test]
    fn bad_glob_is_a_clear_error() {
        let (_dir, store) = store();
        let err = store.accept("web[", false, false).expect_err("bad glob");
        assert!(err.to_string().contains("web["), "{err}");
    }

    #[test]
    fn ids_that_share_a_stem_do_not_share_a_temporary_file() {
        let (_dir, store) = store();
        let (a, b) = (key(), key());
        std::thread::scope(|s| {
            s.spawn(|| {
                store
                    .decide_auth(&id("web1.a"), &a, true, &[], 1000)
                    .expect("a")
            });
            s.spawn(|| {
                store
                    .decide_auth(&id("web1.b"), &b, true, &[], 1000)
                    .expect("b")
            });
        });
        assert_eq!(
            store.lookup(&id("web1.a")).expect("a"),
            Some((KeyState::Accepted, a))
        );
        assert_eq!(
            store.lookup(&id("web1.b")).expect("b"),
            Some((KeyState::Accepted, b))
        );
        assert_eq!(
            store.list(KeyState::Accepted).expect("list"),
            ids(&["web1.a", "web1.b"])
        );
    }

    #[test]
    fn autosign_file_is_read_like_salts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("autosign.conf");
        assert!(
            autosign_patterns(&path).is_empty(),
            "missing file gives none"
        );
        fs::write(&path, "# trusted hosts\nweb*\n\n  db[0-9]  \n#not-this\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let patterns = autosign_patterns(&path);
        assert_eq!(patterns, ["web*", "db[0-9]"]);
        assert!(autosign_matches(&id("web1.example.com"), &patterns));
        assert!(autosign_matches(&id("db7"), &patterns));
        assert!(!autosign_matches(&id("db10"), &patterns));
        assert!(!autosign_matches(&id("not-this"), &patterns));
    }

    #[test]
    fn autosign_file_writable_by_others_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("autosign.conf");
        fs::write(&path, "*\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).expect("chmod");
        assert!(autosign_patterns(&path).is_empty());
        assert!(
            read_signing_file(&path, true).is_empty(),
            "world-writable never"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).expect("chmod");
        assert!(
            autosign_patterns(&path).is_empty(),
            "group-writable by default"
        );
        assert_eq!(
            read_signing_file(&path, true),
            ["*"],
            "permissive_pki_access"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(autosign_patterns(&path), ["*"]);
    }

    /// A key file that cannot be written reports the system's reason, kind
    /// and all, naming the path once.
    #[test]
    fn a_failed_key_write_keeps_the_io_error_kind() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = dir.path().join("no-such-dir");
        let e = key_write_error(&missing.join("m1"))(brine_common::crypto::CryptoError::Io {
            path: missing.join("m1").display().to_string(),
            source: io::Error::from(io::ErrorKind::StorageFull),
        });
        let KeyError::Io { source, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::StorageFull);
        let text = e.to_string();
        assert_eq!(text.matches("no-such-dir").count(), 1, "{text}");
        let sync = sync_dir(&missing).expect_err("no such directory");
        let KeyError::Io { source, .. } = &sync else {
            panic!("{sync:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
    }
}
