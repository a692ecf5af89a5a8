//! Accounts: registration, sessions (access + rotating refresh tokens), moderation.
use chrono::{DateTime, Utc};
use entity::{refresh_tokens, users};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveEnum as _;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{AuthUser, Viewer};
use crate::auth::{self, token_digest};
use crate::db::is_unique_violation;
use crate::domain::account::{
    self, status_reason, DisplayName, Email, Password, Role, Roles, UserStatus,
};
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::events::{self, Notice};
use crate::ids::{self, Kind};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

const LOGIN_FAILED: &str = "invalid email or password";
const REFRESH_INVALID: &str = "invalid or expired refresh token";

/// What a successful register, login or refresh hands back.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: users::Model,
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_token: String,
}

pub struct RegisterInput<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub display_name: &'a str,
}

#[tracing::instrument(skip_all)]
pub async fn register(state: &AppState, input: RegisterInput<'_>) -> ApiResult<Session> {
    let email = Email::parse(input.email);
    let password = Password::parse(input.password);
    let name = DisplayName::parse(input.display_name);
    let (email, password, name) = match (email, password, name) {
        (Ok(e), Ok(p), Ok(n)) => (e, p, n),
        (e, p, n) => {
            let mut errors = Vec::new();
            if let Err(err) = e {
                errors.push(Refusal::invalid("email", err.0));
            }
            if let Err(err) = p {
                errors.push(Refusal::invalid("password", err.0));
            }
            if let Err(err) = n {
                errors.push(Refusal::invalid("displayName", err.0));
            }
            return Err(ApiError::Refused(errors));
        }
    };
    let taken = || {
        ApiError::refused(Refusal::on_input(
            "email",
            RefusalCode::AlreadyExists,
            "an account with this email already exists",
        ))
    };
    if find_by_email(&state.db.reader, &email).await?.is_some() {
        return Err(taken());
    }

    let hash = hash_blocking(state, password).await?;
    // Nobody becomes an admin by registering: ADMIN is granted to accounts that already exist
    // (ADMIN_EMAILS at start, or `marketplace admin grant EMAIL`), so whoever registers a
    // listed address first gains nothing.
    let admin = false;
    let now = state.now();
    let user = users::ActiveModel {
        id: Set(ids::new_id(Kind::User)),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(hash),
        display_name: Set(name.as_str().to_owned()),
        roles: Set(Roles::for_new_user(admin).to_stored()),
        status: Set(UserStatus::Active),
        status_reason: Set(None),
        status_changed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let txn = state.db.writer.begin().await?;
    let user = match user.insert(&txn).await {
        Ok(user) => user,
        // Two registrations racing for one email: the loser sees the same refusal.
        Err(err) if is_unique_violation(&err, "users_email_key") => return Err(taken()),
        Err(err) => return Err(err.into()),
    };
    let refresh = insert_refresh_token(state, &txn, &user.id, None, now).await?;
    txn.commit().await?;
    tracing::info!(user_id = %user.id, admin, "registered");
    issue_session(state, user, refresh, now)
}

/// Counts one `login` or `register` attempt against the caller's address and the email it
/// names; past either limit the attempt is refused (LIMIT_EXCEEDED) with the wait, before any
/// password is hashed.
pub fn attempt(state: &AppState, ip: Option<std::net::IpAddr>, email: &str) -> ApiResult<()> {
    use crate::throttle::Take;
    let now = state.now().timestamp_millis();
    let by_ip = match ip {
        Some(ip) => state.auth_by_ip.take(&ip.to_string(), 1, now),
        None => Take::Taken { remaining: 0 },
    };
    let by_email = match by_ip {
        Take::Taken { .. } => {
            let key = email.trim().to_lowercase();
            let key: String = key.chars().take(320).collect();
            state.auth_by_email.take(&key, 1, now)
        }
        wait => wait,
    };
    match by_email {
        Take::Taken { .. } => Ok(()),
        Take::Wait { ms } => Err(ApiError::refused(Refusal::new(
            RefusalCode::LimitExceeded,
            format!(
                "too many sign-in attempts: retry in {} s",
                (ms + 999) / 1000
            ),
        ))),
    }
}

#[tracing::instrument(skip_all)]
pub async fn login(state: &AppState, email: &str, password: &str) -> ApiResult<Session> {
    let failed = || ApiError::refused(Refusal::new(RefusalCode::Invalid, LOGIN_FAILED));
    let user = match Email::parse(email) {
        Ok(email) => find_by_email(&state.db.reader, &email).await?,
        Err(_) => None,
    };
    // Verify against a dummy hash when the account does not exist, so that the answer takes as
    // long either way and says nothing about which emails are registered.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_owned();
    let matches = state
        .passwords
        .run(move || {
            auth::verify_password(hash.as_deref().unwrap_or(auth::dummy_hash()), &password)
        })
        .await
        .map_err(|_| busy())?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(failed()),
    };
    let status = user.status;
    if !account::may_sign_in(status) {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            format!("this account is {}", status.to_value().to_lowercase()),
        )));
    }
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let refresh = insert_refresh_token(state, &txn, &user.id, None, now).await?;
    txn.commit().await?;
    issue_session(state, user, refresh, now)
}

