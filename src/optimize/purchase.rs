//! The purchase model (work in progress).
