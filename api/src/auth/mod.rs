//! Credentials: password hashing on bounded lanes, password checks, and the
//! signed tokens sessions are carried in.

pub mod hashing;
pub mod jwt;
pub mod password;
