//! The API server binaries: which kinds each serves ([`networking`], [`apinet`] with its
//! allocators) and the flags and start-up they share ([`cli`]).

pub mod apinet;
pub mod auth;
pub mod cli;
pub mod networking;
