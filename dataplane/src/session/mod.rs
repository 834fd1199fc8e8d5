//! Per-worker session table (work in progress: filled in by the sessions change).