/// How long a rotated refresh token still answers with the token that replaced it: two tabs
/// refreshing at once both get the same new session instead of losing the login.
const REFRESH_GRACE_SECS: i64 = 20;

/// The live successor of `stored`, when `stored` was rotated (not revoked) within the grace
/// window and `token` is the token it was: the same refresh token the rotation handed out.
async fn grace_successor(
    state: &AppState,
    stored: &refresh_tokens::Model,
    token: &str,
    now: DateTime<Utc>,
) -> ApiResult<Option<String>> {
    let (Some(spent_at), Some(successor_id)) = (stored.revoked_at, &stored.replaced_by) else {
        return Ok(None);
    };
    if now - spent_at > chrono::Duration::seconds(REFRESH_GRACE_SECS) {
        return Ok(None);
    }
    let Some(successor) = refresh_tokens::Entity::find_by_id(successor_id.clone())
        .one(&state.db.writer)
        .await?
    else {
        return Ok(None);
    };
    let raw = auth::successor_token(&state.settings.jwt_secret, token);
    let live = successor.revoked_at.is_none() && successor.expires_at > now;
    Ok((live && successor.token_hash == token_digest(&raw)).then_some(raw))
}

/// Rotates a refresh token: the presented one is spent and a new one of the same family issued.
/// Presenting a spent token again within a few seconds (two tabs) answers with the same new
/// token; later it is taken as theft and the whole family is revoked.
#[tracing::instrument(skip_all)]
pub async fn refresh_session(state: &AppState, token: &str) -> ApiResult<Session> {
    let invalid = || ApiError::refused(Refusal::new(RefusalCode::Invalid, REFRESH_INVALID));
    let now = state.now();
    let Some(stored) = find_refresh_token(&state.db.reader, token).await? else {
        return Err(invalid());
    };
    if stored.revoked_at.is_some() {
        if let Some(successor) = grace_successor(state, &stored, token, now).await? {
            let user = users::Entity::find_by_id(stored.user_id.clone())
                .one(&state.db.reader)
                .await?
                .filter(|u| account::may_sign_in(u.status))
                .ok_or_else(invalid)?;
            return issue_session(state, user, successor, now);
        }
        revoke_family(&state.db.writer, &stored.family_id, now).await?;
        tracing::warn!(user_id = %stored.user_id, family = %stored.family_id,
            "a spent refresh token was presented again: revoked its family");
        return Err(invalid());
    }
    if stored.expires_at <= now {
        return Err(invalid());
    }
    let user = users::Entity::find_by_id(stored.user_id.clone())
        .one(&state.db.reader)
        .await?
        .ok_or_else(invalid)?;
    if !account::may_sign_in(user.status) {
        revoke_family(&state.db.writer, &stored.family_id, now).await?;
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            "this account may not sign in",
        )));
    }

    let txn = state.db.writer.begin().await?;
    let new_id = ids::new_id(Kind::RefreshToken);
    // Spend the token only if nobody spent it first: of two racing refreshes one wins, and the
    // other is treated as reuse.
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .col_expr(
            refresh_tokens::Column::ReplacedBy,
            Expr::value(new_id.clone()),
        )
        .filter(refresh_tokens::Column::Id.eq(stored.id.clone()))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        txn.rollback().await?;
        // A concurrent refresh of the same token won: within the grace window this one gets
        // the same successor; otherwise it is reuse.
        let again = find_refresh_token(&state.db.writer, token).await?;
        if let Some(again) = again {
            if let Some(successor) = grace_successor(state, &again, token, now).await? {
                return issue_session(state, user, successor, now);
            }
        }
        revoke_family(&state.db.writer, &stored.family_id, now).await?;
        return Err(invalid());
    }
    let successor = auth::successor_token(&state.settings.jwt_secret, token);
    let refresh = store_refresh_token(
        state,
        &txn,
        new_id,
        successor,
        &user.id,
        Some(stored.family_id.clone()),
        now,
    )
    .await?;
    txn.commit().await?;
    issue_session(state, user, refresh, now)
}

