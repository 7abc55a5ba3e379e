//! The durable cache: survives the process. [`SqliteCache`] keeps it in its own SQLite file
//! (`~/.cache/testwerk/images.db` by default), apart from the results store.
//!
//! A cache is an optimisation: when it cannot be opened, read or written (a full disk, a
//! damaged or locked file), the lookup goes to the registry and still succeeds. Such a failure
//! is never silent, though: the first one of a cache is a `tracing` warning naming the file and
//! the error (a user then knows why every lookup is slow), later ones are debug lines, so a
//! broken cache does not repeat the same warning for every image.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::TagEntry;
use super::access::{SALT_LEN, random_salt};
use crate::environment::Environment;
use crate::lookup::ImageInfo;

/// Where lookups persist. Failures are the implementation's to swallow or report: a cache
/// that cannot be read is a miss, never a failed lookup.
///
/// Keys are opaque to the implementation; they already say which repository and which access
/// (anonymous, or a salted fingerprint of one credential) an entry belongs to.
pub trait DurableCache: Send + Sync {
    /// The cache's own random salt for credential fingerprints, created on first use and the
    /// same for every process sharing the cache. `None` (unreadable cache): the client uses a
    /// salt of its own, so nothing it writes can be found again by anyone else.
    fn salt(&self) -> Option<Vec<u8>>;
    /// A tag's digest by `registry/repository:tag|access`.
    fn tag(&self, key: &str) -> Option<TagEntry>;
    fn put_tag(&self, key: &str, entry: &TagEntry);
    /// Metadata by `registry/repository@digest|platform|access`.
    fn image(&self, key: &str) -> Option<ImageInfo>;
    fn put_image(&self, key: &str, info: &ImageInfo);
}

/// A [`DurableCache`] in a SQLite file. One connection, serialised: writes are rare (one per
/// fetched image) and reads only happen on a memory miss.
pub struct SqliteCache {
    /// Opened on first use when [`deferred`](Self::deferred); `None` if that failed (a miss).
    connection: OnceLock<Option<Mutex<Connection>>>,
    path: PathBuf,
    /// A failure has been warned about; later ones are logged at debug level.
    warned: AtomicBool,
}

