//! Accounts in GraphQL: the `User` type, `viewer`, the admin user list, and the session and
//! moderation mutations. Resolvers only translate; the rules live in `services::accounts`.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entity::users;

use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::scalars::DateTime;
use super::sellers::{Provider, Tenant};
use super::ContextExt;
use crate::domain::account;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::accounts::{self as service, Session, UserCursor};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum RoleGql {
    Buyer,
    Provider,
    Admin,
}

impl From<account::Role> for RoleGql {
    fn from(role: account::Role) -> Self {
        match role {
            account::Role::Buyer => RoleGql::Buyer,
            account::Role::Provider => RoleGql::Provider,
            account::Role::Admin => RoleGql::Admin,
        }
    }
}

impl From<RoleGql> for account::Role {
    fn from(role: RoleGql) -> Self {
        match role {
            RoleGql::Buyer => account::Role::Buyer,
            RoleGql::Provider => account::Role::Provider,
            RoleGql::Admin => account::Role::Admin,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "UserStatus")]
pub enum UserStatusGql {
    Active,
    Suspended,
    Banned,
}

impl From<account::UserStatus> for UserStatusGql {
    fn from(status: account::UserStatus) -> Self {
        match status {
            account::UserStatus::Active => UserStatusGql::Active,
            account::UserStatus::Suspended => UserStatusGql::Suspended,
            account::UserStatus::Banned => UserStatusGql::Banned,
        }
    }
}

impl From<UserStatusGql> for account::UserStatus {
    fn from(status: UserStatusGql) -> Self {
        match status {
            UserStatusGql::Active => account::UserStatus::Active,
            UserStatusGql::Suspended => account::UserStatus::Suspended,
            UserStatusGql::Banned => account::UserStatus::Banned,
        }
    }
}

/// A marketplace account.
#[derive(Clone)]
pub struct User {
    pub model: users::Model,
    /// Returned to the account's own holder by register/login/refresh, before the request has
    /// a viewer: private fields are shown.
    own_session: bool,
}

impl User {
    pub fn new(model: users::Model) -> Self {
        User {
            model,
            own_session: false,
        }
    }

    fn private_visible(&self, ctx: &Context<'_>) -> bool {
        self.own_session || ctx.viewer().is_self_or_admin(&self.model.id)
    }

    /// The user `id`, through the request's loader (a page of rows costs one query).
    pub async fn load(ctx: &Context<'_>, id: &str) -> async_graphql::Result<Option<User>> {
        Ok(ctx
            .loaders()?
            .users
            .load_one(id.to_owned())
            .await
            .map_err(super::loaders::loader_error)?
            .map(User::new))
    }

    /// The user a row points at; a missing one is an internal error naming the row.
    pub async fn load_referenced(
        ctx: &Context<'_>,
        id: &str,
        row: &str,
    ) -> async_graphql::Result<User> {
        Self::load(ctx, id).await?.ok_or_else(|| {
            crate::error::ApiError::Internal(anyhow::anyhow!("{row} without its user")).into()
        })
    }
}

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }

    /// visible to the user and to admins only
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.private_visible(ctx)
            .then_some(self.model.email.as_str())
    }

    async fn display_name(&self) -> &str {
        &self.model.display_name
    }

    async fn roles(&self) -> async_graphql::Result<Vec<RoleGql>> {
        Ok(crate::services::accounts::stored_roles(&self.model)?
            .iter()
            .map(RoleGql::from)
            .collect())
    }

    async fn status(&self) -> UserStatusGql {
        self.model.status.into()
    }

    /// why the status was last changed; the user and admins only
    async fn status_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        if self.private_visible(ctx) {
            self.model.status_reason.as_deref()
        } else {
            None
        }
    }

    /// the user's provider profile; visible when the provider is ACTIVE, or to the user and
    /// admins
    async fn provider(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Provider>> {
        let found = ctx
            .loaders()?
            .providers_by_user
            .load_one(self.model.id.clone())
            .await
            .map_err(super::loaders::loader_error)?;
        Ok(found
            .filter(|p| {
                self.own_session || crate::services::sellers::provider_visible(ctx.viewer(), p)
            })
            .map(Provider))
    }

    /// the tenants the user belongs to; empty for anyone but the user and admins
    async fn tenants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tenant>> {
        Ok(
            crate::services::sellers::tenants_of_user(ctx.state()?, ctx.viewer(), &self.model.id)
                .await?
                .into_iter()
                .map(Tenant)
                .collect(),
        )
    }

    async fn created_at(&self) -> DateTime {
        self.model.created_at.into()
    }
}

