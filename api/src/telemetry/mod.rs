//! What the API measures of itself: requests, queries, drift, memory, and their history.

pub mod db_stats;
pub mod drift;
pub mod edge_figures;
pub mod histogram;
pub mod history;
pub mod memory;
pub mod request_stats;
