//! The project namespace (`tf:`, documented in `docs/namespace.md`) as
//! every format writes it.
//!
//! Owns the namespace URI, the ticker category scheme and the attributes of
//! `tf:snapshot` and `tf:quote`, in the order Atom writes them; RSS writes
//! the same attributes (its crate sorts them) and JSON Feed names the same
//! values in its `_market` object. Lives beside the format renderers so
//! that they share it without importing each other.

use super::rfc3339;
use crate::model::{Snapshot, SnapshotQuote};

/// URI of the project namespace (prefix `tf`), documented in
/// `docs/namespace.md`. RSS and JSON Feed use the same URI.
pub const TF_NS: &str = "https://github.com/tickerfeed/tickerfeed/blob/main/docs/namespace.md";

/// Category scheme (Atom) and domain (RSS) of the tickers an entry
/// mentions: [`TF_NS`] followed by `#ticker`.
pub const TF_TICKER_SCHEME: &str =
    "https://github.com/tickerfeed/tickerfeed/blob/main/docs/namespace.md#ticker";

/// Attributes of `tf:snapshot`, in the order Atom writes them.
pub fn snapshot_attrs(snapshot: &Snapshot) -> Vec<(&'static str, String)> {
    vec![
        ("taken", rfc3339(snapshot.taken_at)),
        ("label", snapshot.label.clone()),
    ]
}

/// Attributes of `tf:quote`, in the order Atom writes them; absent values
/// are left out. Decimals are written as stored (`Decimal`'s `Display`),
/// never through a float.
pub fn quote_attrs(quote: &SnapshotQuote) -> Vec<(&'static str, String)> {
    let decimal = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string());
    [
        ("symbol", Some(quote.symbol.clone())),
        ("name", quote.name.clone()),
        ("providerSymbol", Some(quote.provider_symbol.clone())),
        ("provider", Some(quote.provider.clone())),
        ("price", decimal(Some(quote.price))),
        ("change", decimal(quote.change)),
        ("changePercent", decimal(quote.change_percent)),
        ("currency", quote.currency.clone()),
        ("previousClose", decimal(quote.previous_close)),
        ("asOf", quote.as_of.map(rfc3339)),
        ("fetched", Some(rfc3339(quote.fetched_at))),
        ("session", Some(quote.session.clone())),
        ("stale", Some(quote.stale.to_string())),
        ("mentioned", Some(quote.mentioned.to_string())),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key, value?)))
    .collect()
}
