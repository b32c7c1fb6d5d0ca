//! The request gate: authentication and authorization run here, before every handler.

use crate::errors::ApiError;

/// Decides whether a request may proceed.
pub trait Gate: Send + Sync + 'static {
    /// `Ok` to proceed; an error (401/403) is answered as it is.
    fn check(&self, request: &http::request::Parts) -> Result<(), ApiError>;
}

/// `--authorization-mode=AlwaysAllow`: every request proceeds (local use).
pub struct AllowAll;

impl Gate for AllowAll {
    fn check(&self, _: &http::request::Parts) -> Result<(), ApiError> {
        Ok(())
    }
}