/// Ends the login the refresh token belongs to (every token of its family).
#[tracing::instrument(skip_all)]
pub async fn logout(state: &AppState, token: &str) -> ApiResult<()> {
    let Some(stored) = find_refresh_token(&state.db.reader, token).await? else {
        return Err(ApiError::refused(Refusal::on_input(
            "refreshToken",
            RefusalCode::Invalid,
            "unknown refresh token",
        )));
    };
    revoke_family(&state.db.writer, &stored.family_id, state.now()).await?;
    Ok(())
}

/// Suspends, bans or reactivates a user (admins only). A user who is no longer active loses
/// every session at once: refresh tokens are revoked and access tokens stop being accepted
/// because every request re-reads the status.
#[tracing::instrument(skip(state, viewer, reason))]
pub async fn set_user_status(
    state: &AppState,
    viewer: &Viewer,
    user_id: &str,
    status: UserStatus,
    reason: &str,
) -> ApiResult<users::Model> {
    let admin = viewer.admin()?;
    let reason =
        status_reason(reason).map_err(|e| ApiError::refused(Refusal::invalid("reason", e.0)))?;
    let not_found = || {
        ApiError::refused(Refusal::on_input(
            "userId",
            RefusalCode::NotFound,
            "no such user",
        ))
    };
    if !ids::is_kind(user_id, Kind::User) {
        return Err(not_found());
    }
    if admin.id == user_id {
        return Err(ApiError::refused(Refusal::on_input(
            "userId",
            RefusalCode::NotAllowed,
            "admins cannot change their own status",
        )));
    }
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let user = users::Entity::find_by_id(user_id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let mut active: users::ActiveModel = user.into();
    active.status = Set(status);
    active.status_reason = Set(Some(reason));
    active.status_changed_at = Set(Some(now));
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    if !account::may_sign_in(status) {
        refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
            .filter(refresh_tokens::Column::UserId.eq(user.id.clone()))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        suspend_their_provider(&txn, &user, &admin.id, now).await?;
    }
    let notice = Notice::User {
        user_id: user.id.clone(),
    };
    events::notify_in(&txn, &notice).await?;
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    // Open subscriptions of this user re-check at once (and end when it may not sign in).
    publisher.committed([notice]);
    tracing::info!(admin = %admin.id, user_id = %user.id, status = ?status, "user status changed");
    Ok(user)
}

/// The viewer behind a bearer access token: valid signature, not expired, and the user still
/// exists and is active. Anything else is UNAUTHENTICATED, never a silent anonymous.
pub async fn authenticate(state: &AppState, token: &str) -> ApiResult<Viewer> {
    let claims = state.jwt.verify(token).ok_or(ApiError::Unauthenticated)?;
    let user = users::Entity::find_by_id(claims.sub)
        .one(&state.db.reader)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if !account::may_sign_in(user.status) {
        return Err(ApiError::Unauthenticated);
    }
    let roles = stored_roles(&user)?;
    Ok(Viewer::User(AuthUser { id: user.id, roles }))
}

/// The user's stored roles; a name this build does not know is an internal error, so the
/// account cannot act until an operator looks (it never silently loses or gains a role).
pub fn stored_roles(user: &users::Model) -> ApiResult<Roles> {
    Roles::from_stored(&user.roles)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("user {}: {err}", user.id)))
}

