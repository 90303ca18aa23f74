//! Helpers for the side-by-side benchmarks in `loadtest/`; see `README.md`.
