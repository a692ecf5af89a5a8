//! Users and their rotating refresh tokens.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    DisplayName,
    Roles,
    Status,
    StatusReason,
    StatusChangedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    RevokedAt,
    ReplacedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    // Stored trimmed and lower-cased, so uniqueness is case-insensitive.
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(string_len(Users::DisplayName, 100))
                    // Comma-separated Role names, e.g. "BUYER,ADMIN".
                    .col(string_len(Users::Roles, 64))
                    .col(status(Users::Status).default("ACTIVE"))
                    .col(string_len_null(Users::StatusReason, 500))
                    .col(ts_null(Users::StatusChangedAt))
                    .col(ts(Users::CreatedAt))
                    .col(ts(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "users_email_key",
            Users::Table,
            vec![Users::Email.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(id(RefreshTokens::Id))
                    .col(ref_id(RefreshTokens::UserId))
                    // Every token rotated from one login shares a family; reuse of a rotated
                    // token revokes the whole family.
                    .col(string_len(RefreshTokens::FamilyId, 40))
                    // SHA-256 of the token, hex; the token itself is never stored.
                    .col(string_len(RefreshTokens::TokenHash, 64))
                    .col(ts(RefreshTokens::ExpiresAt))
                    .col(ts_null(RefreshTokens::RevokedAt))
                    .col(string_len_null(RefreshTokens::ReplacedBy, 40))
                    .col(ts(RefreshTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_refresh_tokens_user",
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "refresh_tokens_hash_key",
            RefreshTokens::Table,
            vec![RefreshTokens::TokenHash.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "refresh_tokens_family_idx",
            RefreshTokens::Table,
            vec![RefreshTokens::FamilyId.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "refresh_tokens_user_idx",
            RefreshTokens::Table,
            vec![RefreshTokens::UserId.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![RefreshTokens::Table.into_iden(), Users::Table.into_iden()],
        )
        .await
    }
}
