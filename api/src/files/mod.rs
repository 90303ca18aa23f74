//! Files on disk: uploads, where they are kept, their probe in a child process, cover images.

pub mod image;
pub mod probe;
pub mod slots;
pub mod storage;
pub mod upload;
pub mod warm;
