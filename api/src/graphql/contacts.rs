//! A tenant's contacts: the type, `Tenant.contacts`, and the members' mutations.
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use entity::contacts;

use super::accounts::User;
use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::loaders::loader_error;
use super::money::Money;
use super::scalars::DateTime;
use super::sellers::Tenant;
use super::ContextExt;
use crate::error::ApiError;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::contacts::{self as service, ContactChanges, ContactCursor, NewContact};

/// A client in a tenant's book; its members (and admins, live ones only) may read it.
#[derive(Clone)]
pub struct Contact(pub contacts::Model);

#[Object]
impl Contact {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn tenant(&self, ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
        ctx.loaders()?
            .tenants
            .load_one(self.0.tenant_id.clone())
            .await
            .map_err(loader_error)?
            .map(Tenant)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("contact without tenant")).into())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// the marketplace user this contact stands for, when it came from an order or a thread
    async fn marketplace_user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match &self.0.user_id {
            Some(id) => User::load(ctx, id).await,
            None => Ok(None),
        }
    }
    async fn first_contacted_at(&self) -> Option<DateTime> {
        self.0.first_contacted_at.map(DateTime)
    }
    async fn total_transactions(&self) -> i32 {
        self.0.total_transactions
    }
    async fn total_spent(&self) -> Money {
        Money::new(self.0.total_spent_cents, &self.0.currency)
    }
    async fn deleted_at(&self) -> Option<DateTime> {
        self.0.deleted_at.map(DateTime)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

connection!(ContactConnection, ContactEdge, Contact);

#[derive(InputObject, Default)]
pub struct ContactFilter {
    /// text in the name or the email
    pub query: Option<String>,
    /// deleted contacts too (members only)
    #[graphql(default_with = "Some(false)")]
    pub include_deleted: Option<bool>,
}

/// The contacts page of a tenant (`Tenant.contacts`).
pub async fn tenant_contacts(
    ctx: &Context<'_>,
    tenant_id: &str,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<ContactFilter>,
) -> async_graphql::Result<ContactConnection> {
    let page = PageRequest::<ContactCursor>::parse(first, after.as_deref())?;
    let filter = filter.unwrap_or_default();
    let page = service::of_tenant(
        ctx.state()?,
        ctx.viewer(),
        tenant_id,
        service::ContactFilter {
            query: filter.query.as_deref(),
            include_deleted: filter.include_deleted.unwrap_or(false),
        },
        page,
    )
    .await?;
    Ok(ContactConnection::build(
        page,
        |c| encode_cursor(&ContactCursor { id: c.id.clone() }),
        Contact,
    ))
}

#[derive(InputObject)]
pub struct ContactInput {
    pub tenant_id: ID,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateContactInput {
    pub contact_id: ID,
    pub name: Option<String>,
    /// a blank text clears it
    pub email: Option<String>,
    /// a blank text clears it
    pub phone: Option<String>,
}

#[derive(InputObject)]
pub struct ContactIdInput {
    pub contact_id: ID,
}

#[derive(SimpleObject)]
pub struct ContactPayload {
    pub contact: Option<Contact>,
    pub user_errors: Vec<UserError>,
}

impl Payload for ContactPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        ContactPayload {
            contact: None,
            user_errors,
        }
    }
}

fn contact_payload(contact: contacts::Model) -> ContactPayload {
    ContactPayload {
        contact: Some(Contact(contact)),
        user_errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct ContactsMutation;

#[Object]
impl ContactsMutation {
    /// a member adds a client to the tenant's book
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        input: ContactInput,
    ) -> async_graphql::Result<ContactPayload> {
        let result = service::create(
            ctx.state()?,
            ctx.viewer(),
            NewContact {
                tenant_id: &input.tenant_id,
                name: &input.name,
                email: input.email.as_deref(),
                phone: input.phone.as_deref(),
            },
        )
        .await;
        into_payload(result, contact_payload)
    }

    /// a member changes a live contact; fields left out stay as they are
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        input: UpdateContactInput,
    ) -> async_graphql::Result<ContactPayload> {
        let result = service::update(
            ctx.state()?,
            ctx.viewer(),
            &input.contact_id,
            ContactChanges {
                name: input.name.as_deref(),
                email: input.email.as_deref(),
                phone: input.phone.as_deref(),
            },
        )
        .await;
        into_payload(result, contact_payload)
    }

    /// soft delete: gone from every default read, back whole with `restoreContact`
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        input: ContactIdInput,
    ) -> async_graphql::Result<ContactPayload> {
        let result = service::delete(ctx.state()?, ctx.viewer(), &input.contact_id).await;
        into_payload(result, contact_payload)
    }

    async fn restore_contact(
        &self,
        ctx: &Context<'_>,
        input: ContactIdInput,
    ) -> async_graphql::Result<ContactPayload> {
        let result = service::restore(ctx.state()?, ctx.viewer(), &input.contact_id).await;
        into_payload(result, contact_payload)
    }
}
