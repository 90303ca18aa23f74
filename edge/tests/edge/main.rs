//! Integration tests: the real server on port 0, driven over TCP by a real
//! HTTP client (hyper) and, for input no well-behaved client would send, by
//! hand-written bytes on a raw socket.

mod support;

mod conditional;
mod faults;
mod limits;
mod operations;
mod paths;
mod ranges;
mod sendfile;
mod signed;
