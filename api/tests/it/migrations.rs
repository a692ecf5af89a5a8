//! Migrations run up, down and up again on the backend under test, and the constraints they
//! create behave the same on SQLite and PostgreSQL.
use api::db::{is_unique_violation, Db};
use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, Set, Statement};
use sea_orm_migration::SchemaManager;

use crate::helpers::fresh_database_url;

const TABLES: [&str; 26] = [
    "users",
    "refresh_tokens",
    "tenants",
    "tenant_members",
    "providers",
    "listings",
    "counters",
    "orders",
    "order_events",
    "deliveries",
    "reviews",
    "disputes",
    "ledger_entries",
    "contacts",
    "invoice_counters",
    "invoices",
    "invoice_line_items",
    "payments",
    "message_threads",
    "messages",
    "stripe_events",
    "idempotency_keys",
    "provider_status_changes",
    "chargebacks",
    "invoice_events",
    "uploads",
];

async fn tables_present(db: &Db) -> Vec<&'static str> {
    let manager = SchemaManager::new(&db.writer);
    let mut present = Vec::new();
    for table in TABLES {
        if manager.has_table(table).await.expect("has_table") {
            present.push(table);
        }
    }
    present
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::connect(&fresh_database_url(dir.path()).await)
        .await
        .expect("connect");

    Migrator::up(&db.writer, None).await.expect("up");
    assert_eq!(tables_present(&db).await, TABLES.to_vec());
    assert!(Migrator::get_pending_migrations(&db.writer)
        .await
        .expect("pending")
        .is_empty());

    Migrator::down(&db.writer, None).await.expect("down");
    assert!(
        tables_present(&db).await.is_empty(),
        "tables left after down"
    );

    Migrator::up(&db.writer, None).await.expect("up again");
    assert_eq!(tables_present(&db).await, TABLES.to_vec());

    // One step down undoes only the newest migration: the listings' visibility flag goes
    // (with its triggers), then the disputes' change positions; every table stays.
    let has = |table: &'static str, column: &'static str| {
        let manager = SchemaManager::new(&db.writer);
        async move { manager.has_column(table, column).await.expect("has_column") }
    };
    assert!(has("listings", "visible").await);
    Migrator::down(&db.writer, Some(1))
        .await
        .expect("visibility down");
    assert!(!has("listings", "visible").await);
    assert!(has("disputes", "change_seq").await);
    Migrator::down(&db.writer, Some(1))
        .await
        .expect("dispute changes down");
    assert!(!has("disputes", "change_seq").await);
    assert_eq!(tables_present(&db).await, TABLES.to_vec());

    // Then: the pending-event sequence goes
    // (PostgreSQL; SQLite never had one); the next takes the commit-order columns and every
    // table stays; the next removes the uploads table alone; the next row security
    // (PostgreSQL), every table left stays; the one after removes the invoice event log alone.
    assert_eq!(row_secured(&db).await, db.backend == DbBackend::Postgres);
    assert_eq!(
        has_pending_sequence(&db).await,
        db.backend == DbBackend::Postgres
    );
    Migrator::down(&db.writer, Some(1))
        .await
        .expect("sequencer down");
    assert!(!has_pending_sequence(&db).await);
    assert!(has_seq(&db).await);
    Migrator::down(&db.writer, Some(1))
        .await
        .expect("sequences down");
    assert!(!has_seq(&db).await);
    assert_eq!(tables_present(&db).await, TABLES.to_vec());
    Migrator::down(&db.writer, Some(1)).await.expect("one down");
    let all_but_uploads: Vec<&str> = TABLES.iter().copied().filter(|t| *t != "uploads").collect();
    assert_eq!(tables_present(&db).await, all_but_uploads);
    assert_eq!(row_secured(&db).await, db.backend == DbBackend::Postgres);
    Migrator::down(&db.writer, Some(1)).await.expect("two down");
    assert_eq!(tables_present(&db).await, all_but_uploads);
    assert!(!row_secured(&db).await);
    Migrator::down(&db.writer, Some(1))
        .await
        .expect("three down");
    let present = tables_present(&db).await;
    assert!(!present.contains(&"invoice_events"));
    assert!(present.contains(&"chargebacks"));
    Migrator::up(&db.writer, None).await.expect("up");
    assert_eq!(row_secured(&db).await, db.backend == DbBackend::Postgres);
}

