//! "Awaiting the processor" gets a status of its own: a payment the processor has not
//! decided yet was `processing` with no `authorized_at`; it becomes
//! `awaiting_processor`, and `processing` is left to what the processor approved and
//! the merchant has not confirmed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    Status,
    AuthorizedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let update = Query::update()
            .table(Payments::Table)
            .value(Payments::Status, "awaiting_processor")
            .and_where(Expr::col(Payments::Status).eq("processing"))
            .and_where(Expr::col(Payments::AuthorizedAt).is_null())
            .to_owned();
        m.exec_stmt(update).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let update = Query::update()
            .table(Payments::Table)
            .value(Payments::Status, "processing")
            .and_where(Expr::col(Payments::Status).eq("awaiting_processor"))
            .to_owned();
        m.exec_stmt(update).await
    }
}
