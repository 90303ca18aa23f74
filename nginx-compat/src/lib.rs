//! Real nginx, started from this folder's configuration templates, for tests
//! and benchmarks that put it side by side with spotik-edge.

mod nginx;
mod render;

pub use nginx::{check_config, free_port, nginx_binary, templates, wait_for, CdnServer, MediaServer, Nginx};
pub use render::render;
