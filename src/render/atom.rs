//! Placeholder; being written.
use super::{MergedFeed, RenderError};

pub fn render(_feed: &MergedFeed) -> Result<Vec<u8>, RenderError> {
    unimplemented!()
}
