//! The `tanso` binary: parse flags, hand over to `tanso_cli::run`, exit with its code.
fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`tanso history … | head`) instead of failing on a broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(tanso_cli::main_with_args(std::env::args_os()));
}
