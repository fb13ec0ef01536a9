//! A crash-simulating SQLite VFS for tests: files live in memory, and a simulated power loss
//! keeps only what the last successful `xSync` of each file made durable.
//!
//! It owns the simulated disk and the fault plan ([`CrashSim`]); it must not touch the real
//! file system, and nothing outside tests should open a store through it.
//!
//! Model. Every file has a `durable` image and a `current` image. `xWrite` and `xTruncate`
//! change `current`; `xSync` copies `current` to `durable`; creating and deleting a file are
//! durable at once. [`CrashSim::power_loss`] resets every `current` to its `durable` image.
//! Faults are planned by the number of the `xSync` call (counting every call through this VFS
//! from its creation): the k-th sync can fail without promoting (the classic lost write), fail
//! after promoting (the data landed but the disk reported an error), or succeed and then the
//! machine dies. A dead machine fails every later write, truncate, sync, delete and create,
//! until `power_loss`.
//!
//! SQLite reaches this VFS only through C callbacks. Every callback runs its body under
//! `catch_unwind` and turns a panic into an error code, so no panic crosses the FFI boundary;
//! all state is behind one mutex, so callbacks from several connections or threads are safe.
//! The stores open with `locking_mode=EXCLUSIVE` before WAL, so SQLite never needs the
//! shared-memory methods: this VFS offers io methods version 1 only, and its locks are no-ops
//! (one process). Each controller registers its own VFS under a unique name, so parallel tests
//! never share files. The small VFS record and its name are leaked on purpose: SQLite
//! connections keep a pointer to them and may outlive the controller; the file data itself is
//! freed when the last controller handle and the last open file are gone.

#![deny(unsafe_op_in_unsafe_fn)]

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::ffi;
use tanso_store::{StoreError, StoreResult};

/// What the planned sync does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncFault {
    /// Returns `SQLITE_IOERR_FSYNC` without making anything durable; the machine is dead.
    FailsLost,
    /// Makes the file durable, then returns `SQLITE_IOERR_FSYNC`; the machine is dead.
    FailsPersisted,
    /// Makes the file durable and returns `SQLITE_OK`; the machine is dead right after, so the
    /// caller may never learn that its write was durable.
    SucceedsThenDies,
}

/// The controller of one simulated machine. Cloning gives another handle on the same machine.
#[derive(Clone, Debug)]
pub struct CrashSim {
    registration: Arc<Registration>,
}

#[derive(Debug)]
struct Registration {
    shared: &'static Shared,
    vfs: VfsPtr,
}

/// The registered VFS record. SQLite only reads it, and it is never freed.
#[derive(Debug)]
struct VfsPtr(*mut ffi::sqlite3_vfs);

// SAFETY: the pointee is leaked, never written after registration, and SQLite reads it from
// any thread by design; the pointer is only handed back to `sqlite3_vfs_unregister`.
unsafe impl Send for VfsPtr {}
// SAFETY: as above.
unsafe impl Sync for VfsPtr {}

#[derive(Debug)]
struct Shared {
    name: CString,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Path -> node, for the files that currently exist.
    names: HashMap<String, u64>,
    nodes: HashMap<u64, Node>,
    next_node: u64,
    sync_calls: u64,
    planned: Option<(u64, SyncFault)>,
    dead: bool,
    /// For `xRandomness`: deterministic, so runs repeat exactly.
    random: u64,
}

#[derive(Debug, Default)]
struct Node {
    durable: Vec<u8>,
    current: Vec<u8>,
    /// Bytes of `current` written since the last sync, as one covering range.
    dirty: Option<(usize, usize)>,
    open_handles: usize,
    /// Successful syncs of this file.
    syncs: u64,
    /// Whether a path still names this node (false once deleted while open).
    linked: bool,
}

/// Our `sqlite3_file`: SQLite allocates `szOsFile` bytes and we fill them in `xOpen`.
#[repr(C)]
struct SimFile {
    base: ffi::sqlite3_file,
    handle: *mut Handle,
}

