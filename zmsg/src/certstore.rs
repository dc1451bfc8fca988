//! `ZCertStore`: public certificates looked up by public key, from a directory or from memory.
//!
//! A directory store loads every public certificate file in its directory (files named
//! `*_secret` and hidden files are skipped, as are files that do not parse — with a `tracing`
//! warning). A lookup checks whether the directory changed — file names, sizes and modification
//! times, one `stat` per file — and reloads when it did, but at most once per
//! [`DEFAULT_CHECK_INTERVAL`] (5 s), so a flood of handshakes cannot make the store scan the
//! directory for each one; a certificate copied into the directory is accepted within that time.
//! [`ZCertStore::set_check_interval`] changes the interval (zero: check on every lookup, as
//! CZMQ's store does); [`ZCertStore::reload`] reloads at once.
//!
//! Certificates added with [`ZCertStore::insert`] live alongside the directory's and survive
//! reloads. The store is a cheap handle: clones share the same certificates (it is what
//! [`crate::ZAuth`] consults, so you can keep inserting after handing it over).
//!
//! ```
//! use zmsg::{ZCert, ZCertStore};
//! let store = ZCertStore::in_memory();
//! let cert = ZCert::new()?;
//! store.insert(cert.clone());
//! assert_eq!(store.lookup(&cert.public_txt()), Some(cert));
//! assert_eq!(store.lookup(&ZCert::new()?.public_txt()), None);
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::cert::ZCert;
use crate::error::Result;

/// How often, at most, a directory store checks its directory for changes by default.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// The largest file a directory store reads; bigger ones are not certificates.
const MAX_CERT_FILE: u64 = 64 * 1024;

/// A store of public certificates keyed by their Z85 public key.
#[derive(Clone)]
pub struct ZCertStore {
    inner: Arc<Mutex<Inner>>,
}

/// One directory entry as seen by the change check: name, size, modification time.
type Fingerprint = Vec<(OsString, u64, Option<SystemTime>)>;

struct Inner {
    location: Option<PathBuf>,
    from_disk: HashMap<String, ZCert>,
    inserted: HashMap<String, ZCert>,
    fingerprint: Option<Fingerprint>,
    check_interval: Duration,
    last_check: Option<Instant>,
}

impl ZCertStore {
    /// A store of the public certificates in `dir`, loaded now. A directory that does not exist
    /// (yet) gives an empty store that picks the directory up once it appears, as CZMQ's.
    pub fn new(dir: impl AsRef<Path>) -> Result<ZCertStore> {
        let store = ZCertStore::with_location(Some(dir.as_ref().to_path_buf()));
        store.reload()?;
        Ok(store)
    }

    /// An empty store held in memory only; fill it with [`ZCertStore::insert`].
    pub fn in_memory() -> ZCertStore {
        ZCertStore::with_location(None)
    }

