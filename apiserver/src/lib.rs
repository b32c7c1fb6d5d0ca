//! The API server binaries: which kinds each serves ([`networking`]) and the flags and
//! start-up they share ([`cli`]).

pub mod cli;
pub mod networking;
