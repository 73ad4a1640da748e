//! The `vigil` binary: everything lives in the library; see `vigil::cli`.

fn main() -> std::process::ExitCode {
    vigil::cli::main()
}
