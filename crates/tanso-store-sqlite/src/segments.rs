//! Segment files: the bodies of large runs, written once, beside the database.
//!
//! A run's body goes into the `runs` row when it is small (a single command's entry) and into
//! a segment file when it is at least [`crate::OpenOptions::segment_min_body`] bytes (a batch's
//! run). In the row it would be written twice, to the WAL at commit and to the database at
//! the next checkpoint, with SQLite reading it back in between; in a segment it is written
//! once. Measured with `tanso bench transfers --workload batch8000` and `tanso bench api`
//! (docs/BENCHMARKS.md, tenth round): writing them once took the process's CPU per transfer
//! from about 2.4 to 2.0 µs in `batch8000`, and the API's batches up by a fifth.
//!
//! Segments are `journal.sqlite-seg00000001`, `…-seg00000002`, … in the store's directory,
//! appended to in order and never rewritten below what a committed row refers to. They are
//! opened through the store's SQLite VFS (the platform's, or a test's crash simulator), so
//! they share its durability model: the unix VFS syncs with `fdatasync(2)` (see the crate
//! doc), and syncs the directory the first time it syncs a segment it created.
//!
//! Commit order. The bodies are written at the end of the last segment and synced first;
//! only then does the SQLite transaction insert the rows that point at them (segment, offset,
//! length) and commit. A crash in between leaves bytes past the last committed row, which no
//! row refers to and the next commit overwrites; a row is never durable before its body.
//!
//! Page cache. Once synced, an append's whole pages are dropped from the page cache
//! (`posix_fadvise(POSIX_FADV_DONTNEED)`, as PostgreSQL does with WAL segments it will not
//! read again): the bodies are read back only by `verify`, replay and the odd query, and
//! keeping them would grow the cache by every byte the journal writes, pushing out the
//! database's pages. Each new page the cache would take is memory the kernel has to find and,
//! on a virtual machine, memory the host may have to back first: measured on this project's
//! 2-vCPU VM, writing a file into never-used memory cost 2.7 s of CPU per GB against 0.2 s
//! into pages just freed (docs/BENCHMARKS.md, eleventh round). Dropping is advice: where it is
//! unavailable (another platform, a file the crash simulator keeps in memory), nothing changes.

use std::collections::HashMap;
use std::ffi::{c_int, c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rusqlite::ffi;
use tanso_store::{StoreError, StoreResult};

/// Where a run's body is in the segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub seg: u32,
    pub offset: u64,
    pub len: u64,
}

/// The last segment and where its committed bytes end.
pub(crate) type Tail = (u32, u64);

/// The largest slice handed to one `xRead` or `xWrite`: the unix VFS moves at most 128 KiB
/// less one byte per call (SQLite itself only ever asks for a page).
const IO_CHUNK: usize = 64 * 1024;

/// One file opened through a SQLite VFS, read, written and synced through its io methods.
#[derive(Debug)]
struct VfsFile {
    /// `szOsFile` bytes, the VFS's file object (u64 words, for alignment).
    file: Box<[u64]>,
    /// The name passed to `xOpen`, which must outlive the open file.
    name: ffi::sqlite3_filename,
}

// SAFETY: the VFS file object is used by one thread at a time (every use is behind the
// `Segments` mutex or `&mut self`), and SQLite's VFS files may move between threads.
unsafe impl Send for VfsFile {}

fn io_error(what: &str, path: &Path, rc: c_int) -> StoreError {
    StoreError::Io(format!("{what} {}: SQLite VFS error {rc}", path.display()))
}