/// A suspended or banned user's ACTIVE provider is suspended with them, in the same
/// transaction: it leaves browsing and takes no new order, as any suspended provider. Orders
/// under way go on; reactivating the user leaves the provider to an admin's decision.
async fn suspend_their_provider(
    txn: &impl ConnectionTrait,
    user: &users::Model,
    admin_id: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    use crate::domain::seller::ProviderStatus;
    use entity::providers;
    let Some(provider) = providers::Entity::find()
        .filter(providers::Column::UserId.eq(user.id.clone()))
        .filter(providers::Column::Status.eq(ProviderStatus::Active))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let reason = format!(
        "the provider's account was {}",
        user.status.to_value().to_lowercase()
    );
    // A concurrent moderation that moved it first has the last word.
    super::sellers::change_status(
        txn,
        &provider.id,
        ProviderStatus::Active,
        ProviderStatus::Suspended,
        &reason,
        Some(admin_id),
        now,
    )
    .await?;
    Ok(())
}

/// Gives ADMIN to the accounts listed in ADMIN_EMAILS that exist when the server starts;
/// an address registered later gets nothing until the next start (or `admin grant`).
pub async fn bootstrap_admins(state: &AppState) -> ApiResult<()> {
    let listed: Vec<String> = state
        .settings
        .admin_emails
        .iter()
        .filter_map(|e| Email::parse(e).ok())
        .map(|e| e.as_str().to_owned())
        .collect();
    if listed.is_empty() {
        return Ok(());
    }
    let users = users::Entity::find()
        .filter(users::Column::Email.is_in(listed))
        .all(&state.db.writer)
        .await?;
    for user in users {
        make_admin(state, user).await?;
    }
    Ok(())
}

/// `marketplace admin grant EMAIL`: ADMIN for the existing account with that email.
pub async fn grant_admin(state: &AppState, email: &str) -> ApiResult<users::Model> {
    let email = Email::parse(email).map_err(|e| ApiError::BadInput(e.0))?;
    let user = find_by_email(&state.db.writer, &email)
        .await?
        .ok_or_else(|| {
            ApiError::BadInput(format!("no account with the email {}", email.as_str()))
        })?;
    make_admin(state, user).await
}

async fn make_admin(state: &AppState, user: users::Model) -> ApiResult<users::Model> {
    let mut roles = stored_roles(&user)?;
    if roles.contains(Role::Admin) {
        return Ok(user);
    }
    roles.insert(Role::Admin);
    let id = user.id.clone();
    let mut active: users::ActiveModel = user.into();
    active.roles = Set(roles.to_stored());
    active.updated_at = Set(state.now());
    let user = active.update(&state.db.writer).await?;
    tracing::info!(user_id = %id, "granted ADMIN");
    Ok(user)
}

/// Filter of the admin user list.
#[derive(Debug, Default)]
pub struct UserFilter {
    pub query: Option<String>,
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
}

/// Keyset of the user list: newest first, by id (UUIDv7 ids sort by creation).
#[derive(Debug, Serialize, Deserialize)]
pub struct UserCursor {
    pub id: String,
}

