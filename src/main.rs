//! The `tanso` binary: parse flags, hand over to `tanso_cli::run`, exit with its code.
fn main() {
    std::process::exit(tanso_cli::main_with_args(std::env::args_os()));
}