/// PostgreSQL: whether the sequence that marks pending order events exists.
async fn has_pending_sequence(db: &Db) -> bool {
    pg_flag(
        db,
        "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relkind = 'S' \
           AND relname = 'order_event_pending') AS flag",
    )
    .await
}

/// Whether `order_events` and `messages` carry their commit-order column.
async fn has_seq(db: &Db) -> bool {
    let manager = SchemaManager::new(&db.writer);
    let events = manager
        .has_column("order_events", "seq")
        .await
        .expect("has_column");
    let messages = manager
        .has_column("messages", "seq")
        .await
        .expect("has_column");
    assert_eq!(events, messages, "both or neither");
    events
}

/// PostgreSQL: `invoices` has row security on and its tenant policy.
async fn row_secured(db: &Db) -> bool {
    pg_flag(
        db,
        "SELECT c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_policies p \
           WHERE p.tablename = 'invoices' AND p.policyname = 'tenant_scope') AS flag \
         FROM pg_class c WHERE c.relname = 'invoices'",
    )
    .await
}

/// The boolean `flag` a catalog query answers on PostgreSQL; false on SQLite.
async fn pg_flag(db: &Db, sql: &str) -> bool {
    if db.backend != DbBackend::Postgres {
        return false;
    }
    let row = db
        .writer
        .query_one(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("query")
        .expect("row");
    row.try_get::<bool>("", "flag").expect("flag")
}

#[tokio::test]
async fn live_contacts_are_unique_per_tenant_and_user_but_deleted_ones_are_not() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::connect(&fresh_database_url(dir.path()).await)
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    let now = Utc::now();
    let user = entity::users::ActiveModel {
        id: Set(api::ids::new_id(api::ids::Kind::User)),
        email: Set("c@example.com".into()),
        password_hash: Set("x".into()),
        display_name: Set("C".into()),
        roles: Set("BUYER".into()),
        status: Set(entity::users::UserStatus::Active),
        status_reason: Set(None),
        status_changed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db.writer)
    .await
    .expect("user");
    let tenant = entity::tenants::ActiveModel {
        id: Set(api::ids::new_id(api::ids::Kind::Tenant)),
        name: Set("T".into()),
        slug: Set("t".into()),
        payment_mode: Set(entity::tenants::TenantPaymentMode::Manual),
        payment_instructions: Set(None),
        stripe_account_id: Set(None),
        stripe_onboarding_complete: Set(false),
        charges_enabled: Set(false),
        payouts_enabled: Set(false),
        requirements_past_due: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db.writer)
    .await
    .expect("tenant");
    let contact = |deleted: bool| entity::contacts::ActiveModel {
        id: Set(api::ids::new_id(api::ids::Kind::Contact)),
        tenant_id: Set(tenant.id.clone()),
        user_id: Set(Some(user.id.clone())),
        name: Set("C".into()),
        email: Set(None),
        phone: Set(None),
        first_contacted_at: Set(None),
        total_transactions: Set(0),
        total_spent_cents: Set(0),
        currency: Set("USD".into()),
        deleted_at: Set(deleted.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    contact(true)
        .insert(&db.writer)
        .await
        .expect("deleted contact");
    contact(false)
        .insert(&db.writer)
        .await
        .expect("live contact");
    let err = contact(false)
        .insert(&db.writer)
        .await
        .expect_err("a second live contact");
    assert!(
        is_unique_violation(&err, "contacts_tenant_user_live_key"),
        "{err:?}"
    );
    assert!(!is_unique_violation(&err, "users_email_key"));

    // Money columns hold the full 64-bit range.
    db.writer
        .execute_unprepared(&format!(
            "UPDATE contacts SET total_spent_cents = {} WHERE deleted_at IS NULL",
            i64::MAX
        ))
        .await
        .expect("bigint");
}
