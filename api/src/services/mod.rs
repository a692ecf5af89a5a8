//! Use cases, one module per aggregate. Each checks who may act, applies the domain rule inside
//! one transaction and returns either the result or refusals (`ApiError::Refused`).
pub mod accounts;
pub mod browse;
pub mod chargebacks;
pub mod contacts;
pub mod disputes;
pub mod files;
pub mod invoices;
pub mod invoicing;
pub mod ledger;
pub mod listings;
pub mod messaging;
pub mod orders;
pub mod provider_listings;
pub mod realtime;
pub mod reviews;
pub mod rows;
pub mod sellers;
pub mod tenancy;
pub mod webhooks;

use crate::domain::account::{Role, Roles};
use crate::domain::Invalid;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};

/// NOT_FOUND on an input field: "no such <what>" (also what a viewer who may not see it gets).
pub(crate) fn not_found_on(field: &str, what: &str) -> ApiError {
    ApiError::refused(Refusal::on_input(
        field,
        RefusalCode::NotFound,
        format!("no such {what}"),
    ))
}

/// A domain value refused on an input field (INVALID with the rule's message), for `map_err`.
pub(crate) fn refused_on(field: &'static str) -> impl Fn(Invalid) -> ApiError {
    move |e| ApiError::refused(Refusal::invalid(field, e.0))
}

/// Who is asking: resolved once per request (HTTP header or websocket `connection_init`).
#[derive(Clone, Debug, Default)]
pub enum Viewer {
    #[default]
    Anonymous,
    User(AuthUser),
}

/// An authenticated, active user with the roles the database holds now (not the token's).
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: String,
    pub roles: Roles,
}

impl Viewer {
    pub fn user(&self) -> ApiResult<&AuthUser> {
        match self {
            Viewer::User(user) => Ok(user),
            Viewer::Anonymous => Err(ApiError::Unauthenticated),
        }
    }

    pub fn admin(&self) -> ApiResult<&AuthUser> {
        let user = self.user()?;
        if user.roles.contains(Role::Admin) {
            Ok(user)
        } else {
            Err(ApiError::Forbidden("admins only".to_owned()))
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Viewer::User(user) => Some(&user.id),
            Viewer::Anonymous => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Viewer::User(user) if user.roles.contains(Role::Admin))
    }

    /// The viewer is this user, or an admin.
    pub fn is_self_or_admin(&self, user_id: &str) -> bool {
        self.id() == Some(user_id) || self.is_admin()
    }
}
