//! The file store: resolves a clean relative path to an open file with its
//! validators, and keeps what it learns in two caches.
//!
//! * The **metadata cache** holds an [`FileEntry`] per path: the open file,
//!   its size and mtime, and the response headers derived from them, encoded
//!   once. An entry is re-checked against the disk (`stat`) when it is older
//!   than `meta_valid` and dropped after `meta_ttl`, like nginx's
//!   `open_file_cache`, so a replaced or deleted file is noticed within the
//!   interval.
//! * The **small-file cache** holds whole files up to `small_file_max` as
//!   `Bytes`, weighted by size, so hot tracks are answered from memory and
//!   ranges are slices of one buffer. Each body remembers the identity of the
//!   file it was read from and is used only while that identity is current.
//!   With mmap I/O every file is also mapped ([`crate::mapping`]), and a
//!   small file the cache does not hold yet is answered from the mapping
//!   while one read fills the cache in the background.
//!
//! Everything that touches the disk runs on the blocking pool.

use crate::config::{Config, IoMode};
use crate::headers::MediaHeaders;
use crate::mapping::Mapped;
use crate::mime;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, UnitWeighter, Weighter};
use spotik_shared::etag::{etag, EtagFormat};
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What identifies one version of a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Identity {
    fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// A regular file inside the media root, opened, with its validators.
pub struct FileEntry {
    pub file: File,
    pub size: u64,
    /// Modification time in whole Unix seconds.
    pub modified: u64,
    pub filename: String,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub content_type: HeaderValue,
    /// Every header of a 200 for the whole file.
    pub ok_headers: HeaderMap,
    /// Every header of a 304.
    pub not_modified_headers: HeaderMap,
    /// Every header of the 206 for `bytes=0-1`.
    pub probe_headers: Option<HeaderMap>,
    /// The whole file mapped into memory (mmap I/O, every file but an
    /// empty one): large files are sent from it, and a small one until the
    /// small-file cache holds it.
    pub mapped: Option<Mapped>,
    /// Whether a read into the small-file cache is under way.
    filling: AtomicBool,
    requested: PathBuf,
    identity: Identity,
    loaded_at: Instant,
    /// When the entry was last confirmed against the disk, in ms since `loaded_at`.
    checked_ms: AtomicU64,
}

/// Where the bytes of a response come from.
pub enum Content {
    /// The whole file, in memory (the small-file cache).
    Memory(Bytes),
    /// The whole file, mapped: sent only while the file still holds it.
    Mapped(Mapped),
    /// Read from `FileEntry::file` in 64 KiB blocks.
    Disk,
}

pub struct Opened {
    pub entry: Arc<FileEntry>,
    pub content: Content,
}

/// Why a path could not be served.
#[derive(Debug)]
pub enum OpenError {
    NotFound,
    Forbidden,
    Io(io::Error),
}

impl From<io::Error> for OpenError {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Self::NotFound,
            io::ErrorKind::PermissionDenied => Self::Forbidden,
            _ if error.raw_os_error() == Some(libc::ELOOP) => Self::NotFound,
            _ => Self::Io(error),
        }
    }
}

/// Counts evictions for `/metrics`.
#[derive(Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl<K, V> Lifecycle<K, V> for CountEvictions {
    type RequestState = ();

    fn begin_request(&self) {}

    fn on_evict(&self, _state: &mut (), _key: K, _value: V) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct SmallFile {
    identity: Identity,
    bytes: Bytes,
}

#[derive(Clone)]
struct ByLength;

impl Weighter<Vec<u8>, SmallFile> for ByLength {
    fn weight(&self, key: &Vec<u8>, value: &SmallFile) -> u64 {
        (key.len() + value.bytes.len()) as u64
    }
}

type MetaCache = Cache<Box<[u8]>, Arc<FileEntry>, UnitWeighter, DefaultHashBuilder, CountEvictions>;
type BodyCache = Cache<Vec<u8>, SmallFile, ByLength, DefaultHashBuilder, CountEvictions>;

