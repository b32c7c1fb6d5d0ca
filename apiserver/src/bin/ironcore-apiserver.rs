//! The networking.ironcore.dev API server.

fn main() {}
