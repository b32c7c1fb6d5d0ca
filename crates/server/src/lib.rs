//! The generic API server.