struct Handle {
    shared: &'static Shared,
    node: u64,
    path: String,
    delete_on_close: bool,
}

const MAX_PATHNAME: c_int = 1024;
const SECTOR_SIZE: c_int = 4096;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl CrashSim {
    /// A new machine with an empty disk, registered as a SQLite VFS under a unique name.
    pub fn new() -> StoreResult<CrashSim> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let name = CString::new(format!("tanso-crashsim-{}-{id}", std::process::id()))
            .map_err(|e| StoreError::Io(format!("crashsim vfs name: {e}")))?;
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            name,
            state: Mutex::new(State {
                random: id,
                ..State::default()
            }),
        }));
        let os_file_size = c_int::try_from(std::mem::size_of::<SimFile>())
            .map_err(|e| StoreError::Io(format!("crashsim file size: {e}")))?;
        let vfs: &'static mut ffi::sqlite3_vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
            iVersion: 2,
            szOsFile: os_file_size,
            mxPathname: MAX_PATHNAME,
            pNext: ptr::null_mut(),
            zName: shared.name.as_ptr(),
            pAppData: ptr::from_ref(shared).cast_mut().cast::<c_void>(),
            xOpen: Some(x_open),
            xDelete: Some(x_delete),
            xAccess: Some(x_access),
            xFullPathname: Some(x_full_pathname),
            xDlOpen: Some(x_dl_open),
            xDlError: Some(x_dl_error),
            xDlSym: Some(x_dl_sym),
            xDlClose: Some(x_dl_close),
            xRandomness: Some(x_randomness),
            xSleep: Some(x_sleep),
            xCurrentTime: Some(x_current_time),
            xGetLastError: Some(x_get_last_error),
            xCurrentTimeInt64: Some(x_current_time_int64),
            xSetSystemCall: None,
            xGetSystemCall: None,
            xNextSystemCall: None,
        }));
        let vfs: *mut ffi::sqlite3_vfs = vfs;
        // SAFETY: `vfs` points to a fully initialised record that lives forever (leaked), with
        // a leaked name and app data; SQLite links it into its global list under its mutex.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
        if rc != ffi::SQLITE_OK {
            return Err(StoreError::Io(format!(
                "register crashsim vfs: sqlite code {rc}"
            )));
        }
        Ok(CrashSim {
            registration: Arc::new(Registration {
                shared,
                vfs: VfsPtr(vfs),
            }),
        })
    }

    /// The name to open a store with (`SqliteStore::open_with_vfs`).
    pub fn vfs_name(&self) -> &str {
        // The name was built from a Rust string, so it is UTF-8.
        self.registration.shared.name.to_str().unwrap_or("")
    }

    /// Every `xSync` call so far, the failed ones included.
    pub fn sync_calls(&self) -> u64 {
        self.state().sync_calls
    }

    /// Plans the k-th `xSync` call (1-based, counted since this machine was created) to fail
    /// without making anything durable; the machine is dead from then on.
    pub fn fail_at_sync(&self, k: u64) {
        self.plan_sync_fault(k, SyncFault::FailsLost);
    }

    /// Plans what the k-th `xSync` call does (replaces an earlier plan).
    pub fn plan_sync_fault(&self, k: u64, fault: SyncFault) {
        self.state().planned = Some((k, fault));
    }

    /// The machine dies now (a crash with no warning): every later write, truncate, sync,
    /// delete and create fails until `power_loss`, so closing a store cannot flush anything.
    pub fn crash(&self) {
        self.state().dead = true;
    }

    /// Whether the machine is dead (a planned fault fired, or `crash`) and refuses writes.
    pub fn is_dead(&self) -> bool {
        self.state().dead
    }

    /// Power loss: every file goes back to what its last sync made durable; the machine comes
    /// back alive with no fault planned. Close the stores on this machine first.
    pub fn power_loss(&self) {
        let mut state = self.state();
        for node in state.nodes.values_mut() {
            node.current.clone_from(&node.durable);
            node.dirty = None;
        }
        state.dead = false;
        state.planned = None;
    }

    /// Files currently open through this VFS (zero once every store on it is closed).
    pub fn open_files(&self) -> usize {
        self.state().nodes.values().map(|n| n.open_handles).sum()
    }

    /// The current and durable size of a file, if it exists (for tests of the model itself).
    pub fn file_sizes(&self, path: &str) -> Option<(usize, usize)> {
        let state = self.state();
        let node = state.names.get(path).and_then(|id| state.nodes.get(id))?;
        Some((node.current.len(), node.durable.len()))
    }

    /// Per existing file, the syncs that made it durable (sorted by path).
    pub fn syncs_by_file(&self) -> Vec<(String, u64)> {
        let state = self.state();
        let mut files: Vec<(String, u64)> = state
            .names
            .iter()
            .filter_map(|(path, id)| Some((path.clone(), state.nodes.get(id)?.syncs)))
            .collect();
        files.sort();
        files
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.registration.shared.lock()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: the record was registered by `CrashSim::new` and stays valid forever;
        // unregistering only unlinks it, so connections still open keep working.
        unsafe {
            ffi::sqlite3_vfs_unregister(self.vfs.0);
        }
        let mut state = self.shared.lock();
        state.names.clear();
        state.nodes.retain(|_, node| node.open_handles > 0);
        for node in state.nodes.values_mut() {
            node.linked = false;
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only changed in small steps that cannot panic halfway; recover it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn open(&mut self, path: &str, flags: c_int) -> Result<u64, c_int> {
        if let Some(&id) = self.names.get(path) {
            if flags & ffi::SQLITE_OPEN_EXCLUSIVE != 0 {
                return Err(ffi::SQLITE_CANTOPEN);
            }
            let node = self.nodes.get_mut(&id).ok_or(ffi::SQLITE_CANTOPEN)?;
            node.open_handles += 1;
            return Ok(id);
        }
        if flags & ffi::SQLITE_OPEN_CREATE == 0 || self.dead {
            return Err(ffi::SQLITE_CANTOPEN);
        }
        let id = self.next_node;
        self.next_node += 1;
        self.names.insert(path.to_string(), id);
        self.nodes.insert(
            id,
            Node {
                open_handles: 1,
                linked: true,
                ..Node::default()
            },
        );
        Ok(id)
    }

    fn unlink(&mut self, path: &str) -> bool {
        let Some(id) = self.names.remove(path) else {
            return false;
        };
        if let Some(node) = self.nodes.get_mut(&id) {
            node.linked = false;
            if node.open_handles == 0 {
                self.nodes.remove(&id);
            }
        }
        true
    }

    fn close(&mut self, id: u64) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.open_handles = node.open_handles.saturating_sub(1);
            if node.open_handles == 0 && !node.linked {
                self.nodes.remove(&id);
            }
        }
    }

    fn sync(&mut self, id: u64) -> c_int {
        self.sync_calls += 1;
        if self.dead {
            return ffi::SQLITE_IOERR_FSYNC;
        }
        let fault = match self.planned {
            Some((k, fault)) if k == self.sync_calls => Some(fault),
            _ => None,
        };
        if fault != Some(SyncFault::FailsLost) {
            if let Some(node) = self.nodes.get_mut(&id) {
                node.promote();
            }
        }
        match fault {
            None => ffi::SQLITE_OK,
            Some(fault) => {
                self.dead = true;
                self.planned = None;
                match fault {
                    SyncFault::SucceedsThenDies => ffi::SQLITE_OK,
                    SyncFault::FailsLost | SyncFault::FailsPersisted => ffi::SQLITE_IOERR_FSYNC,
                }
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64
        self.random = self.random.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Node {
    fn write(&mut self, offset: usize, data: &[u8]) -> Option<()> {
        let end = offset.checked_add(data.len())?;
        if self.current.len() < end {
            self.current.resize(end, 0);
        }
        self.current.get_mut(offset..end)?.copy_from_slice(data);
        self.dirty = Some(match self.dirty {
            None => (offset, end),
            Some((lo, hi)) => (lo.min(offset), hi.max(end)),
        });
        Some(())
    }

    fn truncate(&mut self, size: usize) {
        self.current.resize(size, 0);
        // Growth is zeros in both images after the resize in `promote`; shrinking is handled
        // there too. Clip the dirty range so promote never reads past the end.
        self.dirty = self
            .dirty
            .map(|(lo, hi)| (lo.min(size), hi.min(size)))
            .filter(|(lo, hi)| lo < hi);
    }

    fn promote(&mut self) {
        self.syncs += 1;
        self.durable.resize(self.current.len(), 0);
        if let Some((lo, hi)) = self.dirty.take() {
            if let (Some(to), Some(from)) = (self.durable.get_mut(lo..hi), self.current.get(lo..hi))
            {
                to.copy_from_slice(from);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// FFI callbacks. Each is a thin shell: recover our types from the raw pointers SQLite passes,
// then call safe code under `guard`.

/// Runs `body`, turning a panic into `on_panic`.
fn guard(on_panic: c_int, body: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// # Safety
/// `vfs` must be a record registered by `CrashSim::new`.
unsafe fn shared_of(vfs: *mut ffi::sqlite3_vfs) -> &'static Shared {
    // SAFETY: `pAppData` of our records points to a leaked `Shared`.
    unsafe { &*(*vfs).pAppData.cast::<Shared>() }
}

/// # Safety
/// `file` must be a `SimFile` that `x_open` filled in and `x_close` has not yet closed.
unsafe fn handle_of<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a Handle> {
    // SAFETY: SQLite passes back the `szOsFile` bytes it gave `x_open`, which laid a `SimFile`
    // there; `handle` is a live `Box` until `x_close` takes it.
    unsafe { file.cast::<SimFile>().as_ref()?.handle.as_ref() }
}

/// # Safety
/// `z` must be null or a nul-terminated string.
unsafe fn path_of(z: *const c_char) -> Option<String> {
    if z.is_null() {
        return None;
    }
    // SAFETY: SQLite passes nul-terminated paths.
    Some(unsafe { CStr::from_ptr(z) }.to_string_lossy().into_owned())
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    z_name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SQLite requires pMethods to be set, to null on failure, whatever happens below.
    // SAFETY: `file` points to `szOsFile` writable bytes.
    unsafe { ptr::addr_of_mut!((*file).pMethods).write(ptr::null()) };
    guard(ffi::SQLITE_CANTOPEN, || {
        // SAFETY: SQLite calls us with our own record.
        let shared = unsafe { shared_of(vfs) };
        let mut state = shared.lock();
        // SAFETY: `z_name` is null or a nul-terminated path.
        let path = match unsafe { path_of(z_name) } {
            Some(path) => path,
            None => format!("crashsim-temp-{}", state.next_random()),
        };
        let node = match state.open(&path, flags) {
            Ok(node) => node,
            Err(rc) => return rc,
        };
        drop(state);
        let handle = Box::into_raw(Box::new(Handle {
            shared,
            node,
            path,
            delete_on_close: flags & ffi::SQLITE_OPEN_DELETEONCLOSE != 0,
        }));
        let sim = file.cast::<SimFile>();
        // SAFETY: `szOsFile` is the size of `SimFile`, and SQLite aligns the allocation for
        // any type; we only write, so the old (uninitialised) bytes are never read.
        unsafe {
            ptr::addr_of_mut!((*sim).handle).write(handle);
            ptr::addr_of_mut!((*sim).base.pMethods).write(&IO_METHODS);
        }
        if !out_flags.is_null() {
            // SAFETY: non-null out pointer from SQLite.
            unsafe { out_flags.write(flags) };
        }
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    z_name: *const c_char,
    _sync_dir: c_int,
) -> c_int {
    guard(ffi::SQLITE_IOERR_DELETE, || {
        // SAFETY: our record; a nul-terminated path.
        let (shared, path) = unsafe { (shared_of(vfs), path_of(z_name)) };
        let Some(path) = path else {
            return ffi::SQLITE_IOERR_DELETE;
        };
        let mut state = shared.lock();
        if state.dead {
            return ffi::SQLITE_IOERR_DELETE;
        }
        if state.unlink(&path) {
            ffi::SQLITE_OK
        } else {
            ffi::SQLITE_IOERR_DELETE_NOENT
        }
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    z_name: *const c_char,
    _flags: c_int,
    res_out: *mut c_int,
) -> c_int {
    guard(ffi::SQLITE_IOERR_ACCESS, || {
        // SAFETY: our record; a nul-terminated path.
        let (shared, path) = unsafe { (shared_of(vfs), path_of(z_name)) };
        let state = shared.lock();
        // Like the unix VFS: an empty file does not count as existing (SQLite relies on that
        // when it looks for a hot journal or a WAL).
        let exists = path
            .and_then(|p| state.names.get(&p).copied())
            .and_then(|id| state.nodes.get(&id))
            .is_some_and(|node| !node.current.is_empty());
        if res_out.is_null() {
            return ffi::SQLITE_IOERR_ACCESS;
        }
        // SAFETY: non-null out pointer from SQLite.
        unsafe { res_out.write(c_int::from(exists)) };
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_full_pathname(
    _vfs: *mut ffi::sqlite3_vfs,
    z_name: *const c_char,
    n_out: c_int,
    z_out: *mut c_char,
) -> c_int {
    guard(ffi::SQLITE_CANTOPEN, || {
        // SAFETY: SQLite passes a nul-terminated name.
        if z_name.is_null() || z_out.is_null() {
            return ffi::SQLITE_CANTOPEN;
        }
        // SAFETY: nul-terminated, checked non-null above.
        let name = unsafe { CStr::from_ptr(z_name) }.to_bytes_with_nul();
        let Ok(room) = usize::try_from(n_out) else {
            return ffi::SQLITE_CANTOPEN;
        };
        if name.len() > room {
            return ffi::SQLITE_CANTOPEN;
        }
        // SAFETY: `z_out` has `n_out` bytes, and `name` (with its nul) fits; the buffers are
        // distinct allocations.
        unsafe { ptr::copy_nonoverlapping(name.as_ptr().cast::<c_char>(), z_out, name.len()) };
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_dl_open(_vfs: *mut ffi::sqlite3_vfs, _name: *const c_char) -> *mut c_void {
    ptr::null_mut()
}

unsafe extern "C" fn x_dl_error(_vfs: *mut ffi::sqlite3_vfs, n: c_int, z_out: *mut c_char) {
    let message = b"crashsim: extensions are not supported\0";
    let Ok(room) = usize::try_from(n) else { return };
    if z_out.is_null() || room == 0 {
        return;
    }
    let len = message.len().min(room);
    // SAFETY: `z_out` has `n` bytes; we copy at most that and end with a nul.
    unsafe {
        ptr::copy_nonoverlapping(message.as_ptr().cast::<c_char>(), z_out, len);
        z_out.add(len - 1).write(0);
    }
}

unsafe extern "C" fn x_dl_sym(
    _vfs: *mut ffi::sqlite3_vfs,
    _handle: *mut c_void,
    _symbol: *const c_char,
) -> Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)> {
    None
}

unsafe extern "C" fn x_dl_close(_vfs: *mut ffi::sqlite3_vfs, _handle: *mut c_void) {}

unsafe extern "C" fn x_randomness(
    vfs: *mut ffi::sqlite3_vfs,
    n_byte: c_int,
    z_out: *mut c_char,
) -> c_int {
    guard(0, || {
        let Ok(len) = usize::try_from(n_byte) else {
            return 0;
        };
        if z_out.is_null() {
            return 0;
        }
        // SAFETY: our record.
        let mut state = unsafe { shared_of(vfs) }.lock();
        // SAFETY: `z_out` has `n_byte` writable bytes.
        let out = unsafe { std::slice::from_raw_parts_mut(z_out.cast::<u8>(), len) };
        for chunk in out.chunks_mut(8) {
            let word = state.next_random().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        n_byte
    })
}

unsafe extern "C" fn x_sleep(_vfs: *mut ffi::sqlite3_vfs, microseconds: c_int) -> c_int {
    // Nothing ever waits on a lock here (one process, no-op locks): do not really sleep.
    microseconds
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

/// Milliseconds from the Julian epoch to the Unix epoch, as SQLite counts them.
const UNIX_EPOCH_JULIAN_MS: i64 = 210_866_760_000_000;
const MS_PER_DAY: i64 = 86_400_000;

unsafe extern "C" fn x_current_time_int64(_vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    guard(ffi::SQLITE_ERROR, || {
        if out.is_null() {
            return ffi::SQLITE_ERROR;
        }
        // SAFETY: non-null out pointer from SQLite.
        unsafe { out.write(UNIX_EPOCH_JULIAN_MS + unix_millis()) };
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_current_time(_vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    guard(ffi::SQLITE_ERROR, || {
        if out.is_null() {
            return ffi::SQLITE_ERROR;
        }
        // A Julian day number; the C interface takes a float. Split to convert without `as`.
        let julian_ms = UNIX_EPOCH_JULIAN_MS + unix_millis();
        let days = i32::try_from(julian_ms / MS_PER_DAY).unwrap_or(0);
        let rest = u32::try_from(julian_ms % MS_PER_DAY).unwrap_or(0);
        let day = f64::from(days) + f64::from(rest) / f64::from(86_400_000u32);
        // SAFETY: non-null out pointer from SQLite.
        unsafe { out.write(day) };
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_get_last_error(
    _vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    z_out: *mut c_char,
) -> c_int {
    if n > 0 && !z_out.is_null() {
        // SAFETY: `z_out` has at least one byte.
        unsafe { z_out.write(0) };
    }
    0
}

static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_lock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    guard(ffi::SQLITE_IOERR_CLOSE, || {
        let sim = file.cast::<SimFile>();
        // SAFETY: `file` is an open `SimFile`; we take the handle out exactly once and null
        // the field so a second close would be a no-op.
        let raw = unsafe {
            let raw = ptr::addr_of!((*sim).handle).read();
            ptr::addr_of_mut!((*sim).handle).write(ptr::null_mut());
            raw
        };
        if raw.is_null() {
            return ffi::SQLITE_OK;
        }
        // SAFETY: `raw` came from `Box::into_raw` in `x_open` and is reclaimed only here.
        let handle = unsafe { Box::from_raw(raw) };
        let mut state = handle.shared.lock();
        if handle.delete_on_close {
            state.unlink(&handle.path);
        }
        state.close(handle.node);
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    guard(ffi::SQLITE_IOERR_READ, || {
        // SAFETY: an open file of ours.
        let Some(handle) = (unsafe { handle_of(file) }) else {
            return ffi::SQLITE_IOERR_READ;
        };
        let (Ok(len), Ok(offset)) = (usize::try_from(amount), usize::try_from(offset)) else {
            return ffi::SQLITE_IOERR_READ;
        };
        if buf.is_null() {
            return ffi::SQLITE_IOERR_READ;
        }
        // SAFETY: `buf` has `amount` writable bytes.
        let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        let state = handle.shared.lock();
        let Some(node) = state.nodes.get(&handle.node) else {
            return ffi::SQLITE_IOERR_READ;
        };
        let available = node.current.get(offset..).unwrap_or(&[]);
        let n = available.len().min(len);
        out[..n].copy_from_slice(&available[..n]);
        if n < len {
            // SQLite requires the unread tail zeroed on a short read.
            out[n..].fill(0);
            return ffi::SQLITE_IOERR_SHORT_READ;
        }
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    guard(ffi::SQLITE_IOERR_WRITE, || {
        // SAFETY: an open file of ours.
        let Some(handle) = (unsafe { handle_of(file) }) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let (Ok(len), Ok(offset)) = (usize::try_from(amount), usize::try_from(offset)) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        if buf.is_null() {
            return ffi::SQLITE_IOERR_WRITE;
        }
        // SAFETY: `buf` has `amount` readable bytes.
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        let mut state = handle.shared.lock();
        if state.dead {
            return ffi::SQLITE_IOERR_WRITE;
        }
        match state
            .nodes
            .get_mut(&handle.node)
            .and_then(|n| n.write(offset, data))
        {
            Some(()) => ffi::SQLITE_OK,
            None => ffi::SQLITE_IOERR_WRITE,
        }
    })
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    guard(ffi::SQLITE_IOERR_TRUNCATE, || {
        // SAFETY: an open file of ours.
        let Some(handle) = (unsafe { handle_of(file) }) else {
            return ffi::SQLITE_IOERR_TRUNCATE;
        };
        let Ok(size) = usize::try_from(size) else {
            return ffi::SQLITE_IOERR_TRUNCATE;
        };
        let mut state = handle.shared.lock();
        if state.dead {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        match state.nodes.get_mut(&handle.node) {
            Some(node) => {
                node.truncate(size);
                ffi::SQLITE_OK
            }
            None => ffi::SQLITE_IOERR_TRUNCATE,
        }
    })
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, _flags: c_int) -> c_int {
    guard(ffi::SQLITE_IOERR_FSYNC, || {
        // SAFETY: an open file of ours.
        let Some(handle) = (unsafe { handle_of(file) }) else {
            return ffi::SQLITE_IOERR_FSYNC;
        };
        handle.shared.lock().sync(handle.node)
    })
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, size_out: *mut i64) -> c_int {
    guard(ffi::SQLITE_IOERR_FSTAT, || {
        // SAFETY: an open file of ours.
        let Some(handle) = (unsafe { handle_of(file) }) else {
            return ffi::SQLITE_IOERR_FSTAT;
        };
        let state = handle.shared.lock();
        let size = state
            .nodes
            .get(&handle.node)
            .and_then(|node| i64::try_from(node.current.len()).ok());
        match size {
            Some(size) if !size_out.is_null() => {
                // SAFETY: non-null out pointer from SQLite.
                unsafe { size_out.write(size) };
                ffi::SQLITE_OK
            }
            _ => ffi::SQLITE_IOERR_FSTAT,
        }
    })
}

/// Locks and unlocks: one process, and the store holds its lock exclusively anyway.
unsafe extern "C" fn x_lock(_file: *mut ffi::sqlite3_file, _level: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_check_reserved_lock(
    _file: *mut ffi::sqlite3_file,
    res_out: *mut c_int,
) -> c_int {
    if !res_out.is_null() {
        // SAFETY: non-null out pointer from SQLite.
        unsafe { res_out.write(0) };
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_file_control(
    _file: *mut ffi::sqlite3_file,
    _op: c_int,
    _arg: *mut c_void,
) -> c_int {
    ffi::SQLITE_NOTFOUND
}

unsafe extern "C" fn x_sector_size(_file: *mut ffi::sqlite3_file) -> c_int {
    SECTOR_SIZE
}

unsafe extern "C" fn x_device_characteristics(_file: *mut ffi::sqlite3_file) -> c_int {
    0
}