connection!(UserConnection, UserEdge, User);

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct RefreshSessionInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct LogoutInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct SetUserStatusInput {
    pub user_id: ID,
    pub status: UserStatusGql,
    pub reason: String,
}

/// Filter of the admin user list.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// part of the email or display name
    pub query: Option<String>,
    pub status: Option<UserStatusGql>,
    pub role: Option<RoleGql>,
}

#[derive(SimpleObject, Default)]
pub struct AuthPayload {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime>,
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

impl Payload for AuthPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        AuthPayload {
            user_errors,
            ..Default::default()
        }
    }
}

impl From<Session> for AuthPayload {
    fn from(session: Session) -> Self {
        AuthPayload {
            access_token: Some(session.access_token),
            refresh_token: Some(session.refresh_token),
            expires_at: Some(session.expires_at.into()),
            user: Some(User {
                model: session.user,
                own_session: true,
            }),
            user_errors: Vec::new(),
        }
    }
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    pub ok: bool,
    pub user_errors: Vec<UserError>,
}

impl Payload for LogoutPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        LogoutPayload {
            ok: false,
            user_errors,
        }
    }
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

impl Payload for UserPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        UserPayload {
            user: None,
            user_errors,
        }
    }
}

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in user; null when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = ctx.viewer().id() else {
            return Ok(None);
        };
        User::load(ctx, id).await
    }

    /// Every account, newest first (admins only).
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<UserFilter>,
    ) -> async_graphql::Result<UserConnection> {
        let page = PageRequest::<UserCursor>::parse(first, after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let filter = service::UserFilter {
            query: filter.query,
            status: filter.status.map(Into::into),
            role: filter.role.map(Into::into),
        };
        let page = service::list_users(ctx.state()?, ctx.viewer(), filter, page).await?;
        Ok(UserConnection::build(
            page,
            |u| encode_cursor(&UserCursor { id: u.id.clone() }),
            User::new,
        ))
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account and signs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<AuthPayload> {
        let state = ctx.state()?;
        let ip = ctx.data_opt::<crate::app::ClientIp>().map(|c| c.0);
        let result = match service::attempt(state, ip, &input.email) {
            Ok(()) => {
                service::register(
                    state,
                    service::RegisterInput {
                        email: &input.email,
                        password: &input.password,
                        display_name: &input.display_name,
                    },
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        into_payload(result, AuthPayload::from)
    }

    /// Signs in with email and password. Failures say only "invalid email or password".
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        let state = ctx.state()?;
        let ip = ctx.data_opt::<crate::app::ClientIp>().map(|c| c.0);
        let result = match service::attempt(state, ip, &input.email) {
            Ok(()) => service::login(state, &input.email, &input.password).await,
            Err(refused) => Err(refused),
        };
        into_payload(result, AuthPayload::from)
    }

    /// Trades a refresh token for a new access token and a new refresh token; the old one is
    /// spent, and presenting it again revokes every session of that login.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshSessionInput,
    ) -> async_graphql::Result<AuthPayload> {
        let result = service::refresh_session(ctx.state()?, &input.refresh_token).await;
        into_payload(result, AuthPayload::from)
    }

    /// Ends the session the refresh token belongs to.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        input: LogoutInput,
    ) -> async_graphql::Result<LogoutPayload> {
        let result = service::logout(ctx.state()?, &input.refresh_token).await;
        into_payload(result, |()| LogoutPayload {
            ok: true,
            user_errors: Vec::new(),
        })
    }

    /// Suspends, bans or reactivates an account (admins only); sessions end at once.
    async fn set_user_status(
        &self,
        ctx: &Context<'_>,
        input: SetUserStatusInput,
    ) -> async_graphql::Result<UserPayload> {
        let result = service::set_user_status(
            ctx.state()?,
            ctx.viewer(),
            &input.user_id,
            input.status.into(),
            &input.reason,
        )
        .await;
        into_payload(result, |user| UserPayload {
            user: Some(User::new(user)),
            user_errors: Vec::new(),
        })
    }
}
