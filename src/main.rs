//! The `tickerfeed` binary: parse the command line and hand over to
//! `tickerfeed::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    survive_file_size_limit();
    tickerfeed::cli::main(tickerfeed::cli::Cli::parse())
}

/// glibc gives threads that allocate at the same time their own heap
/// ("arena"), up to eight per core, and memory freed in one arena is not
/// reused by another. A poll parses on many blocking threads at once, so
/// the default cost a fifth of peak RSS in fragmentation for no measurable
/// speed; two arenas keep the two cores' threads apart. An operator's own
/// `MALLOC_ARENA_MAX` wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only tunes the allocator, and runs before any
        // other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Under a file size limit (`ulimit -f`, systemd's `LimitFSIZE=`), a write
/// past it sends SIGXFSZ, whose default action kills the process with
/// nothing in its log: the daemon died at its next write after every
/// restart. Ignored, the write fails instead (EFBIG), SQLite rolls the
/// transaction back, and the daemon says which archive cannot be written,
/// as for a full disk (PostgreSQL ignores it for the same reason).
fn survive_file_size_limit() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no
    // handler code, and runs before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
