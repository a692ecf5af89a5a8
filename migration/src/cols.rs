//! Column and constraint shapes shared by every table, so that ids, money and timestamps are
//! declared the same way everywhere.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;

/// Primary key: a type-prefixed UUIDv7 string such as `usr_0193…` (36 characters today).
pub fn id<T: IntoIden>(col: T) -> ColumnDef {
    schema::string_len(col, 40).primary_key().to_owned()
}

/// A reference to another table's id.
pub fn ref_id<T: IntoIden>(col: T) -> ColumnDef {
    schema::string_len(col, 40)
}

pub fn ref_id_null<T: IntoIden>(col: T) -> ColumnDef {
    schema::string_len_null(col, 40)
}

/// Money is integer cents (BIGINT); never a float.
pub fn cents<T: IntoIden>(col: T) -> ColumnDef {
    schema::big_integer(col)
}

pub fn cents_null<T: IntoIden>(col: T) -> ColumnDef {
    schema::big_integer_null(col)
}

/// An ISO 4217 code such as `USD`.
pub fn currency<T: IntoIden>(col: T) -> ColumnDef {
    schema::string_len(col, 3)
}

pub fn ts<T: IntoIden>(col: T) -> ColumnDef {
    schema::timestamp_with_time_zone(col)
}

pub fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    schema::timestamp_with_time_zone_null(col)
}

/// An enum stored as its SCREAMING_CASE name.
pub fn status<T: IntoIden>(col: T) -> ColumnDef {
    schema::string_len(col, 32)
}

pub fn status_null<T: IntoIden>(col: T) -> ColumnDef {
    schema::string_len_null(col, 32)
}

/// A named foreign key from `table.col` to `to_table.id`.
pub fn fk(
    name: &str,
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
    to_table: impl IntoIden + 'static,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(to_table, Alias::new("id"))
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

/// Runs raw statements that both backends accept verbatim (partial indexes are not expressible
/// through the schema builder).
pub async fn exec_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    for sql in statements {
        conn.execute_unprepared(sql).await?;
    }
    Ok(())
}

pub async fn drop_tables(manager: &SchemaManager<'_>, tables: Vec<DynIden>) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).if_exists().to_owned())
            .await?;
    }
    Ok(())
}

pub async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden + 'static,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    manager.create_index(stmt.to_owned()).await
}
