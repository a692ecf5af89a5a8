//! A tenant's contacts: its members create, change, soft-delete and restore them; members and
//! admins read them. Anyone else finds no such contact or tenant (NOT_FOUND), so a stranger
//! learns nothing. Deleted contacts are absent from every default read and count, shown to
//! members with `includeDeleted`, and come back whole on restore. One live contact per
//! (tenant, marketplace user).
use entity::{contacts, tenants};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::sellers::is_member;
use super::{not_found_on as no_such, refused_on as invalid, tenancy, Viewer};
use crate::db::is_unique_violation;
use crate::domain::invoice as rules;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

/// How the viewer stands to a tenant's book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// a member: reads everything, deleted rows too when asked, and writes
    Member,
    /// an admin who is not a member: reads live rows
    Admin,
}

/// The viewer's access to the tenant's book, or `None`: then the book does not exist for them.
pub async fn access(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    tenant_id: &str,
) -> ApiResult<Option<Access>> {
    let Some(user_id) = viewer.id() else {
        return Ok(None);
    };
    Ok(access_of(
        viewer,
        is_member(conn, tenant_id, user_id).await?,
    ))
}

/// The tenant, when the viewer is one of its members (writes); NOT_FOUND on `field` otherwise.
async fn member_tenant(
    state: &AppState,
    viewer: &Viewer,
    tenant_id: &str,
    field: &str,
) -> ApiResult<tenants::Model> {
    viewer.user()?;
    if !ids::is_kind(tenant_id, Kind::Tenant) {
        return Err(no_such(field, "tenant"));
    }
    let conn = &state.db.reader;
    let tenant = tenants::Entity::find_by_id(tenant_id.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| no_such(field, "tenant"))?;
    match access(conn, viewer, &tenant.id).await? {
        Some(Access::Member) => Ok(tenant),
        _ => Err(no_such(field, "tenant")),
    }
}

/// A contact the viewer may write (a member of its tenant), deleted or not.
async fn writable(
    state: &AppState,
    viewer: &Viewer,
    contact_id: &str,
) -> ApiResult<contacts::Model> {
    viewer.user()?;
    let contact = find(&state.db.reader, contact_id)
        .await?
        .ok_or_else(|| no_such("contactId", "contact"))?;
    match access(&state.db.reader, viewer, &contact.tenant_id).await? {
        Some(Access::Member) => Ok(contact),
        _ => Err(no_such("contactId", "contact")),
    }
}

async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<contacts::Model>> {
    if !ids::is_kind(id, Kind::Contact) {
        return Ok(None);
    }
    Ok(contacts::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// A contact as the viewer may read it: members see it deleted or not, admins only live.
pub async fn for_viewer(
    state: &AppState,
    viewer: &Viewer,
    contact_id: &str,
) -> ApiResult<Option<contacts::Model>> {
    let conn = &state.db.reader;
    let Some(contact) = find(conn, contact_id).await? else {
        return Ok(None);
    };
    let access = access(conn, viewer, &contact.tenant_id).await?;
    Ok(may_read(access, &contact).then_some(contact))
}

/// Members read a contact deleted or not, admins only a live one, nobody else.
pub fn may_read(access: Option<Access>, contact: &contacts::Model) -> bool {
    match access {
        Some(Access::Member) => true,
        Some(Access::Admin) => contact.deleted_at.is_none(),
        None => false,
    }
}

/// The access a viewer has to a book, knowing whether they are one of its members.
pub fn access_of(viewer: &Viewer, is_member: bool) -> Option<Access> {
    if viewer.id().is_none() {
        None
    } else if is_member {
        Some(Access::Member)
    } else if viewer.is_admin() {
        Some(Access::Admin)
    } else {
        None
    }
}

pub struct NewContact<'a> {
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
}

#[tracing::instrument(skip_all, fields(tenant = input.tenant_id))]
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: NewContact<'_>,
) -> ApiResult<contacts::Model> {
    let name = rules::contact_name(input.name).map_err(invalid("name"))?;
    let email = rules::contact_email(input.email).map_err(invalid("email"))?;
    let phone = rules::contact_phone(input.phone).map_err(invalid("phone"))?;
    let tenant = member_tenant(state, viewer, input.tenant_id, "tenantId").await?;
    let now = state.now();
    let txn = tenancy::begin(state, viewer, &state.db.writer).await?;
    let contact = contacts::ActiveModel {
        id: Set(ids::new_id(Kind::Contact)),
        tenant_id: Set(tenant.id),
        user_id: Set(None),
        name: Set(name),
        email: Set(email),
        phone: Set(phone),
        first_contacted_at: Set(None),
        total_transactions: Set(0),
        total_spent_cents: Set(0),
        currency: Set("USD".to_owned()),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(contact)
}

/// What `update` changes: `None` leaves a field as it is; for email and phone a blank text
/// clears it.
pub struct ContactChanges<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
}

