//! Row-level security on the tenant-scoped tables (PostgreSQL only): a second line of defence
//! behind the membership checks of the services.
//!
//! Superusers and table owners bypass row security, and the server usually connects as one of
//! them, so the policies bind a role of their own: `marketplace_tenant` (NOLOGIN). A transaction
//! that acts for a tenant's member runs `SET LOCAL ROLE marketplace_tenant` and sets
//! `app.tenant_ids` (the viewer's tenants, comma-separated) and `app.all_tenants` (`on` for an
//! admin) with `set_config(…, true)`: both end with the transaction, so nothing leaks to the next
//! user of a pooled connection. Under that role a row of another tenant is invisible, and a write
//! of one fails the policy's check; without the settings nothing is visible at all. Every other
//! role keeps seeing every row (the `system_all` policy), so timers, webhooks and order flows are
//! unchanged.
//!
//! Creating a role needs CREATEROLE: where the migrating user lacks it, the policies are not made
//! and the server runs with its service-layer checks only (it logs that at start).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

use crate::cols::exec_all;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The role whose rows the policies restrict.
pub const TENANT_ROLE: &str = "marketplace_tenant";

/// Tables keyed by `tenant_id` directly.
const TENANT_TABLES: [&str; 3] = ["contacts", "invoices", "invoice_counters"];
/// An invoice is also its client's (the marketplace user it is addressed to).
const CLIENT: &str = "client_id = current_setting('app.user_id', true)";
/// Tables reached through their invoice, itself filtered by its policy.
const INVOICE_TABLES: [&str; 3] = ["invoice_line_items", "payments", "invoice_events"];

const SCOPE: &str = "(current_setting('app.all_tenants', true) = 'on' \
     OR tenant_id = ANY (string_to_array(current_setting('app.tenant_ids', true), ',')))";

fn up_statements() -> Vec<String> {
    let mut sql = vec![
        // Concurrent migrations of several databases in one cluster race on the global role.
        format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
                 CREATE ROLE {TENANT_ROLE} NOLOGIN;
               END IF;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$"
        ),
        // The connecting user must be able to SET ROLE to it (a superuser always can).
        format!(
            "DO $$ BEGIN
               IF NOT pg_has_role(current_user, '{TENANT_ROLE}', 'MEMBER') THEN
                 EXECUTE format('GRANT {TENANT_ROLE} TO %I', current_user);
               END IF;
             END $$"
        ),
        format!("GRANT USAGE ON SCHEMA public TO {TENANT_ROLE}"),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {TENANT_ROLE}"
        ),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {TENANT_ROLE}"),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public \
             GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {TENANT_ROLE}"
        ),
    ];
    for table in TENANT_TABLES {
        let scope = match table {
            "invoices" => format!("({SCOPE} OR {CLIENT})"),
            _ => SCOPE.to_owned(),
        };
        sql.push(format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"));
        sql.push(system_policy(table));
        sql.push(format!(
            "CREATE POLICY tenant_scope ON {table} TO {TENANT_ROLE} \
             USING {scope} WITH CHECK {scope}"
        ));
    }
    for table in INVOICE_TABLES {
        let through = "(invoice_id IN (SELECT id FROM invoices))";
        sql.push(format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"));
        sql.push(system_policy(table));
        sql.push(format!(
            "CREATE POLICY tenant_scope ON {table} TO {TENANT_ROLE} \
             USING {through} WITH CHECK {through}"
        ));
    }
    sql
}

/// Every role but the tenant role sees every row, as before.
fn system_policy(table: &str) -> String {
    format!(
        "CREATE POLICY system_all ON {table} \
         USING (current_user <> '{TENANT_ROLE}') WITH CHECK (current_user <> '{TENANT_ROLE}')"
    )
}

fn down_statements() -> Vec<String> {
    let mut sql = Vec::new();
    for table in TENANT_TABLES.iter().chain(INVOICE_TABLES.iter()) {
        sql.push(format!("DROP POLICY IF EXISTS tenant_scope ON {table}"));
        sql.push(format!("DROP POLICY IF EXISTS system_all ON {table}"));
        sql.push(format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"));
    }
    sql.push(format!(
        "DO $$ BEGIN
           IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
             ALTER DEFAULT PRIVILEGES IN SCHEMA public
               REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {TENANT_ROLE};
             REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {TENANT_ROLE};
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {TENANT_ROLE};
             REVOKE USAGE ON SCHEMA public FROM {TENANT_ROLE};
           END IF;
         END $$"
    ));
    sql
}

/// True when the migrating user may create the role (or it exists and the user may use it).
async fn may_manage_role(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let row = manager
        .get_connection()
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) \
                 OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TENANT_ROLE}') \
                     AND pg_has_role(current_user, (SELECT oid FROM pg_roles WHERE rolname = '{TENANT_ROLE}'), 'MEMBER')) \
                 AS ok"
            ),
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<bool>>("", "ok")?.unwrap_or(false),
        None => false,
    })
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres
            || !may_manage_role(manager).await?
        {
            return Ok(());
        }
        let statements = up_statements();
        exec_all(
            manager,
            &statements.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let statements = down_statements();
        exec_all(
            manager,
            &statements.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await
    }
}
