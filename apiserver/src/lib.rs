//! Kind registrations and flags of the API server binaries.
