//! The initial schema: merchants and credentials, payments, refunds, settlements, the
//! double-entry ledger, the transactional outbox, idempotency records and the request
//! signatures already used (replay protection).
//!
//! Money columns are `BIGINT` minor units; the currency code sits beside every amount.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Merchants::Table)
                .col(pk(Merchants::Id))
                .col(ColumnDef::new(Merchants::Name).string().not_null().unique_key())
                .col(ColumnDef::new(Merchants::Status).string().not_null())
                .col(ColumnDef::new(Merchants::WebhookUrl).string().null())
                .col(ColumnDef::new(Merchants::IpAllowlist).json_binary().not_null())
                .col(ColumnDef::new(Merchants::RateLimitPerMinute).integer().not_null())
                .col(ColumnDef::new(Merchants::DefaultCurrency).string().not_null())
                .col(ts(Merchants::CreatedAt))
                .col(ts(Merchants::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Credentials::Table)
                .col(pk(Credentials::Id))
                .col(ColumnDef::new(Credentials::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(Credentials::Dialect).string().not_null())
                .col(ColumnDef::new(Credentials::KeyId).string().not_null())
                .col(ColumnDef::new(Credentials::Secret).string().not_null())
                .col(ColumnDef::new(Credentials::Role).string().null())
                .col(ColumnDef::new(Credentials::Label).string().null())
                .col(ColumnDef::new(Credentials::Extra).json_binary().not_null())
                .col(ColumnDef::new(Credentials::RequireSignature).boolean().not_null())
                .col(ColumnDef::new(Credentials::Status).string().not_null())
                .col(ts(Credentials::CreatedAt))
                .col(ts(Credentials::UpdatedAt))
                .foreign_key(&mut fk(Credentials::Table, Credentials::MerchantId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_credentials_dialect_key")
                .table(Credentials::Table)
                .col(Credentials::Dialect)
                .col(Credentials::KeyId)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Payments::Table)
                .col(pk(Payments::Id))
                .col(ColumnDef::new(Payments::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(Payments::Namespace).string().not_null())
                .col(ColumnDef::new(Payments::Reference).string().not_null())
                .col(ColumnDef::new(Payments::Amount).big_integer().not_null())
                .col(ColumnDef::new(Payments::Currency).string().not_null())
                .col(ColumnDef::new(Payments::Status).string().not_null())
                .col(ColumnDef::new(Payments::CaptureMode).string().not_null())
                .col(ColumnDef::new(Payments::Method).string().null())
                .col(ColumnDef::new(Payments::Description).string().null())
                .col(ColumnDef::new(Payments::Customer).json_binary().not_null())
                .col(ColumnDef::new(Payments::Metadata).json_binary().null())
                .col(ColumnDef::new(Payments::Urls).json_binary().not_null())
                .col(ColumnDef::new(Payments::CheckoutToken).string().not_null().unique_key())
                .col(ColumnDef::new(Payments::ProcessorTxnId).string().null())
                .col(ColumnDef::new(Payments::Instrument).json_binary().null())
                .col(ColumnDef::new(Payments::AttemptCode).string().null())
                .col(ColumnDef::new(Payments::AttemptMessage).string().null())
                .col(ts(Payments::CreatedAt))
                .col(ts(Payments::UpdatedAt))
                .col(ts(Payments::ExpiresAt))
                .col(ts_null(Payments::AuthorizedAt))
                .col(ts_null(Payments::CapturedAt))
                .foreign_key(&mut fk(Payments::Table, Payments::MerchantId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_payments_reference")
                .table(Payments::Table)
                .col(Payments::MerchantId)
                .col(Payments::Namespace)
                .col(Payments::Reference)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payments_merchant_created")
                .table(Payments::Table)
                .col(Payments::MerchantId)
                .col(Payments::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payments_status_expiry")
                .table(Payments::Table)
                .col(Payments::Status)
                .col(Payments::ExpiresAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Refunds::Table)
                .col(pk(Refunds::Id))
                .col(ColumnDef::new(Refunds::PaymentId).big_integer().not_null())
                .col(ColumnDef::new(Refunds::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(Refunds::Amount).big_integer().not_null())
                .col(ColumnDef::new(Refunds::Currency).string().not_null())
                .col(ColumnDef::new(Refunds::Status).string().not_null())
                .col(ColumnDef::new(Refunds::Reason).string().null())
                .col(ColumnDef::new(Refunds::RequestKey).string().null())
                .col(ColumnDef::new(Refunds::Note).string().null())
                .col(ts(Refunds::CreatedAt))
                .col(ts(Refunds::UpdatedAt))
                .col(ts_null(Refunds::DecidedAt))
                .foreign_key(&mut fk_to(Refunds::Table, Refunds::PaymentId, Payments::Table, Payments::Id))
                .foreign_key(&mut fk(Refunds::Table, Refunds::MerchantId))
                .to_owned(),
        )
        .await?;
        index(m, "ix_refunds_payment", Refunds::Table, &[Refunds::PaymentId]).await?;
        // A merchant's Idempotency-Key makes a refund request once, even when the
        // stored response was lost (NULLs do not collide).
        m.create_index(
            Index::create()
                .name("ux_refunds_request_key")
                .table(Refunds::Table)
                .col(Refunds::MerchantId)
                .col(Refunds::RequestKey)
                .unique()
                .to_owned(),
        )
        .await?;
        index(m, "ix_refunds_status", Refunds::Table, &[Refunds::Status]).await?;

        m.create_table(
            Table::create()
                .table(Settlements::Table)
                .col(pk(Settlements::Id))
                .col(ColumnDef::new(Settlements::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(Settlements::Amount).big_integer().not_null())
                .col(ColumnDef::new(Settlements::Currency).string().not_null())
                .col(ColumnDef::new(Settlements::Status).string().not_null())
                .col(ts(Settlements::CreatedAt))
                .col(ts_null(Settlements::PaidAt))
                .foreign_key(&mut fk(Settlements::Table, Settlements::MerchantId))
                .to_owned(),
        )
        .await?;
        index(m, "ix_settlements_merchant", Settlements::Table, &[Settlements::MerchantId, Settlements::Id]).await?;

        m.create_table(
            Table::create()
                .table(LedgerTransactions::Table)
                .col(pk(LedgerTransactions::Id))
                .col(ColumnDef::new(LedgerTransactions::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(LedgerTransactions::Kind).string().not_null())
                .col(ColumnDef::new(LedgerTransactions::PaymentId).big_integer().null())
                .col(ColumnDef::new(LedgerTransactions::RefundId).big_integer().null())
                .col(ColumnDef::new(LedgerTransactions::SettlementId).big_integer().null())
                .col(ts(LedgerTransactions::CreatedAt))
                .foreign_key(&mut fk(LedgerTransactions::Table, LedgerTransactions::MerchantId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LedgerPostings::Table)
                .col(pk(LedgerPostings::Id))
                .col(ColumnDef::new(LedgerPostings::TransactionId).big_integer().not_null())
                .col(ColumnDef::new(LedgerPostings::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(LedgerPostings::Account).string().not_null())
                .col(ColumnDef::new(LedgerPostings::Currency).string().not_null())
                .col(ColumnDef::new(LedgerPostings::Amount).big_integer().not_null())
                .foreign_key(&mut fk_to(
                    LedgerPostings::Table,
                    LedgerPostings::TransactionId,
                    LedgerTransactions::Table,
                    LedgerTransactions::Id,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_postings_balance",
            LedgerPostings::Table,
            &[LedgerPostings::MerchantId, LedgerPostings::Account, LedgerPostings::Currency],
        )
        .await?;
        index(m, "ix_postings_txn", LedgerPostings::Table, &[LedgerPostings::TransactionId]).await?;

        m.create_table(
            Table::create()
                .table(OutboxEvents::Table)
                .col(pk(OutboxEvents::Id))
                .col(ColumnDef::new(OutboxEvents::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(OutboxEvents::EventType).string().not_null())
                .col(ColumnDef::new(OutboxEvents::SubjectId).big_integer().null())
                .col(ColumnDef::new(OutboxEvents::Payload).json_binary().not_null())
                .col(ts(OutboxEvents::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(m, "ix_outbox_merchant", OutboxEvents::Table, &[OutboxEvents::MerchantId, OutboxEvents::Id]).await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(pk(IdempotencyKeys::Id))
                .col(ColumnDef::new(IdempotencyKeys::MerchantId).big_integer().not_null())
                .col(ColumnDef::new(IdempotencyKeys::Scope).string().not_null())
                .col(ColumnDef::new(IdempotencyKeys::Key).string().not_null())
                .col(ColumnDef::new(IdempotencyKeys::RequestHash).string().not_null())
                .col(ColumnDef::new(IdempotencyKeys::Status).string().not_null())
                .col(ColumnDef::new(IdempotencyKeys::Claim).string().not_null())
                .col(ColumnDef::new(IdempotencyKeys::ResponseStatus).integer().null())
                .col(ColumnDef::new(IdempotencyKeys::ResponseContentType).string().null())
                .col(ColumnDef::new(IdempotencyKeys::ResponseBody).binary().null())
                .col(ts(IdempotencyKeys::CreatedAt))
                .col(ts(IdempotencyKeys::LockedUntil))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_idempotency_key")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::MerchantId)
                .col(IdempotencyKeys::Scope)
                .col(IdempotencyKeys::Key)
                .unique()
                .to_owned(),
        )
        .await?;
        index(m, "ix_idempotency_created", IdempotencyKeys::Table, &[IdempotencyKeys::CreatedAt]).await?;

        m.create_table(
            Table::create()
                .table(UsedSignatures::Table)
                .col(pk(UsedSignatures::Id))
                .col(ColumnDef::new(UsedSignatures::CredentialId).big_integer().not_null())
                .col(ColumnDef::new(UsedSignatures::Signature).string().not_null())
                .col(ts(UsedSignatures::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_used_signatures")
                .table(UsedSignatures::Table)
                .col(UsedSignatures::CredentialId)
                .col(UsedSignatures::Signature)
                .unique()
                .to_owned(),
        )
        .await?;
        index(m, "ix_used_signatures_expiry", UsedSignatures::Table, &[UsedSignatures::ExpiresAt]).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UsedSignatures::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            OutboxEvents::Table.into_iden(),
            LedgerPostings::Table.into_iden(),
            LedgerTransactions::Table.into_iden(),
            Settlements::Table.into_iden(),
            Refunds::Table.into_iden(),
            Payments::Table.into_iden(),
            Credentials::Table.into_iden(),
            Merchants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

fn pk<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().to_owned()
}

fn ts<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().to_owned()
}

fn fk<T: IntoIden + 'static, C: IntoIden + 'static>(table: T, col: C) -> ForeignKeyCreateStatement {
    fk_to(table, col, Merchants::Table, Merchants::Id)
}

fn fk_to<T, C, RT, RC>(table: T, col: C, ref_table: RT, ref_col: RC) -> ForeignKeyCreateStatement
where
    T: IntoIden + 'static,
    C: IntoIden + 'static,
    RT: IntoIden + 'static,
    RC: IntoIden + 'static,
{
    ForeignKey::create().from(table, col).to(ref_table, ref_col).to_owned()
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    m: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    m.create_index(stmt.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Merchants {
    Table,
    Id,
    Name,
    Status,
    WebhookUrl,
    IpAllowlist,
    RateLimitPerMinute,
    DefaultCurrency,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Credentials {
    Table,
    Id,
    MerchantId,
    Dialect,
    KeyId,
    Secret,
    Role,
    Label,
    Extra,
    RequireSignature,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payments {
    Table,
    Id,
    MerchantId,
    Namespace,
    Reference,
    Amount,
    Currency,
    Status,
    CaptureMode,
    Method,
    Description,
    Customer,
    Metadata,
    Urls,
    CheckoutToken,
    ProcessorTxnId,
    Instrument,
    AttemptCode,
    AttemptMessage,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
    AuthorizedAt,
    CapturedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Refunds {
    Table,
    Id,
    PaymentId,
    MerchantId,
    Amount,
    Currency,
    Status,
    Reason,
    RequestKey,
    Note,
    CreatedAt,
    UpdatedAt,
    DecidedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Settlements {
    Table,
    Id,
    MerchantId,
    Amount,
    Currency,
    Status,
    CreatedAt,
    PaidAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LedgerTransactions {
    Table,
    Id,
    MerchantId,
    Kind,
    PaymentId,
    RefundId,
    SettlementId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LedgerPostings {
    Table,
    Id,
    TransactionId,
    MerchantId,
    Account,
    Currency,
    Amount,
}

#[derive(DeriveIden, Clone, Copy)]
enum OutboxEvents {
    Table,
    Id,
    MerchantId,
    EventType,
    SubjectId,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyKeys {
    Table,
    Id,
    MerchantId,
    Scope,
    Key,
    RequestHash,
    Status,
    Claim,
    ResponseStatus,
    ResponseContentType,
    ResponseBody,
    CreatedAt,
    LockedUntil,
}

#[derive(DeriveIden, Clone, Copy)]
enum UsedSignatures {
    Table,
    Id,
    CredentialId,
    Signature,
    ExpiresAt,
}
