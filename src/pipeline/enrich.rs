//! Enrich stage: which configured instruments each item mentions.
//!
//! Runs on every normalized item (matching is a few regexes over text we
//! already have); the store stamps the board and records mentions only on
//! items it has never seen, so re-listed items cost nothing more. Reads the
//! board's cache only: never a network call, so quote trouble cannot slow
//! or fail ingestion.

use crate::model::NewItem;
use crate::quotes::board::Board;

/// Fills `mentions` on each item: symbols in order of first appearance,
/// each with how it was found (recorded as `item_mentions.matched_by`).
pub fn enrich(items: &mut [NewItem], board: &Board) {
    for item in items {
        item.mentions = board.mentions(item);
    }
}
