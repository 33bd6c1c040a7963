//! SIGTERM and SIGINT -> cancellation tokens.
//!
//! The first signal cancels [`Signals::shutdown`]: the scheduler stops
//! dispatching, in-flight polls finish, HTTP drains (see `app::serve_with`).
//! A second signal during that drain cancels [`Signals::force`], and the
//! `run` command returns exit code 130 at once (the archive stays
//! consistent: each fetch is one transaction).

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

#[derive(Debug, Clone)]
pub struct Signals {
    pub shutdown: CancellationToken,
    pub force: CancellationToken,
}

/// Installs the handlers; must be called inside a tokio runtime.
pub fn install() -> std::io::Result<Signals> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let signals = Signals {
        shutdown: CancellationToken::new(),
        force: CancellationToken::new(),
    };
    let s = signals.clone();
    tokio::spawn(async move {
        for round in 0..2 {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if round == 0 {
                info!(
                    signal = name,
                    "shutting down; send it again to stop at once"
                );
                s.shutdown.cancel();
            } else {
                warn!(signal = name, "second signal: stopping without waiting");
                s.force.cancel();
            }
        }
    });
    Ok(signals)
}
