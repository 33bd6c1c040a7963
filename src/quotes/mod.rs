//! Market quotes (work in progress).
