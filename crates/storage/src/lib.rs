//! Revisioned key-value storage.
