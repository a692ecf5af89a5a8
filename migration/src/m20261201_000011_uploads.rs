//! Uploads: every presigned upload an order's party asked for, so that a URL is used once (the
//! row is spent when its object is attached) and the attached object is a frozen copy under a
//! key nobody can write to. The declared type and size are what the upload must match.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    OrderId,
    Purpose,
    UploaderId,
    /// where the client PUTs
    ObjectKey,
    FileName,
    ContentType,
    ByteSize,
    CreatedAt,
    ExpiresAt,
    /// set once, when the object is attached to the order or a delivery
    AttachedAt,
    /// the frozen copy that was attached
    FinalKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(id(Uploads::Id))
                    .col(ref_id(Uploads::OrderId))
                    .col(status(Uploads::Purpose))
                    .col(ref_id(Uploads::UploaderId))
                    .col(schema::string_len(Uploads::ObjectKey, 512))
                    .col(schema::string_len(Uploads::FileName, 255))
                    .col(schema::string_len(Uploads::ContentType, 255))
                    .col(schema::big_integer(Uploads::ByteSize))
                    .col(ts(Uploads::CreatedAt))
                    .col(ts(Uploads::ExpiresAt))
                    .col(ts_null(Uploads::AttachedAt))
                    .col(schema::string_len_null(Uploads::FinalKey, 512))
                    .check(Expr::col(Uploads::ByteSize).gt(0))
                    .foreign_key(&mut fk(
                        "fk_uploads_order",
                        Uploads::Table,
                        Uploads::OrderId,
                        Alias::new("orders"),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_uploads_uploader",
                        Uploads::Table,
                        Uploads::UploaderId,
                        Alias::new("users"),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "uploads_object_key",
            Uploads::Table,
            vec![Uploads::ObjectKey.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "uploads_final_key",
            Uploads::Table,
            vec![Uploads::FinalKey.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "uploads_order",
            Uploads::Table,
            vec![Uploads::OrderId.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![Uploads::Table.into_iden()]).await
    }
}