impl VfsFile {
    /// Opens (creating if missing) `path` read-write through `vfs`, as a WAL-type file: the
    /// unix VFS then takes the database's permissions and syncs the directory at the first
    /// sync after creating it.
    /// Without `create`, a missing file is an error (a committed row points at it).
    fn open(vfs: Option<&str>, path: &Path, create: bool) -> StoreResult<VfsFile> {
        let name = vfs
            .map(CString::new)
            .transpose()
            .map_err(|_| StoreError::Io(format!("VFS name {vfs:?}")))?;
        let cpath = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| StoreError::Io(format!("segment path {}", path.display())))?;
        // SAFETY: null (the default VFS) or a nul-terminated name; SQLite returns null or a
        // registered VFS, which lives until unregistered (the crash simulator's never is).
        let pvfs = unsafe {
            ffi::sqlite3_vfs_find(name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()))
        };
        if pvfs.is_null() {
            return Err(StoreError::Io(format!("no SQLite VFS named {vfs:?}")));
        }
        // SAFETY: builds SQLite's own filename layout (name, then empty journal and WAL
        // names and no parameters) from nul-terminated strings; null only when out of memory.
        let zname = unsafe {
            ffi::sqlite3_create_filename(
                cpath.as_ptr(),
                c"".as_ptr(),
                c"".as_ptr(),
                0,
                std::ptr::null_mut(),
            )
        };
        if zname.is_null() {
            return Err(StoreError::Io("out of memory naming a segment".into()));
        }
        // SAFETY: `pvfs` is a live VFS record.
        let size = unsafe { (*pvfs).szOsFile }.max(0) as usize;
        let mut file = vec![0u64; size.div_ceil(8).max(1)].into_boxed_slice();
        let flags = ffi::SQLITE_OPEN_READWRITE
            | ffi::SQLITE_OPEN_WAL
            | if create { ffi::SQLITE_OPEN_CREATE } else { 0 };
        let mut out = 0;
        // SAFETY: `file` has `szOsFile` writable, aligned bytes; `zname` is SQLite's filename.
        let rc = unsafe {
            match (*pvfs).xOpen {
                Some(open) => open(pvfs, zname, file.as_mut_ptr().cast(), flags, &mut out),
                None => ffi::SQLITE_CANTOPEN,
            }
        };
        let opened = VfsFile { file, name: zname };
        match rc {
            ffi::SQLITE_OK => Ok(opened),
            // Nothing to close: xOpen failed (pMethods is null), so Drop only frees the name.
            ffi::SQLITE_CANTOPEN if !create => Err(StoreError::Corrupt(format!(
                "segment {} is missing",
                path.display()
            ))),
            rc => Err(io_error("open segment", path, rc)),
        }
    }

    fn base(&self) -> *mut ffi::sqlite3_file {
        self.file.as_ptr().cast_mut().cast()
    }

    fn methods(&self) -> Option<&ffi::sqlite3_io_methods> {
        // SAFETY: after a successful xOpen, pMethods points to the VFS's static methods.
        unsafe { (*self.base()).pMethods.as_ref() }
    }

    fn write_at(&mut self, path: &Path, mut buf: &[u8], mut offset: u64) -> StoreResult<()> {
        let write = self
            .methods()
            .and_then(|m| m.xWrite)
            .ok_or_else(|| io_error("write segment", path, ffi::SQLITE_MISUSE))?;
        while !buf.is_empty() {
            let n = buf.len().min(IO_CHUNK);
            // SAFETY: an open file, and `n` readable bytes at `buf`.
            let rc = unsafe {
                write(
                    self.base(),
                    buf.as_ptr().cast::<c_void>(),
                    n as c_int,
                    offset as i64,
                )
            };
            if rc != ffi::SQLITE_OK {
                return Err(io_error("write segment", path, rc));
            }
            buf = &buf[n..];
            offset += n as u64;
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes at `offset`; a short read is corruption (a committed
    /// row points past the file's end).
    fn read_at(&self, path: &Path, mut buf: &mut [u8], mut offset: u64) -> StoreResult<()> {
        let read = self
            .methods()
            .and_then(|m| m.xRead)
            .ok_or_else(|| io_error("read segment", path, ffi::SQLITE_MISUSE))?;
        while !buf.is_empty() {
            let n = buf.len().min(IO_CHUNK);
            // SAFETY: an open file, and `n` writable bytes at `buf`.
            let rc = unsafe {
                read(
                    self.base(),
                    buf.as_mut_ptr().cast::<c_void>(),
                    n as c_int,
                    offset as i64,
                )
            };
            match rc {
                ffi::SQLITE_OK => {}
                ffi::SQLITE_IOERR_SHORT_READ => {
                    return Err(StoreError::Corrupt(format!(
                        "segment {} ends before byte {}",
                        path.display(),
                        offset + n as u64
                    )))
                }
                rc => return Err(io_error("read segment", path, rc)),
            }
            buf = &mut buf[n..];
            offset += n as u64;
        }
        Ok(())
    }

    fn sync(&mut self, path: &Path) -> StoreResult<()> {
        let sync = self
            .methods()
            .and_then(|m| m.xSync)
            .ok_or_else(|| io_error("sync segment", path, ffi::SQLITE_MISUSE))?;
        // SAFETY: an open file.
        let rc = unsafe { sync(self.base(), ffi::SQLITE_SYNC_FULL) };
        if rc != ffi::SQLITE_OK {
            return Err(io_error("sync segment", path, rc));
        }
        Ok(())
    }
}

impl Drop for VfsFile {
    fn drop(&mut self) {
        if let Some(close) = self.methods().and_then(|m| m.xClose) {
            // SAFETY: an open file, closed once. A close error has nothing left to lose: every
            // byte that matters was synced before its row was committed.
            unsafe { close(self.base()) };
        }
        // SAFETY: made by sqlite3_create_filename, freed once, after the file is closed.
        unsafe { ffi::sqlite3_free_filename(self.name) };
    }
}

/// The store's segment files.
#[derive(Debug)]
pub(crate) struct Segments {
    /// The store's VFS; `None` is SQLite's default.
    vfs: Option<String>,
    dir: PathBuf,
    /// Bodies of at least this many bytes go to a segment.
    min_body: usize,
    /// A segment takes no new run once it holds this many bytes.
    max_bytes: u64,
    /// The last segment and where its committed bytes end (from the `runs` rows); `None`
    /// before the first segment.
    tail: Option<Tail>,
    open: Mutex<HashMap<u32, VfsFile>>,
    /// The last segment written, opened as a plain file to drop its synced pages from the
    /// page cache (advice on the file, whichever descriptor gives it); `None` where it cannot
    /// be opened.
    uncache: Option<(u32, Option<std::fs::File>)>,
}

impl Segments {
    pub fn new(vfs: Option<&str>, dir: &Path, min_body: usize, max_bytes: u64) -> Segments {
        Segments {
            vfs: vfs.map(str::to_string),
            dir: dir.to_path_buf(),
            min_body,
            max_bytes: max_bytes.max(1),
            tail: None,
            open: Mutex::new(HashMap::new()),
            uncache: None,
        }
    }

    /// The path of segment `seg`.
    fn path(dir: &Path, seg: u32) -> PathBuf {
        dir.join(format!("{}-seg{seg:08}", crate::FILE_NAME))
    }

    /// Runs `f` on segment `seg`, opening it first if needed (creating it only for `create`).
    fn with_file<T>(
        &self,
        seg: u32,
        create: bool,
        f: impl FnOnce(&mut VfsFile, &Path) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let path = Segments::path(&self.dir, seg);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let file = match open.entry(seg) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(VfsFile::open(self.vfs.as_deref(), &path, create)?)
            }
        };
        f(file, &path)
    }

    /// Writes the bodies of at least `min_body` bytes one after another at the end of the last
    /// segment (or at the start of a new one, when the last is full) and syncs it. Returns, for
    /// each body, where it went (`None`: it stays in its row), and the tail they make if any
    /// went, for [`Segments::committed`] once their rows are durable.
    pub fn append<'a>(
        &mut self,
        bodies: impl Iterator<Item = &'a [u8]>,
    ) -> StoreResult<(Vec<Option<Place>>, Option<Tail>)> {
        let bodies: Vec<&[u8]> = bodies.collect();
        if bodies.iter().all(|b| b.len() < self.min_body) {
            return Ok((vec![None; bodies.len()], None));
        }
        let (seg, mut offset) = match self.tail {
            None => (1, 0),
            Some((seg, end)) if end >= self.max_bytes => (
                seg.checked_add(1)
                    .ok_or_else(|| StoreError::Corrupt("segment numbers exhausted".into()))?,
                0,
            ),
            Some(tail) => tail,
        };
        let (min_body, start) = (self.min_body, offset);
        let mut places = Vec::with_capacity(bodies.len());
        self.with_file(seg, true, |file, path| {
            for body in bodies {
                if body.len() < min_body {
                    places.push(None);
                    continue;
                }
                file.write_at(path, body, offset)?;
                places.push(Some(Place {
                    seg,
                    offset,
                    len: body.len() as u64,
                }));
                offset += body.len() as u64;
            }
            file.sync(path)
        })?;
        self.uncache(seg, start, offset);
        Ok((places, Some((seg, offset))))
    }

    /// Drops bytes `start..end` of segment `seg`, synced, from the page cache (see the module
    /// doc); partial pages at either end stay.
    fn uncache(&mut self, seg: u32, start: u64, end: u64) {
        if self.uncache.as_ref().is_none_or(|(s, _)| *s != seg) {
            let file = std::fs::File::open(Segments::path(&self.dir, seg)).ok();
            self.uncache = Some((seg, file));
        }
        #[cfg(target_os = "linux")]
        if let Some((_, Some(file))) = &self.uncache {
            use std::os::fd::AsRawFd;
            let (Ok(off), Ok(len)) = (i64::try_from(start), i64::try_from(end - start)) else {
                return;
            };
            // SAFETY: advice on an open descriptor; it reads no memory of ours. Its result
            // changes nothing that matters here (the bytes are durable either way).
            unsafe { libc::posix_fadvise(file.as_raw_fd(), off, len, libc::POSIX_FADV_DONTNEED) };
        }
    }

    /// Bodies of at least this many bytes go to a segment.
    pub fn min_body(&self) -> usize {
        self.min_body
    }

    /// The rows of an [`Segments::append`] are durable (or, on open, the rows say where the
    /// last segment's committed bytes end): later appends go after them.
    pub fn committed(&mut self, tail: Tail) {
        self.tail = Some(tail);
    }

    /// The body at `place`.
    pub fn read(&self, place: Place) -> StoreResult<Vec<u8>> {
        let len = usize::try_from(place.len)
            .map_err(|_| StoreError::Corrupt(format!("segment body of {} bytes", place.len)))?;
        let mut body = vec![0u8; len];
        self.with_file(place.seg, false, |file, path| {
            file.read_at(path, &mut body, place.offset)
        })?;
        Ok(body)
    }
}