/// The user list for admins, newest first.
pub async fn list_users(
    state: &AppState,
    viewer: &Viewer,
    filter: UserFilter,
    page: PageRequest<UserCursor>,
) -> ApiResult<Page<users::Model>> {
    viewer.admin()?;
    let mut query = users::Entity::find();
    if let Some(q) = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        if q.chars().count() > 200 {
            return Err(ApiError::BadInput(
                "query must be at most 200 characters".into(),
            ));
        }
        let pattern = crate::db::contains(&q.to_lowercase());
        query = query.filter(
            sea_orm::Condition::any()
                .add(Expr::col(users::Column::Email).like(pattern.clone()))
                .add(
                    Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                        users::Column::DisplayName,
                    )))
                    .like(pattern),
                ),
        );
    }
    if let Some(status) = filter.status {
        query = query.filter(users::Column::Status.eq(status));
    }
    if let Some(role) = filter.role {
        // Roles are stored sorted and comma-separated, so a role name appears whole.
        query = query.filter(users::Column::Roles.like(format!("%{}%", role.as_str())));
    }
    let total = query.clone().count(&state.db.reader).await?;
    if let Some(after) = &page.after {
        query = query.filter(users::Column::Id.lt(after.id.clone()));
    }
    let rows = query
        .order_by_desc(users::Column::Id)
        .limit(page.fetch_limit())
        .all(&state.db.reader)
        .await?;
    Ok(Page::from_overfetch(rows, &page, total))
}

async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &Email,
) -> ApiResult<Option<users::Model>> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(conn)
        .await?)
}

async fn find_refresh_token(
    conn: &impl ConnectionTrait,
    token: &str,
) -> ApiResult<Option<refresh_tokens::Model>> {
    if token.is_empty() || token.len() > 200 {
        return Ok(None);
    }
    Ok(refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(token_digest(token)))
        .one(conn)
        .await?)
}

async fn revoke_family(
    conn: &impl ConnectionTrait,
    family_id: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

async fn insert_refresh_token(
    state: &AppState,
    conn: &impl ConnectionTrait,
    user_id: &str,
    family_id: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let token = format!("rt_{}", auth::random_token(32));
    let id = ids::new_id(Kind::RefreshToken);
    store_refresh_token(state, conn, id, token, user_id, family_id, now).await
}

/// Stores the digest of `token` and returns the token.
async fn store_refresh_token(
    state: &AppState,
    conn: &impl ConnectionTrait,
    id: String,
    token: String,
    user_id: &str,
    family_id: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let ttl = chrono::Duration::from_std(state.settings.refresh_token_ttl)
        .map_err(|e| ApiError::Internal(e.into()))?;
    refresh_tokens::ActiveModel {
        id: Set(id),
        user_id: Set(user_id.to_owned()),
        family_id: Set(family_id.unwrap_or_else(|| ids::new_id(Kind::TokenFamily))),
        token_hash: Set(token_digest(&token)),
        expires_at: Set(now + ttl),
        revoked_at: Set(None),
        replaced_by: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(token)
}

fn issue_session(
    state: &AppState,
    user: users::Model,
    refresh_token: String,
    now: DateTime<Utc>,
) -> ApiResult<Session> {
    let roles = stored_roles(&user)?.names();
    let (access_token, expires_at) = state.jwt.issue(&user.id, roles, now)?;
    Ok(Session {
        user,
        access_token,
        expires_at,
        refresh_token,
    })
}

async fn hash_blocking(state: &AppState, password: Password) -> ApiResult<String> {
    state
        .passwords
        .run(move || auth::hash_password(password.expose()))
        .await
        .map_err(|_| busy())?
        .map_err(ApiError::Internal)
}

/// Every password thread is busy and the queue is full: the client retries shortly.
fn busy() -> ApiError {
    ApiError::refused(Refusal::new(
        RefusalCode::LimitExceeded,
        "too many sign-ins at once; try again in a moment",
    ))
}
