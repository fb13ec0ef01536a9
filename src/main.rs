//! The `tanso` binary: parse flags, hand over to `tanso_cli::run`, exit with its code.

/// mimalloc instead of glibc's malloc: the writer frees what the generator and the HTTP
/// threads allocate, and glibc's per-arena locks and consolidation cost about a fifth of a
/// batch's time (docs/BENCHMARKS.md, profiles).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`tanso history … | head`) instead of failing on a broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(tanso_cli::main_with_args(std::env::args_os()));
}
