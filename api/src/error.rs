//! How a use case fails, without knowing the API: a [`Refusal`] (an expected business failure:
//! bad input, wrong state, a conflict, an unknown id in a command) or any other [`ApiError`].
//! `graphql::errors` turns refusals into a payload's `userErrors` and the rest into top-level
//! errors with `extensions.code`; internal errors reach the client only as "internal error"
//! plus the request id.

/// What kind of refusal; mirrored in the API as `UserErrorCode`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RefusalCode {
    Invalid,
    NotFound,
    AlreadyExists,
    InvalidState,
    Conflict,
    LimitExceeded,
    PaymentFailed,
    NotAllowed,
}

/// A business refusal: a code, the path of the input field at fault, a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// path to the input field at fault, e.g. ["input", "priceCents"]
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: RefusalCode,
}

impl Refusal {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
            code,
        }
    }

    /// An error about `input.<field>`.
    pub fn on_input(field: &str, code: RefusalCode, message: impl Into<String>) -> Self {
        Self {
            field: Some(vec!["input".to_owned(), field.to_owned()]),
            message: message.into(),
            code,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::on_input(field, RefusalCode::Invalid, message)
    }
}

/// Every failure of a request. Deliberately not `Display`: that keeps async-graphql's blanket
/// conversion (which would copy any message to the client) away, so every error goes through
/// `graphql::errors`, which sets `extensions.code` and hides internal text.
#[derive(Debug)]
pub enum ApiError {
    /// Expected failures that belong in a payload's `userErrors`.
    Refused(Vec<Refusal>),
    Unauthenticated,
    Forbidden(String),
    NotFound(String),
    BadInput(String),
    /// A subscriber fell behind its buffer and its stream ends; it resumes with `after`.
    Lagged,
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Internal(err)
    }
}

impl ApiError {
    pub fn refused(error: Refusal) -> Self {
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
            ApiError::Lagged => {
                "this subscription fell behind and was closed; subscribe again with after: \
                 <the last event id received>"
                    .to_owned()
            }
            ApiError::Internal(_) => "internal error".to_owned(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Refused(_) | ApiError::BadInput(_) => "BAD_USER_INPUT",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Lagged => "SUBSCRIBER_LAGGED",
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

/// Statements run on the pool underneath SeaORM (the order-event sequencer).
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(err))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