    fn with_location(location: Option<PathBuf>) -> ZCertStore {
        ZCertStore {
            inner: Arc::new(Mutex::new(Inner {
                location,
                from_disk: HashMap::new(),
                inserted: HashMap::new(),
                fingerprint: None,
                check_interval: DEFAULT_CHECK_INTERVAL,
                last_check: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The store's data stays consistent even if a holder panicked mid-way: every update is a
        // single assignment.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The directory this store reads, if any.
    pub fn location(&self) -> Option<PathBuf> {
        self.lock().location.clone()
    }

    /// How often, at most, a lookup checks the directory for changes (default
    /// [`DEFAULT_CHECK_INTERVAL`]; zero: on every lookup).
    pub fn set_check_interval(&self, interval: Duration) {
        self.lock().check_interval = interval;
    }

    /// Adds (or replaces) a certificate in memory; it survives directory reloads.
    pub fn insert(&self, cert: ZCert) {
        self.lock().inserted.insert(cert.public_txt(), cert);
    }

    /// Removes a certificate added with [`ZCertStore::insert`].
    pub fn remove(&self, public_txt: &str) -> Option<ZCert> {
        self.lock().inserted.remove(public_txt)
    }

    /// The certificate with this Z85 public key, after reloading the directory if it changed.
    pub fn lookup(&self, public_txt: &str) -> Option<ZCert> {
        let mut inner = self.lock();
        inner.refresh_if_due();
        inner
            .inserted
            .get(public_txt)
            .or_else(|| inner.from_disk.get(public_txt))
            .cloned()
    }

    /// Reloads the directory now, whether or not it changed.
    pub fn reload(&self) -> Result<()> {
        let mut inner = self.lock();
        inner.fingerprint = None;
        inner.refresh();
        Ok(())
    }

    /// How many certificates the store holds (without checking the directory).
    pub fn len(&self) -> usize {
        let inner = self.lock();
        inner
            .from_disk
            .keys()
            .filter(|key| !inner.inserted.contains_key(*key))
            .count()
            + inner.inserted.len()
    }

    /// True when the store holds no certificate.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All certificates, directory ones first.
    pub fn certs(&self) -> Vec<ZCert> {
        let inner = self.lock();
        let mut certs: Vec<ZCert> = inner
            .from_disk
            .iter()
            .filter(|(key, _)| !inner.inserted.contains_key(*key))
            .map(|(_, cert)| cert.clone())
            .collect();
        certs.extend(inner.inserted.values().cloned());
        certs
    }
}

impl Inner {
    fn refresh_if_due(&mut self) {
        if self.location.is_none() {
            return;
        }
        let now = Instant::now();
        if let Some(last) = self.last_check {
            if now.duration_since(last) < self.check_interval {
                return;
            }
        }
        self.refresh();
    }

    /// Reloads the directory when its fingerprint differs from the one last loaded.
    fn refresh(&mut self) {
        let Some(dir) = self.location.clone() else {
            return;
        };
        self.last_check = Some(Instant::now());
        let (fingerprint, files) = scan(&dir);
        if self.fingerprint.as_ref() == Some(&fingerprint) {
            return;
        }
        let mut certs = HashMap::new();
        for path in files {
            match ZCert::load_file(&path) {
                Ok(cert) => {
                    certs.insert(cert.public_txt(), cert);
                }
                Err(err) => {
                    tracing::warn!(%err, "certificate store: skipping a file that is not a certificate")
                }
            }
        }
        tracing::debug!(dir = %dir.display(), count = certs.len(), "certificate store loaded");
        self.from_disk = certs;
        self.fingerprint = Some(fingerprint);
    }
}

/// The certificate candidates in `dir` and the fingerprint of the directory's contents.
fn scan(dir: &Path) -> (Fingerprint, Vec<PathBuf>) {
    let mut fingerprint = Vec::new();
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            tracing::debug!(dir = %dir.display(), %err, "certificate store: cannot read directory");
            return (fingerprint, files);
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with('.') || text.ends_with("_secret") {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        fingerprint.push((name.clone(), meta.len(), meta.modified().ok()));
        if meta.len() > MAX_CERT_FILE {
            tracing::warn!(file = %path.display(), "certificate store: skipping an oversized file");
            continue;
        }
        files.push(path);
    }
    fingerprint.sort();
    (fingerprint, files)
}

impl std::fmt::Debug for ZCertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("ZCertStore")
            .field("location", &inner.location)
            .field("from_disk", &inner.from_disk.len())
            .field("inserted", &inner.inserted.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zmsg-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn directory_store_sees_new_files_and_skips_bad_ones() {
        let dir = temp_dir("dir");
        let alice = ZCert::new().unwrap();
        alice.save(dir.join("alice")).unwrap();
        std::fs::write(dir.join("garbage.txt"), "this is not\n  a certificate").unwrap();
        std::fs::write(dir.join("empty"), "").unwrap();
        std::fs::create_dir(dir.join("subdir")).unwrap();

        let store = ZCertStore::new(&dir).unwrap();
        store.set_check_interval(Duration::ZERO);
        assert_eq!(store.len(), 1);
        let found = store.lookup(&alice.public_txt()).unwrap();
        assert_eq!(found.public_key(), alice.public_key());
        assert!(
            found.is_public_only(),
            "the store holds public certificates"
        );

        let bob = ZCert::new().unwrap();
        assert!(store.lookup(&bob.public_txt()).is_none());
        bob.save_public(dir.join("bob")).unwrap();
        assert!(
            store.lookup(&bob.public_txt()).is_some(),
            "picked up on lookup"
        );

        std::fs::remove_file(dir.join("alice")).unwrap();
        assert!(
            store.lookup(&alice.public_txt()).is_none(),
            "removal seen too"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn check_interval_defers_until_reload() {
        let dir = temp_dir("interval");
        let store = ZCertStore::new(&dir).unwrap();
        store.set_check_interval(Duration::from_secs(3600));
        let carol = ZCert::new().unwrap();
        assert!(store.lookup(&carol.public_txt()).is_none());
        carol.save_public(dir.join("carol")).unwrap();
        assert!(
            store.lookup(&carol.public_txt()).is_none(),
            "not checked yet"
        );
        store.reload().unwrap();
        assert!(store.lookup(&carol.public_txt()).is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn by_default_a_lookup_does_not_rescan_the_directory() {
        let dir = temp_dir("default-interval");
        let store = ZCertStore::new(&dir).unwrap();
        let frank = ZCert::new().unwrap();
        assert!(store.lookup(&frank.public_txt()).is_none());
        frank.save_public(dir.join("frank")).unwrap();
        // A handshake flood must not turn into a directory scan per handshake.
        for _ in 0..100 {
            assert!(store.lookup(&frank.public_txt()).is_none());
        }
        store.reload().unwrap();
        assert!(store.lookup(&frank.public_txt()).is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_directory_is_empty_until_created() {
        let dir = temp_dir("missing").join("later");
        let store = ZCertStore::new(&dir).unwrap();
        store.set_check_interval(Duration::ZERO);
        assert!(store.is_empty());
        std::fs::create_dir(&dir).unwrap();
        let dave = ZCert::new().unwrap();
        dave.save(dir.join("dave")).unwrap();
        assert!(store.lookup(&dave.public_txt()).is_some());
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn inserted_certs_survive_reload() {
        let dir = temp_dir("insert");
        let store = ZCertStore::new(&dir).unwrap();
        let erin = ZCert::new().unwrap();
        store.insert(erin.clone());
        store.reload().unwrap();
        assert_eq!(store.lookup(&erin.public_txt()), Some(erin.clone()));
        assert_eq!(store.certs().len(), 1);
        assert_eq!(store.remove(&erin.public_txt()), Some(erin));
        assert!(store.is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
