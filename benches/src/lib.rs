//! Shared adapters for the benches.
