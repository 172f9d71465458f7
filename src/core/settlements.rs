//! Settlements: an admin moves a merchant's settle-able (available) balance out to the
//! merchant. A settlement is created `processing` (available → pending_settlement) and
//! becomes `paid` (pending_settlement → out), at once or by a later call.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::ledger::{self, Account, Subject};
use super::outbox::{self, NewEvent};
use super::store::{self, entities::merchant, entities::settlement};
use super::{CoreError, Currency, Entity, EventType, Money, Settlement, SettlementStatus};

impl super::AdminGateway {
    /// Creates a settlement of `amount` (default: the whole available balance) in
    /// `currency` for a merchant, and pays it at once when `pay_now`. Fails with
    /// [`CoreError::InsufficientBalance`] when the available balance does not cover it.
    pub async fn create_settlement(
        &self,
        merchant_id: i64,
        currency: Currency,
        amount: Option<Money>,
        pay_now: bool,
    ) -> Result<Settlement, CoreError> {
        let txn = self.begin_write().await?;
        // Serializes balance checks of one merchant on Postgres.
        self.for_update(merchant::Entity::find_by_id(merchant_id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound(Entity::Merchant))?;
        let available = ledger::balances(&txn, merchant_id)
            .await?
            .into_iter()
            .find(|b| b.currency == currency)
            .map_or(0, |b| b.available);
        let amount = match amount {
            Some(amount) if amount.currency() != currency => {
                return Err(CoreError::invalid("amount", "currency differs from the settlement's"));
            }
            Some(amount) => amount,
            None => Money::from_minor(available, currency).map_err(|_| CoreError::InsufficientBalance)?,
        };
        if amount.minor() > available {
            return Err(CoreError::InsufficientBalance);
        }
        let now = self.now();
        let row = settlement::ActiveModel {
            merchant_id: Set(merchant_id),
            amount: Set(amount.minor()),
            currency: Set(currency.code().to_owned()),
            status: Set(SettlementStatus::Processing.as_str().to_owned()),
            created_at: Set(now),
            paid_at: Set(None),
            ..Default::default()
        };
        let row = settlement::Entity::insert(row).exec_with_returning(&txn).await?;
        let created = store::settlement(row)?;
        let subject = Subject { settlement_id: Some(created.id), ..Default::default() };
        ledger::post(
            &txn,
            vec![ledger::Entry::transfer(
                merchant_id,
                "settlement_create",
                subject,
                amount,
                Account::Available,
                Account::PendingSettlement,
            )],
            now,
        )
        .await?;
        outbox::emit_one(&txn, NewEvent::settlement(EventType::SettlementCreated, &created), now).await?;
        let settlement = if pay_now { pay(&txn, created, now).await? } else { created };
        txn.commit().await?;
        self.notify_events();
        Ok(settlement)
    }

    /// Marks a processing settlement paid.
    pub async fn pay_settlement(&self, id: i64) -> Result<Settlement, CoreError> {
        let txn = self.begin_write().await?;
        let row = self
            .for_update(settlement::Entity::find_by_id(id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound(Entity::Settlement))?;
        let current = store::settlement(row)?;
        if current.status != SettlementStatus::Processing {
            return Err(CoreError::AlreadyDecided(Entity::Settlement));
        }
        let paid = pay(&txn, current, self.now()).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(paid)
    }
}

impl super::Core {
    /// A merchant's settlements, newest first.
    pub(super) async fn settlements(&self, merchant_id: i64, limit: u64) -> Result<Vec<Settlement>, CoreError> {
        let rows = settlement::Entity::find()
            .filter(settlement::Column::MerchantId.eq(merchant_id))
            .order_by_desc(settlement::Column::Id)
            .limit(limit)
            .all(&self.store().reader)
            .await?;
        rows.into_iter().map(store::settlement).collect()
    }
}

async fn pay<C: ConnectionTrait>(
    conn: &C,
    current: Settlement,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Settlement, CoreError> {
    let change = settlement::ActiveModel {
        status: Set(SettlementStatus::Paid.as_str().to_owned()),
        paid_at: Set(Some(now)),
        ..Default::default()
    };
    let updated = settlement::Entity::update_many()
        .set(change)
        .filter(settlement::Column::Id.eq(current.id))
        .filter(settlement::Column::Status.eq(SettlementStatus::Processing.as_str()))
        .exec(conn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(CoreError::AlreadyDecided(Entity::Settlement));
    }
    let subject = Subject { settlement_id: Some(current.id), ..Default::default() };
    ledger::post(
        conn,
        vec![ledger::Entry::transfer(
            current.merchant_id,
            "settlement_paid",
            subject,
            current.amount,
            Account::PendingSettlement,
            Account::SettlementsPaid,
        )],
        now,
    )
    .await?;
    let paid = Settlement { status: SettlementStatus::Paid, paid_at: Some(now), ..current };
    outbox::emit_one(conn, NewEvent::settlement(EventType::SettlementPaid, &paid), now).await?;
    Ok(paid)
}