/// Figures for `/health` and `/metrics`.
pub struct CacheFigures {
    pub entries: u64,
    pub weight: u64,
    pub capacity: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Files read whole into the cache (small files) or opened (metadata):
    /// the disk work behind the misses, once per file however many waited.
    pub loads: u64,
}

pub struct FileStore {
    root: PathBuf,
    headers: MediaHeaders,
    canonical_root: PathBuf,
    etag_format: EtagFormat,
    io: IoMode,
    small_file_max: u64,
    readahead: u64,
    meta_valid: Duration,
    meta_ttl: Duration,
    meta: MetaCache,
    meta_evictions: Arc<AtomicU64>,
    bodies: BodyCache,
    body_evictions: Arc<AtomicU64>,
    /// Counted here rather than by the cache, which counts a waited-for load twice.
    body_hits: AtomicU64,
    body_misses: AtomicU64,
    body_loads: AtomicU64,
    /// Reads into the small-file cache running behind answers (mmap I/O).
    fills: AtomicUsize,
    meta_loads: AtomicU64,
}

impl FileStore {
    pub fn new(config: &Config, headers: MediaHeaders) -> io::Result<Self> {
        let canonical_root = std::fs::canonicalize(&config.root)
            .map_err(|e| io::Error::new(e.kind(), format!("media root {}: {e}", config.root.display())))?;
        if !canonical_root.is_dir() {
            return Err(io::Error::other(format!(
                "media root {} is not a directory",
                config.root.display()
            )));
        }
        let meta_lifecycle = CountEvictions::default();
        let body_lifecycle = CountEvictions::default();
        let entries = config.meta_entries.max(1);
        let average_small_file = 4 << 20;
        Ok(Self {
            root: config.root.clone(),
            headers,
            canonical_root,
            etag_format: config.etag_format,
            io: config.io,
            small_file_max: config.small_file_max,
            readahead: config.readahead,
            meta_valid: config.meta_valid,
            meta_ttl: config.meta_ttl,
            meta_evictions: meta_lifecycle.0.clone(),
            meta: Cache::with(
                entries,
                entries as u64,
                UnitWeighter,
                DefaultHashBuilder::default(),
                meta_lifecycle,
            ),
            body_evictions: body_lifecycle.0.clone(),
            body_hits: AtomicU64::new(0),
            body_misses: AtomicU64::new(0),
            body_loads: AtomicU64::new(0),
            fills: AtomicUsize::new(0),
            meta_loads: AtomicU64::new(0),
            bodies: Cache::with(
                (config.cache_bytes / average_small_file).max(16) as usize,
                config.cache_bytes.max(1),
                ByLength,
                DefaultHashBuilder::default(),
                body_lifecycle,
            ),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens `relative` (a clean path below the root, no leading slash):
    /// metadata only, which is all a 304, 412, 416 or HEAD needs.
    pub async fn open(self: &Arc<Self>, relative: &[u8]) -> Result<Arc<FileEntry>, OpenError> {
        match self.meta.get(relative) {
            Some(entry) if self.is_fresh(&entry) => Ok(entry),
            Some(stale) => self.reload(relative, Some(stale)).await,
            None => self.load_once(relative).await,
        }
    }

    /// A file no entry knows: one request opens it, the others asking for it
    /// meanwhile wait for that entry. At a track change every listener of a
    /// room asks for the same file within milliseconds, usually one nobody
    /// read for minutes; each opening it (a path walk and `fstat` against a
    /// cold dentry cache, on a blocking thread each) would multiply the
    /// first byte's wait by the size of the room.
    async fn load_once(self: &Arc<Self>, relative: &[u8]) -> Result<Arc<FileEntry>, OpenError> {
        let key: Box<[u8]> = relative.into();
        let guard = match self.meta.get_value_or_guard_async(&key).await {
            Ok(entry) => return Ok(entry),
            Err(guard) => guard,
        };
        let store = Arc::clone(self);
        let loaded = tokio::task::spawn_blocking(move || store.load(&key))
            .await
            .map_err(|e| OpenError::Io(io::Error::other(e)))?;
        match loaded {
            Ok(entry) => {
                let entry = Arc::new(entry);
                let _ = guard.insert(Arc::clone(&entry));
                Ok(entry)
            }
            // The waiting requests then try for themselves: a missing file
            // is not cached.
            Err(error) => {
                drop(guard);
                self.bodies.remove(relative);
                Err(error)
            }
        }
    }

    /// The bytes of an opened file, for a response that sends them.
    pub async fn read(self: &Arc<Self>, relative: &[u8], entry: Arc<FileEntry>) -> Result<Opened, OpenError> {
        let content = self.content(relative, &entry).await?;
        Ok(Opened { entry, content })
    }

    fn is_fresh(&self, entry: &FileEntry) -> bool {
        let age = entry.loaded_at.elapsed();
        age < self.meta_ttl
            && age.as_millis() as u64 - entry.checked_ms.load(Ordering::Relaxed) < self.meta_valid.as_millis() as u64
    }

    /// Loads an entry, or confirms a stale one against the disk.
    async fn reload(
        self: &Arc<Self>,
        relative: &[u8],
        cached: Option<Arc<FileEntry>>,
    ) -> Result<Arc<FileEntry>, OpenError> {
        let store = Arc::clone(self);
        let key: Box<[u8]> = relative.into();
        let loaded = tokio::task::spawn_blocking(move || store.revalidate_or_load(key, cached))
            .await
            .map_err(|e| OpenError::Io(io::Error::other(e)))?;
        if loaded.is_err() {
            self.meta.remove(relative);
            self.bodies.remove(relative);
        }
        loaded
    }

    fn revalidate_or_load(&self, key: Box<[u8]>, cached: Option<Arc<FileEntry>>) -> Result<Arc<FileEntry>, OpenError> {
        if let Some(entry) = cached {
            if entry.loaded_at.elapsed() < self.meta_ttl {
                let meta = std::fs::metadata(&entry.requested)?;
                if Identity::of(&meta) == entry.identity {
                    entry
                        .checked_ms
                        .store(entry.loaded_at.elapsed().as_millis() as u64, Ordering::Relaxed);
                    return Ok(entry);
                }
            }
        }
        let entry = Arc::new(self.load(&key)?);
        self.meta.insert(key, Arc::clone(&entry));
        Ok(entry)
    }

    fn load(&self, relative: &[u8]) -> Result<FileEntry, OpenError> {
        self.meta_loads.fetch_add(1, Ordering::Relaxed);
        let requested = self.root.join(OsStr::from_bytes(relative));
        // Resolving every symlink first is what keeps a link pointing outside
        // the root from being followed; O_NOFOLLOW then refuses a final
        // component swapped for a link in between.
        let canonical = std::fs::canonicalize(&requested)?;
        if !canonical.starts_with(&self.canonical_root) {
            return Err(OpenError::NotFound);
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&canonical)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(OpenError::NotFound);
        }
        let size = meta.len();
        if self.readahead > 0 {
            advise_will_need(&file, size.min(self.readahead));
        }
        let modified = u64::try_from(meta.mtime()).unwrap_or(0);
        let name = canonical.file_name().map_or(&b""[..], |n| n.as_bytes());
        let extension = crate::path::extension(relative).unwrap_or_default();
        let mapped = if self.io == IoMode::Mmap && size > 0 {
            Mapped::map(&file)?
        } else {
            None
        };
        let etag = header_value(etag(self.etag_format, name, modified, size));
        let last_modified = header_value(crate::conditional::format_date(modified));
        let content_type = HeaderValue::from_static(mime::content_type(&extension));
        let prepared = self.headers.build(&etag, &last_modified, &content_type, size);
        Ok(FileEntry {
            size,
            modified,
            filename: String::from_utf8_lossy(name).into_owned(),
            etag,
            last_modified,
            content_type,
            ok_headers: prepared.ok,
            not_modified_headers: prepared.not_modified,
            probe_headers: prepared.probe,
            mapped,
            requested,
            identity: Identity::of(&meta),
            loaded_at: Instant::now(),
            checked_ms: AtomicU64::new(0),
            filling: AtomicBool::new(false),
            file,
        })
    }

    async fn content(self: &Arc<Self>, relative: &[u8], entry: &Arc<FileEntry>) -> Result<Content, OpenError> {
        if entry.mapped.as_ref().is_some_and(|mapped| !mapped.intact()) {
            // It lost a page (shortened in place, or unreadable): this
            // answer reads the file, which tells which, and the next
            // request maps it afresh.
            self.meta.remove(relative);
            self.bodies.remove(relative);
            return Ok(Content::Disk);
        }
        if entry.size > self.small_file_max {
            return Ok(entry.mapped.clone().map_or(Content::Disk, Content::Mapped));
        }
        if let Some(mapped) = &entry.mapped {
            if let Some(bytes) = self.cached(relative, entry) {
                return Ok(Content::Memory(bytes));
            }
            // Not cached yet: answered from the mapping, which needs only the
            // pages this answer sends, while one read fills the cache behind
            // it. Waiting for that read instead would put the whole track's
            // read from disk before the first byte of a track change.
            self.body_misses.fetch_add(1, Ordering::Relaxed);
            self.fill_behind(relative, entry);
            return Ok(Content::Mapped(mapped.clone()));
        }
        // One reader per file: concurrent misses wait for it instead of each
        // reading (and allocating) the whole file — a thundering herd of 50
        // first requests for a 5 MiB track would otherwise hold 250 MiB.
        for _ in 0..2 {
            match self.bodies.get_value_or_guard_async(relative).await {
                Ok(small) if small.identity == entry.identity => {
                    self.body_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Content::Memory(small.bytes));
                }
                Ok(_) => {
                    self.bodies.remove(relative);
                }
                Err(guard) => {
                    self.body_misses.fetch_add(1, Ordering::Relaxed);
                    self.body_loads.fetch_add(1, Ordering::Relaxed);
                    let bytes = self.read_small(entry).await?;
                    let _ = guard.insert(SmallFile {
                        identity: entry.identity,
                        bytes: bytes.clone(),
                    });
                    return Ok(Content::Memory(bytes));
                }
            }
        }
        // The file keeps changing under us: serve this version uncached.
        Ok(Content::Memory(self.read_small(entry).await?))
    }

    /// This version of the file from the small-file cache, if it holds it.
    fn cached(&self, relative: &[u8], entry: &FileEntry) -> Option<Bytes> {
        let small = self.bodies.get(relative)?;
        if small.identity != entry.identity {
            self.bodies.remove(relative);
            return None;
        }
        self.body_hits.fetch_add(1, Ordering::Relaxed);
        Some(small.bytes)
    }

    /// Reads `entry` into the small-file cache in the background: one read
    /// per file however many answers missed it, and at most [`MAX_FILLS`]
    /// at once, so a client asking for many files and hanging up cannot
    /// hold more than that many files' worth of buffers. A miss that finds
    /// no room starts none; a later one will.
    fn fill_behind(self: &Arc<Self>, relative: &[u8], entry: &Arc<FileEntry>) {
        if entry.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.fills.fetch_add(1, Ordering::AcqRel) >= MAX_FILLS {
            self.fills.fetch_sub(1, Ordering::AcqRel);
            entry.filling.store(false, Ordering::Release);
            return;
        }
        let store = Arc::clone(self);
        let entry = Arc::clone(entry);
        let key = relative.to_vec();
        tokio::spawn(async move {
            // A fill that ended after this answer's look may have left it
            // cached already.
            if store
                .bodies
                .peek(&key)
                .is_none_or(|small| small.identity != entry.identity)
            {
                store.body_loads.fetch_add(1, Ordering::Relaxed);
                match store.read_small(&entry).await {
                    Ok(bytes) => store.bodies.insert(
                        key,
                        SmallFile {
                            identity: entry.identity,
                            bytes,
                        },
                    ),
                    Err(error) => tracing::debug!(?error, "reading a file into the small-file cache failed"),
                }
            }
            store.fills.fetch_sub(1, Ordering::AcqRel);
            entry.filling.store(false, Ordering::Release);
        });
    }

    async fn read_small(&self, entry: &Arc<FileEntry>) -> Result<Bytes, OpenError> {
        let reader = Arc::clone(entry);
        tokio::task::spawn_blocking(move || read_whole(&reader))
            .await
            .map_err(|e| OpenError::Io(io::Error::other(e)))?
            .map_err(OpenError::from)
    }

    pub fn small_file_figures(&self) -> CacheFigures {
        CacheFigures {
            entries: self.bodies.len() as u64,
            weight: self.bodies.weight(),
            capacity: self.bodies.capacity(),
            hits: self.body_hits.load(Ordering::Relaxed),
            misses: self.body_misses.load(Ordering::Relaxed),
            evictions: self.body_evictions.load(Ordering::Relaxed),
            loads: self.body_loads.load(Ordering::Relaxed),
        }
    }

    pub fn metadata_figures(&self) -> CacheFigures {
        CacheFigures {
            entries: self.meta.len() as u64,
            weight: self.meta.weight(),
            capacity: self.meta.capacity(),
            hits: self.meta.hits(),
            misses: self.meta.misses(),
            evictions: self.meta_evictions.load(Ordering::Relaxed),
            loads: self.meta_loads.load(Ordering::Relaxed),
        }
    }
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Asks the kernel to start reading the first `len` bytes into the page
/// cache and returns without waiting for the disk. `readahead(2)` and
/// `madvise(MADV_WILLNEED)` take the same path in the kernel
/// (`vfs_fadvise`), so this is all three. The kernel reads at most the
/// device's read-ahead window (`read_ahead_kb`, often 128 KiB) per call,
/// hence one call per [`READ_CHUNK`]. Best effort: a file system that
/// cannot read ahead is served as before.
fn advise_will_need(file: &File, len: u64) {
    for offset in (0..len).step_by(READ_CHUNK as usize) {
        let chunk = READ_CHUNK.min(len - offset);
        // SAFETY: the descriptor is open for the call's duration; the kernel
        // only reads the arguments. Offsets fit: they are below a file's size.
        let error = unsafe {
            libc::posix_fadvise(
                file.as_raw_fd(),
                offset as libc::off_t,
                chunk as libc::off_t,
                libc::POSIX_FADV_WILLNEED,
            )
        };
        if error != 0 {
            tracing::debug!(error, "posix_fadvise(WILLNEED) refused");
            return;
        }
    }
}

/// Reads into the small-file cache at once behind answers from mappings.
const MAX_FILLS: usize = 16;

/// What the edge asks of the disk at a time when it reads ahead or fills
/// the cache: the smallest read-ahead window Linux block devices default to.
const READ_CHUNK: u64 = 128 * 1024;

/// Reads a file whole, in order, [`READ_CHUNK`] at a time: one read of
/// the whole file would be one large request to the disk, and the pages at
/// its start, which the answers served from the mapping meanwhile are
/// waiting for, would come only when it is done (on a disk throttled to
/// 20 MB/s, a 5 MiB track's herd waited 113 ms for its first byte with one
/// read; see `loadtest/RESULTS.md`).
fn read_whole(entry: &FileEntry) -> io::Result<Bytes> {
    let mut buffer = vec![0; entry.size as usize];
    for (index, chunk) in buffer.chunks_mut(READ_CHUNK as usize).enumerate() {
        read_exact_at(&entry.file, chunk, index as u64 * READ_CHUNK)?;
    }
    Ok(Bytes::from(buffer))
}

/// `pread` until `buffer` is full; a file that ends early is an error, never a short body.
pub fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buffer, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being served")
        } else {
            e
        }
    })
}
