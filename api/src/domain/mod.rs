//! What a room is, independent of HTTP and of storage: its rows and views,
//! its clock, the rules of its text and chat, and what a refusal means.

pub mod chat;
pub mod clock;
pub mod failure;
pub mod fair;
pub mod models;
pub mod text;
