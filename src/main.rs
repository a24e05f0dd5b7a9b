//! The `herald` binary: parse arguments, run the command, exit with its code.

use std::process::ExitCode;

/// A large archive's run is allocation-heavy and parallel (thousands of
/// rendered bodies and feed items); mimalloc's per-thread heaps serve it
/// with far less contention than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    herald::app::main()
}
