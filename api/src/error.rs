//! The two error channels of the API.
//!
//! Expected business failures (bad input, wrong state, conflicts, unknown ids in mutations) are
//! [`UserError`]s returned as data in each payload's `userErrors`. Everything else is an
//! [`ApiError`] that becomes a top-level GraphQL error with `extensions.code`; internal errors
//! are logged and reach the client only as "internal error" plus the request id.
use async_graphql::{Enum, ErrorExtensions, SimpleObject};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
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

impl UserError {
    pub fn new(code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
            code,
        }
    }

    /// An error about `input.<field>`.
    pub fn on_input(field: &str, code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: Some(vec!["input".to_owned(), field.to_owned()]),
            message: message.into(),
            code,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::on_input(field, UserErrorCode::Invalid, message)
    }
}

/// Every failure of a request. Deliberately not `Display`: that keeps async-graphql's blanket
/// conversion (which would copy any message to the client) away, so every error goes through
/// the `From` below, which sets `extensions.code` and hides internal text.
#[derive(Debug)]
pub enum ApiError {
    /// Expected failures that belong in a payload's `userErrors`.
    Refused(Vec<UserError>),
    Unauthenticated,
    Forbidden(String),
    NotFound(String),
    BadInput(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Internal(err)
    }
}

impl ApiError {
    pub fn refused(error: UserError) -> Self {
        ApiError::Refused(vec![error])
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Refused(errors) => errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            ApiError::Unauthenticated => "authentication required".to_owned(),
            ApiError::Forbidden(m) | ApiError::NotFound(m) | ApiError::BadInput(m) => m.clone(),
            ApiError::Internal(_) => "internal error".to_owned(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Refused(_) | ApiError::BadInput(_) => "BAD_USER_INPUT",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Internal(_) => INTERNAL_CODE,
        }
    }
}

pub const INTERNAL_CODE: &str = "INTERNAL_SERVER_ERROR";

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::Internal(anyhow::Error::new(err))
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

pub type ApiResult<T> = Result<T, ApiError>;

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
        Err(ApiError::Refused(errors)) => Ok(P::refused(errors)),
        Err(other) => Err(other.into()),
    }
}
