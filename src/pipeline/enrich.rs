//! Enrich stage: which configured instruments each item mentions.
//!
//! Runs on the normalized items the feed does not already carry (matching
//! is a few regexes over text we already have, but a changed feed re-lists
//! mostly known items); the store stamps the board and records mentions
//! only on items it has never seen. Reads the board's cache only: never a
//! network call, so quote trouble cannot slow or fail ingestion.

use std::collections::HashSet;

use crate::model::NewItem;
use crate::quotes::board::Board;

/// Fills `mentions` on each item whose key is not in `carried` (the keys
/// of the items the feed already carries): symbols in order of first
/// appearance, each with how it was found (recorded as
/// `item_mentions.matched_by`).
pub fn enrich(items: &mut [NewItem], board: &Board, carried: &HashSet<String>) {
    board.mark_mentions(items.iter_mut().filter(|i| !carried.contains(&i.key.0)));
}
