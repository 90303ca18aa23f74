//! Limits on what one client may do in a window of time: logins, registrations,
//! chat; counted per replica in bounded maps and shared across replicas
//! through Redis where a limit must hold for the whole deployment.

pub mod flood;
pub mod login;
pub mod registrations;
pub mod shared;
pub mod windows;
