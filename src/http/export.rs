//! `/export.jsonl`: the archive (or a view's items, `?view=`; items first
//! archived from `?since=` on) as JSON Lines, the same lines as
//! `tickerfeed export`, streamed. Served only with `[web] export = true`;
//! otherwise it is a 404 like any unknown path.
//!
//! The export is never buffered whole: a blocking task walks the archive
//! on a read-only connection of its own (`Store::export_blocking`) and
//! writes through a 64 KiB buffer into a bounded channel, whose chunks
//! are the chunked response body. The channel's bound is the
//! backpressure: a slow client holds the walk, not memory, and a client
//! that goes away closes the channel, which stops the walk at its next
//! chunk. An error half way (the archive failing) aborts the body, so the
//! client sees a broken transfer rather than a short file that looks
//! complete. At most [`EXPORTS`] run at once; more are turned away with
//! 503 and `Retry-After`.

use std::io::{self, BufWriter, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::HttpState;
use super::pages::not_found_under;
use crate::render::export::{ExportFormat, ExportWriter};
use crate::select::{Channel, Selection};
use crate::store::{ExportError, ExportQuery};

/// Exports streamed at the same time, at most: each holds a connection
/// and a blocking thread for as long as its client reads.
pub(super) const EXPORTS: usize = 2;

/// Bytes per body chunk.
const CHUNK: usize = 64 * 1024;

/// Chunks waiting for the client, at most (so about 256 KiB per export).
const CHUNKS_IN_FLIGHT: usize = 4;

/// Query parameters of `/export.jsonl`.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ExportParams {
    since: Option<String>,
    view: Option<String>,
}

/// `?since=` as `--since` reads it. A `+` typed into a URL arrives as a
/// space (form encoding), so `?since=2026-11-24T10:00:00+01:00`, the
/// documented form, reads `...10:00:00 01:00`: failing as given, the value
/// is read again with its last space taken for the `+` it was.
fn since_from_query(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    crate::clock::from_date_or_time(s).or_else(|| {
        let (time, offset) = s.trim().rsplit_once(' ')?;
        crate::clock::from_date_or_time(&format!("{time}+{offset}"))
    })
}

pub(super) async fn export_jsonl(
    State(state): State<HttpState>,
    Query(params): Query<ExportParams>,
) -> Response {
    let published = state.published();
    if !published.web.export {
        return not_found_under(&published);
    }
    let since = match params.since.as_deref().map(|s| (s, since_from_query(s))) {
        None => None,
        Some((_, Some(t))) => Some(t),
        Some((s, None)) => {
            return (
                StatusCode::BAD_REQUEST,
                format!(
                    "since={s:?} is not a date like 2026-11-24 or an RFC 3339 time like 2026-11-24T09:00:00Z\n"
                ),
            )
                .into_response();
        }
    };
    let selection = match &params.view {
        None => Selection::default(),
        Some(name) => match published.outputs.get(&Channel::View(name.clone())) {
            Some(output) => output.selection.clone(),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    format!("view={name:?}: no such view; the views are listed at /views.opml\n"),
                )
                    .into_response();
            }
        },
    };
    let Ok(permit) = state.0.exports.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from_static("10"))],
            format!("{EXPORTS} exports are already being streamed; try again shortly\n"),
        )
            .into_response();
    };
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let store = state.0.store.clone();
    let query = ExportQuery { selection, since };
    // Not tracked by the shutdown: it ends with its body (a dropped body
    // closes the channel, and the next chunk sent fails), and the server
    // drops open bodies at its drain deadline.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let failed = tx.clone();
        match stream_export(&store, &query, ChunkSender(tx)) {
            Ok(n) => debug!(items = n, "export streamed"),
            Err(ExportError::Write(e)) => {
                debug!(error = %e, "export stopped: the client went away")
            }
            Err(e) => {
                warn!(error = %e, "export failed part way; aborting the response");
                let _ = failed.blocking_send(Err(io::Error::other(e.to_string())));
            }
        }
    });
    let filename = match &params.view {
        Some(view) => format!("tickerfeed-{view}.jsonl"),
        None => "tickerfeed.jsonl".to_string(),
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(ExportFormat::Jsonl.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(Chunks(rx)),
    )
        .into_response()
}

/// Writes the export as JSONL into `sink`; blocks.
fn stream_export(
    store: &crate::store::Store,
    query: &ExportQuery,
    sink: ChunkSender,
) -> Result<u64, ExportError> {
    let mut w = ExportWriter::new(ExportFormat::Jsonl, BufWriter::with_capacity(CHUNK, sink))
        .map_err(ExportError::Write)?;
    let n = store.export_blocking(query, |item| w.write(item))?;
    w.finish()
        .and_then(|mut b| b.flush())
        .map_err(ExportError::Write)?;
    Ok(n)
}

/// The blocking side of the body: each write becomes one chunk (the
/// `BufWriter` in front makes them 64 KiB), waiting while the channel is
/// full.
struct ChunkSender(mpsc::Sender<io::Result<Bytes>>);

impl Write for ChunkSender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The async side of the body.
struct Chunks(mpsc::Receiver<io::Result<Bytes>>);

impl futures_core::Stream for Chunks {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