/// The schema version this code writes. Version 1 keyed metadata by digest alone, so any
/// caller could read what a credential had fetched: its entries are dropped, not migrated.
const VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cache_settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS image_tags (
    key         TEXT PRIMARY KEY,  -- registry/repository:tag|access
    digest      TEXT NOT NULL,
    resolved_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS image_metadata (
    key        TEXT PRIMARY KEY,   -- registry/repository@digest|platform|access
    info       TEXT NOT NULL,      -- ImageInfo as JSON
    fetched_at INTEGER NOT NULL
);
";

impl SqliteCache {
    /// Opens (creating) the cache at `path` now, reporting why it cannot.
    pub fn open(path: &Path) -> Result<Self, String> {
        let connection = connect(path)?;
        Ok(Self {
            connection: OnceLock::from(Some(Mutex::new(connection))),
            path: path.to_owned(),
            warned: AtomicBool::new(false),
        })
    }

    /// A cache at `path` that is only opened (and created) by the first lookup that needs it,
    /// so a run that never looks an image up leaves no file. If it cannot be opened then, it
    /// behaves as an empty cache.
    pub fn deferred(path: &Path) -> Self {
        Self {
            connection: OnceLock::new(),
            path: path.to_owned(),
            warned: AtomicBool::new(false),
        }
    }

    fn connection(&self) -> Option<std::sync::MutexGuard<'_, Connection>> {
        self.connection
            .get_or_init(|| match connect(&self.path) {
                Ok(c) => Some(Mutex::new(c)),
                Err(e) => {
                    self.report("open", &e);
                    None
                }
            })
            .as_ref()?
            .lock()
            .ok()
    }

    /// A cache operation failed: the lookup goes on without it (see the module docs).
    fn report(&self, what: &str, error: &dyn std::fmt::Display) {
        let cache = self.path.display();
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(%cache, "image cache: cannot {what}: {error}");
        } else {
            tracing::warn!(
                %cache,
                "image cache: cannot {what}: {error}; lookups go to the registry instead \
                 (further cache failures are logged at debug level)"
            );
        }
    }

    /// `result`'s value, or `None` after reporting its error.
    fn reported<T>(&self, what: &str, result: rusqlite::Result<T>) -> Option<T> {
        result.map_err(|e| self.report(what, &e)).ok()
    }

    /// `$XDG_CACHE_HOME/testwerk/images.db`, else `~/.cache/testwerk/images.db`.
    pub fn default_path(env: &Environment) -> Option<PathBuf> {
        let base = match env.get("XDG_CACHE_HOME").map(PathBuf::from) {
            Some(p) if p.is_absolute() => p,
            _ => env.home()?.join(".cache"),
        };
        Some(base.join("testwerk").join("images.db"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn connect(path: &Path) -> Result<Connection, String> {
    let fail = |e: &dyn std::fmt::Display| format!("image cache {}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let connection = Connection::open(path).map_err(|e| fail(&e))?;
    // Several CLI processes may share the file.
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(|e| fail(&e))?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| fail(&e))?;
    migrate(&connection).map_err(|e| fail(&e))?;
    Ok(connection)
}

/// Brings the file to [`VERSION`], in one transaction so concurrent processes opening an old
/// file do not interleave.
fn migrate(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version < VERSION {
            connection.execute_batch(
                "DROP TABLE IF EXISTS image_tags; DROP TABLE IF EXISTS image_metadata;",
            )?;
        }
        connection.execute_batch(SCHEMA)?;
        connection.pragma_update(None, "user_version", VERSION)
    })();
    match result {
        Ok(()) => connection.execute_batch("COMMIT"),
        Err(e) => {
            // The error that matters is the first one; a failed rollback adds nothing to it.
            connection.execute_batch("ROLLBACK").ok();
            Err(e)
        }
    }
}

impl DurableCache for SqliteCache {
    fn salt(&self) -> Option<Vec<u8>> {
        let c = self.connection()?;
        let fresh = random_salt()?;
        // Two processes may race here: the first insert wins and both read it back.
        let stored = c.execute(
            "INSERT OR IGNORE INTO cache_settings (name, value) VALUES ('salt', ?1)",
            params![fresh.as_slice()],
        );
        self.reported("store its salt", stored)?;
        let salt = c.query_row(
            "SELECT value FROM cache_settings WHERE name = 'salt'",
            [],
            |row| row.get::<_, Vec<u8>>(0),
        );
        self.reported("read its salt", salt)
            .filter(|salt| salt.len() >= SALT_LEN)
    }

    fn tag(&self, key: &str) -> Option<TagEntry> {
        let c = self.connection()?;
        let found = c
            .query_row(
                "SELECT digest, resolved_at FROM image_tags WHERE key = ?1",
                params![key],
                |row| {
                    Ok(TagEntry {
                        digest: row.get(0)?,
                        resolved_at: row.get::<_, i64>(1)?.try_into().unwrap_or(0),
                    })
                },
            )
            .optional();
        self.reported("read a tag", found).flatten()
    }

    fn put_tag(&self, key: &str, entry: &TagEntry) {
        if let Some(c) = self.connection() {
            // A cache write that fails costs a fetch next time: reported, not an error.
            let written = c.execute(
                "INSERT INTO image_tags (key, digest, resolved_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET digest = ?2, resolved_at = ?3",
                params![
                    key,
                    entry.digest,
                    i64::try_from(entry.resolved_at).unwrap_or(i64::MAX)
                ],
            );
            self.reported("store a tag", written);
        }
    }

    fn image(&self, key: &str) -> Option<ImageInfo> {
        let c = self.connection()?;
        let found = c
            .query_row(
                "SELECT info FROM image_metadata WHERE key = ?1",
                params![key],
                |row| row.get::<_, String>(0),
            )
            .optional();
        let json = self.reported("read image metadata", found).flatten()?;
        // An entry written by another version that no longer reads is a miss, and expected
        // after an upgrade: not worth a warning.
        serde_json::from_str(&json).ok()
    }

    fn put_image(&self, key: &str, info: &ImageInfo) {
        let json = match serde_json::to_string(info) {
            Ok(json) => json,
            Err(e) => return self.report("encode image metadata", &e),
        };
        if let Some(c) = self.connection() {
            let written = c.execute(
                "INSERT OR REPLACE INTO image_metadata (key, info, fetched_at) VALUES (?1, ?2, ?3)",
                params![
                    key,
                    json,
                    i64::try_from(info.fetched_at).unwrap_or(i64::MAX)
                ],
            );
            self.reported("store image metadata", written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imageconfig::ImageConfig;
    use crate::platform::Platform;

    fn sample_info() -> ImageInfo {
        ImageInfo {
            reference: "r/x:1".to_owned(),
            digest: "sha256:a".to_owned(),
            manifest_digest: "sha256:b".to_owned(),
            config_digest: "sha256:c".to_owned(),
            media_type: "m".to_owned(),
            platform: Platform::default(),
            config: ImageConfig {
                cmd: vec!["sh".to_owned()],
                ..Default::default()
            },
            fetched_at: 5,
        }
    }

    #[test]
    fn round_trips_across_opens() {
        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("sub").join("images.db"))
            .unwrap_or_default();
        let info = sample_info();
        {
            let cache = SqliteCache::open(&path);
            assert!(cache.is_ok(), "{:?}", cache.err());
            if let Ok(cache) = cache {
                cache.put_tag(
                    "r/x:1",
                    &TagEntry {
                        digest: "sha256:a".to_owned(),
                        resolved_at: 9,
                    },
                );
                cache.put_tag(
                    "r/x:1",
                    &TagEntry {
                        digest: "sha256:a".to_owned(),
                        resolved_at: 10,
                    },
                );
                cache.put_image("sha256:a|linux/amd64", &info);
            }
        }
        let cache = SqliteCache::open(&path).ok();
        let tag = cache.as_ref().and_then(|c| c.tag("r/x:1"));
        assert_eq!(tag.map(|t| t.resolved_at), Some(10));
        assert_eq!(
            cache.as_ref().and_then(|c| c.image("sha256:a|linux/amd64")),
            Some(info)
        );
        assert_eq!(
            cache.as_ref().and_then(|c| c.image("sha256:a|linux/arm64")),
            None
        );
    }

    /// Held by the tests that make a cache fail: `tracing` decides once per call site whether
    /// anyone listens, and a test thread meeting the warning without a subscriber while
    /// another captures it can make the capture miss it.
    static REPORTING: Mutex<()> = Mutex::new(());

    /// What `tracing` printed while `f` ran (every level).
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                if let Ok(mut b) = self.0.lock() {
                    b.extend_from_slice(bytes);
                }
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // Another test thread may have met these call sites first, with no subscriber
            // of its own: ask every call site again, now that this thread has one.
            tracing::callsite::rebuild_interest_cache();
            f()
        });
        let bytes = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// On a real full disk: the writes fail, the first is one warning naming the file, the
    /// later ones debug lines, and nothing fails or panics (the lookup goes on without them).
    #[test]
    fn a_full_disk_is_warned_about_once_and_lookups_go_on() {
        let _reporting = REPORTING.lock();
        let Some(fs) = testwerk_testinputs::tmpfs::Tmpfs::mount("1m") else {
            return;
        };
        let path = fs.dir.join("images.db");
        let cache = SqliteCache::open(&path).unwrap_or_else(|e| panic!("{e}"));
        fs.fill_up();
        let mut info = sample_info();
        // Bigger than any page left, so the write needs room the disk does not have.
        info.config.env = (0..2000)
            .map(|i| format!("VAR_{i}={}", "v".repeat(64)))
            .collect();
        let log = logged(|| {
            for i in 0..3 {
                cache.put_image(&format!("sha256:{i}|linux/amd64"), &info);
            }
            cache.put_tag(
                "r/x:1",
                &TagEntry {
                    digest: "sha256:a".to_owned(),
                    resolved_at: 1,
                },
            );
        });
        let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(warnings.len(), 1, "{log}");
        assert!(
            warnings[0].contains("cannot store image metadata")
                && warnings[0].contains(&path.display().to_string())
                && warnings[0].contains("lookups go to the registry"),
            "{log}"
        );
        assert!(
            log.lines().filter(|l| l.contains("DEBUG")).count() >= 3,
            "the later failures are still there, quieter: {log}"
        );
        assert_eq!(cache.image("sha256:0|linux/amd64"), None, "a miss");
    }

    #[test]
    fn deferred_caches_open_on_first_use() {
        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("images.db"))
            .unwrap_or_default();
        let cache = SqliteCache::deferred(&path);
        assert!(!path.exists());
        assert_eq!(cache.tag("x"), None);
        assert!(path.exists());
        let _reporting = REPORTING.lock();
        let broken = SqliteCache::deferred(Path::new("/proc/no/such/dir/images.db"));
        assert_eq!(broken.tag("x"), None);
        broken.put_tag(
            "x",
            &TagEntry {
                digest: "d".to_owned(),
                resolved_at: 1,
            },
        );
    }

    #[test]
    fn version_1_files_lose_their_entries_and_salts_are_kept() {
        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("images.db"))
            .unwrap_or_default();
        // A cache as version 1 wrote it: metadata under `digest|platform`, readable by anyone.
        {
            let old = Connection::open(&path);
            assert!(old.is_ok());
            if let Ok(old) = old {
                let made = old.execute_batch(
                    "CREATE TABLE image_tags (reference TEXT PRIMARY KEY, digest TEXT NOT NULL,
                         resolved_at INTEGER NOT NULL);
                     CREATE TABLE image_metadata (key TEXT PRIMARY KEY, info TEXT NOT NULL,
                         fetched_at INTEGER NOT NULL);
                     INSERT INTO image_tags VALUES ('r/x:1', 'sha256:a', 1);
                     INSERT INTO image_metadata VALUES ('sha256:a|linux/amd64', '{}', 1);
                     PRAGMA user_version = 1;",
                );
                assert!(made.is_ok(), "{made:?}");
            }
        }
        let cache = SqliteCache::open(&path);
        assert!(cache.is_ok(), "{:?}", cache.err());
        let Ok(cache) = cache else { return };
        let count = |table: &str| {
            cache.connection().and_then(|c| {
                c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .ok()
            })
        };
        assert_eq!(
            (count("image_tags"), count("image_metadata")),
            (Some(0), Some(0))
        );
        let version = cache.connection().and_then(|c| {
            c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
                .ok()
        });
        assert_eq!(version, Some(VERSION));

        let salt = cache.salt();
        assert_eq!(salt.as_ref().map(Vec::len), Some(SALT_LEN));
        assert_eq!(cache.salt(), salt);
        drop(cache);
        // Reopening (another process) keeps the salt: access keys stay valid across runs.
        assert_eq!(SqliteCache::open(&path).ok().and_then(|c| c.salt()), salt);
        let other = dir.as_ref().map(|d| d.path().join("other.db"));
        let other_salt = other.and_then(|p| SqliteCache::open(&p).ok()?.salt());
        assert!(other_salt.is_some() && other_salt != salt);
    }

    #[test]
    fn default_path_follows_xdg() {
        let env = Environment::empty().with("HOME", "/home/u");
        assert_eq!(
            SqliteCache::default_path(&env),
            Some(PathBuf::from("/home/u/.cache/testwerk/images.db"))
        );
        let env = env.with("XDG_CACHE_HOME", "/c");
        assert_eq!(
            SqliteCache::default_path(&env),
            Some(PathBuf::from("/c/testwerk/images.db"))
        );
    }
}