#[tracing::instrument(skip(state, viewer, changes))]
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    contact_id: &str,
    changes: ContactChanges<'_>,
) -> ApiResult<contacts::Model> {
    let contact = writable(state, viewer, contact_id).await?;
    if contact.deleted_at.is_some() {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "the contact is deleted: restore it first",
        )));
    }
    let mut active: contacts::ActiveModel = contact.into();
    if let Some(name) = changes.name {
        active.name = Set(rules::contact_name(name).map_err(invalid("name"))?);
    }
    if let Some(email) = changes.email {
        active.email = Set(rules::contact_email(Some(email)).map_err(invalid("email"))?);
    }
    if let Some(phone) = changes.phone {
        active.phone = Set(rules::contact_phone(Some(phone)).map_err(invalid("phone"))?);
    }
    active.updated_at = Set(state.now());
    let txn = tenancy::begin(state, viewer, &state.db.writer).await?;
    let contact = active.update(&txn).await?;
    txn.commit().await?;
    Ok(contact)
}

/// Soft delete: the contact leaves every default read, count and uniqueness check.
#[tracing::instrument(skip(state, viewer))]
pub async fn delete(
    state: &AppState,
    viewer: &Viewer,
    contact_id: &str,
) -> ApiResult<contacts::Model> {
    let contact = writable(state, viewer, contact_id).await?;
    let now = state.now();
    let txn = tenancy::begin(state, viewer, &state.db.writer).await?;
    let moved = contacts::Entity::update_many()
        .col_expr(contacts::Column::DeletedAt, Expr::value(now))
        .col_expr(contacts::Column::UpdatedAt, Expr::value(now))
        .filter(contacts::Column::Id.eq(contact.id.clone()))
        .filter(contacts::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "the contact is already deleted",
        )));
    }
    let contact = reload(&txn, &contact.id).await?;
    txn.commit().await?;
    Ok(contact)
}

/// Brings a deleted contact back whole; refused while another live contact stands for the same
/// marketplace user.
#[tracing::instrument(skip(state, viewer))]
pub async fn restore(
    state: &AppState,
    viewer: &Viewer,
    contact_id: &str,
) -> ApiResult<contacts::Model> {
    let contact = writable(state, viewer, contact_id).await?;
    let now = state.now();
    let txn = tenancy::begin(state, viewer, &state.db.writer).await?;
    let moved = contacts::Entity::update_many()
        .col_expr(
            contacts::Column::DeletedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(contacts::Column::UpdatedAt, Expr::value(now))
        .filter(contacts::Column::Id.eq(contact.id.clone()))
        .filter(contacts::Column::DeletedAt.is_not_null())
        .exec(&txn)
        .await;
    match moved {
        Ok(done) if done.rows_affected == 1 => {
            let contact = reload(&txn, &contact.id).await?;
            txn.commit().await?;
            Ok(contact)
        }
        Ok(_) => Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "the contact is not deleted",
        ))),
        Err(err) if is_unique_violation(&err, "contacts_tenant_user_live_key") => {
            Err(ApiError::refused(Refusal::new(
                RefusalCode::Conflict,
                "another live contact stands for this marketplace user",
            )))
        }
        Err(err) => Err(err.into()),
    }
}

async fn reload(conn: &impl ConnectionTrait, id: &str) -> ApiResult<contacts::Model> {
    find(conn, id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("contact {id} vanished")))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactCursor {
    pub id: String,
}

pub struct ContactFilter<'a> {
    pub query: Option<&'a str>,
    pub include_deleted: bool,
}

/// The tenant's contacts, newest first, searched by name or email. Members may include the
/// deleted ones; anyone who may not read the book gets an empty page.
pub async fn of_tenant(
    state: &AppState,
    viewer: &Viewer,
    tenant_id: &str,
    filter: ContactFilter<'_>,
    page: PageRequest<ContactCursor>,
) -> ApiResult<Page<contacts::Model>> {
    let query_text = rules::search_text(filter.query).map_err(invalid("query"))?;
    let Some(access) = access(&state.db.reader, viewer, tenant_id).await? else {
        return Ok(Page::from_overfetch(Vec::new(), &page, 0));
    };
    let mut query = contacts::Entity::find().filter(contacts::Column::TenantId.eq(tenant_id));
    if !(filter.include_deleted && access == Access::Member) {
        query = query.filter(contacts::Column::DeletedAt.is_null());
    }
    if let Some(text) = query_text {
        let pattern = crate::db::contains(&text);
        query = query.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(contacts::Column::Name)))
                        .like(pattern.clone()),
                )
                .add(Expr::col(contacts::Column::Email).like(pattern)),
        );
    }
    let txn = tenancy::begin(state, viewer, &state.db.reader).await?;
    let total = query.clone().count(&txn).await?;
    if let Some(after) = &page.after {
        query = query.filter(contacts::Column::Id.lt(after.id.clone()));
    }
    let rows = query
        .order_by_desc(contacts::Column::Id)
        .limit(page.fetch_limit())
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(Page::from_overfetch(rows, &page, total))
}
