//! Typed views over packet headers (work in progress: filled in by the wire-views change).
