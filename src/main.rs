//! The `vigil` binary: everything lives in the library; see `vigil::cli`.

/// A scan allocates many small, short-lived values (parsed documents, facts, findings) on several
/// threads at once; mimalloc's thread-local free lists make that markedly cheaper than the system
/// allocator (measured in `bench/`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vigil::cli::main()
}
