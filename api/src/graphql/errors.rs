//! The API side of failures: a use case's [`Refusal`]s become a payload's `userErrors`, every
//! other [`ApiError`] a top-level GraphQL error with `extensions.code` (internal text hidden).
use async_graphql::{Enum, ErrorExtensions, SimpleObject};

use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};

// The kinds of refusal, as the contract names them (no description in the SDL, as before).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "RefusalCode")]
pub enum UserErrorCode {
    Invalid,
    NotFound,
    AlreadyExists,
    InvalidState,
    Conflict,
    LimitExceeded,
    PaymentFailed,
    NotAllowed,
}

/// A business refusal, reported in a mutation payload.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct UserError {
    /// path to the input field at fault, e.g. ["input", "priceCents"]
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: UserErrorCode,
}

impl From<Refusal> for UserError {
    fn from(refusal: Refusal) -> Self {
        UserError {
            field: refusal.field,
            message: refusal.message,
            code: refusal.code.into(),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        if let ApiError::Internal(inner) = &err {
            // The text of an internal error never reaches the client; the request id that the
            // handler adds lets an operator find this line.
            tracing::error!(error = ?inner, "internal error");
        }
        let code = err.code();
        async_graphql::Error::new(err.public_message()).extend_with(|_, ext| ext.set("code", code))
    }
}

/// A mutation payload that can carry refusals instead of a result.
pub trait Payload: Sized {
    fn refused(errors: Vec<UserError>) -> Self;
}

/// Turns a service result into a payload: refusals become `userErrors`, every other error a
/// top-level GraphQL error.
pub fn into_payload<T, P: Payload>(
    result: ApiResult<T>,
    ok: impl FnOnce(T) -> P,
) -> async_graphql::Result<P> {
    match result {
        Ok(value) => Ok(ok(value)),
        Err(ApiError::Refused(errors)) => Ok(P::refused(
            errors.into_iter().map(UserError::from).collect(),
        )),
        Err(other) => Err(other.into()),
    }
}
