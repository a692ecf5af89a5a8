//! The tenant scope of a transaction: on PostgreSQL with row-level security in place (see the
//! `tenant_rls` migration), a transaction that reads or writes a tenant's book for a viewer
//! takes the restricted tenant role and names what that viewer may touch: the tenants they are
//! a member of, every tenant for an admin, and invoices addressed to them as client. A service
//! whose own membership check went wrong then finds no row to read or change instead of another
//! tenant's. `set_config(…, true)` and `SET LOCAL` end with the transaction, so a pooled
//! connection carries nothing to its next user. On SQLite, or without the policies, this is a
//! plain transaction.
use entity::tenant_members;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, Statement, TransactionTrait,
};

use super::Viewer;
use crate::error::ApiResult;
use crate::state::AppState;

/// Begins a transaction on `conn` scoped to what `viewer` may touch.
pub async fn begin(
    state: &AppState,
    viewer: &Viewer,
    conn: &DatabaseConnection,
) -> ApiResult<DatabaseTransaction> {
    let txn = conn.begin().await?;
    if !state.db.tenant_rls() {
        return Ok(txn);
    }
    let user_id = viewer.id().unwrap_or_default().to_owned();
    let tenants: Vec<String> = if user_id.is_empty() {
        Vec::new()
    } else {
        tenant_members::Entity::find()
            .select_only()
            .column(tenant_members::Column::TenantId)
            .filter(tenant_members::Column::UserId.eq(user_id.as_str()))
            .into_tuple()
            .all(&txn)
            .await?
    };
    let all = if viewer.is_admin() { "on" } else { "off" };
    txn.query_one(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.user_id', $1, true), set_config('app.tenant_ids', $2, true), \
         set_config('app.all_tenants', $3, true)",
        [user_id.into(), tenants.join(",").into(), all.into()],
    ))
    .await?;
    txn.execute_unprepared(&format!("SET LOCAL ROLE {}", migration::TENANT_ROLE))
        .await?;
    Ok(txn)
}
