//! The `tanso` binary: parse flags, hand over to `tanso_cli::run`, exit with its code.

/// mimalloc instead of glibc's malloc: the writer frees what the generator and the HTTP
/// threads allocate, and glibc's per-arena locks and consolidation cost about a fifth of a
/// batch's time (docs/BENCHMARKS.md, profiles). Built without transparent huge pages (the
/// `no_thp` feature: mimalloc does not `madvise` its memory into 2 MiB pages): the kernel
/// zeroes each huge page whole on first touch, and the batch workloads ran 5–13% faster
/// with 4 KiB pages (docs/BENCHMARKS.md, eighth round).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3): how long freed memory stays with the
/// process before it is given back to the system.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Blocks from this size on are mapped from the system by glibc's malloc (its default starts at
/// 128 KiB and rises only as far as 32 MiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const GLIBC_MMAP_THRESHOLD: libc::c_int = 256 << 20;
/// Free memory at the top of glibc's heap beyond this size is given back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const GLIBC_TRIM_THRESHOLD: libc::c_int = 512 << 20;

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`tanso history … | head`) instead of failing on a broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Keep freed memory instead of giving it back to the system after 10 ms (mimalloc's
    // default): the writer's per-batch buffers and growing indexes otherwise come back as
    // fresh pages the kernel must zero, about 8% of the `blocks` workload's time
    // (docs/BENCHMARKS.md, sixth round). Resident memory stays at its peak.
    // SAFETY: setting an allocator option by its documented index; no memory is touched.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
    // SQLite allocates with the C library's malloc, not the allocator above: a batch's run of
    // entries (megabytes) is copied into one allocation per commit, which glibc would map
    // fresh from the system each time (above its mmap threshold) and the kernel zero, page by
    // page (6% of the `blocks` workload's samples; about 2% less CPU per transfer without,
    // docs/BENCHMARKS.md, ninth round). Keep such blocks on the heap and the heap's top with
    // the process, so the next commit reuses the same memory.
    // SAFETY: setting glibc allocator parameters before any thread starts.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, GLIBC_MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, GLIBC_TRIM_THRESHOLD);
    }
    std::process::exit(tanso_cli::main_with_args(std::env::args_os()));
}
