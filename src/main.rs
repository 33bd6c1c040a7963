//! The `tickerfeed` binary: parse the command line and hand over to
//! `tickerfeed::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tickerfeed::cli::main(tickerfeed::cli::Cli::parse())
}
