//! Payouts: a merchant asks for money from its available balance to be paid to a bank
//! account. The request reserves the amount at once (refused when the available
//! balance cannot cover it) and waits in the admin queue as `pending`; an admin marks
//! it `processed` (the money leaves) or `rejected` (the reservation returns).
//!
//! As with refunds, the merchant row is locked (Postgres) or the single writer
//! serializes (SQLite) while the balance is checked and the reservation written, so
//! concurrent payouts never overdraw. A request carrying a key (the merchant's
//! Idempotency-Key) is made once.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::ledger::{self, Account, Subject};
use super::outbox::{self, NewEvent};
use super::store::{self, entities::merchant, entities::payout};
use super::{CoreError, Entity, EventType, NewPayout, Payout, PayoutFilter, PayoutStatus, Principal, json_has_nul};

impl super::Gateway {
    /// Requests a payout for the principal's merchant; its amount is reserved from the
    /// available balance now.
    pub async fn request_payout(
        &self,
        principal: &Principal,
        cmd: NewPayout,
        request_key: Option<&str>,
    ) -> Result<Payout, CoreError> {
        if json_has_nul(&cmd.destination) || cmd.reference.as_deref().is_some_and(|r| r.contains('\0')) {
            return Err(CoreError::invalid("body", "must not contain NUL characters"));
        }
        let merchant_id = principal.merchant_id();
        let txn = self.begin_write().await?;
        self.for_update(merchant::Entity::find_by_id(merchant_id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound(Entity::Merchant))?;
        if let Some(key) = request_key {
            let earlier = payout::Entity::find()
                .filter(payout::Column::MerchantId.eq(merchant_id))
                .filter(payout::Column::RequestKey.eq(key))
                .one(&txn)
                .await?;
            if let Some(earlier) = earlier {
                // The same request again, by the same user, is the same payout; anything
                // else reusing the key is refused rather than answered with another payout.
                let same = earlier.created_by == Some(principal.credential().id)
                    && earlier.amount == cmd.amount.minor()
                    && earlier.currency == cmd.amount.currency().code()
                    && earlier.destination == cmd.destination
                    && earlier.reference == cmd.reference;
                if !same {
                    return Err(CoreError::IdempotencyKeyReused);
                }
                return store::payout(earlier);
            }
        }
        let currency = cmd.amount.currency();
        let available = ledger::balances(&txn, merchant_id)
            .await?
            .into_iter()
            .find(|b| b.currency == currency)
            .map_or(0, |b| b.available);
        if cmd.amount.minor() > available {
            return Err(CoreError::InsufficientBalance);
        }
        let now = self.now();
        let row = payout::ActiveModel {
            merchant_id: Set(merchant_id),
            created_by: Set(Some(principal.credential().id)),
            namespace: Set(principal.dialect().as_str().to_owned()),
            amount: Set(cmd.amount.minor()),
            currency: Set(currency.code().to_owned()),
            status: Set(PayoutStatus::Pending.as_str().to_owned()),
            destination: Set(cmd.destination),
            reference: Set(cmd.reference),
            note: Set(None),
            request_key: Set(request_key.map(str::to_owned)),
            created_at: Set(now),
            updated_at: Set(now),
            decided_at: Set(None),
            ..Default::default()
        };
        let created = store::payout(payout::Entity::insert(row).exec_with_returning(&txn).await?)?;
        let subject = Subject { payout_id: Some(created.id), ..Default::default() };
        ledger::post(
            &txn,
            vec![ledger::Entry::transfer(
                merchant_id,
                "payout_reserve",
                subject,
                created.amount,
                Account::Available,
                Account::Reserved,
            )],
            now,
        )
        .await?;
        outbox::emit_one(&txn, NewEvent::payout(EventType::PayoutRequested, &created), now).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(created)
    }

    /// The principal's merchant's payout `id`.
    pub async fn payout(&self, principal: &Principal, id: i64) -> Result<Payout, CoreError> {
        let row = payout::Entity::find_by_id(id)
            .filter(payout::Column::MerchantId.eq(principal.merchant_id()))
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payout))?;
        store::payout(row)
    }
}

impl super::Core {
    /// Payouts of `merchant_id` (every merchant's when `None`) that `filter` selects,
    /// newest first, and how many it selects in all.
    pub(super) async fn payouts(
        &self,
        merchant_id: Option<i64>,
        filter: &PayoutFilter,
    ) -> Result<(Vec<Payout>, u64), CoreError> {
        let mut query = payout::Entity::find();
        if let Some(merchant_id) = merchant_id {
            query = query.filter(payout::Column::MerchantId.eq(merchant_id));
        }
        if !filter.statuses.is_empty() {
            query = query.filter(payout::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
        }
        if let Some(credential) = filter.created_by {
            query = query.filter(payout::Column::CreatedBy.eq(credential));
        }
        let db = &self.store().reader;
        let total = query.clone().count(db).await?;
        if filter.offset >= total {
            return Ok((Vec::new(), total));
        }
        let rows = query
            .order_by_desc(payout::Column::Id)
            .limit(super::sql_count(filter.limit))
            .offset(super::sql_count(filter.offset))
            .all(db)
            .await?;
        Ok((rows.into_iter().map(store::payout).collect::<Result<_, _>>()?, total))
    }
}

impl super::AdminGateway {
    /// Marks a pending payout paid: the reserved money leaves.
    pub async fn approve_payout(&self, id: i64, note: Option<String>) -> Result<Payout, CoreError> {
        self.decide_payout(id, PayoutStatus::Processed, note).await
    }

    /// Rejects a pending payout: the reservation returns to the available balance.
    pub async fn reject_payout(&self, id: i64, note: Option<String>) -> Result<Payout, CoreError> {
        self.decide_payout(id, PayoutStatus::Rejected, note).await
    }
}

impl super::Core {
    async fn decide_payout(&self, id: i64, decision: PayoutStatus, note: Option<String>) -> Result<Payout, CoreError> {
        if note.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(CoreError::invalid("note", "must not contain NUL characters"));
        }
        let txn = self.begin_write().await?;
        let now = self.now();
        let change = payout::ActiveModel {
            status: Set(decision.as_str().to_owned()),
            note: Set(note),
            decided_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        };
        let updated = payout::Entity::update_many()
            .set(change)
            .filter(payout::Column::Id.eq(id))
            .filter(payout::Column::Status.eq(PayoutStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
        let row = payout::Entity::find_by_id(id).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Payout))?;
        if updated.rows_affected != 1 {
            return Err(CoreError::AlreadyDecided(Entity::Payout));
        }
        let decided = store::payout(row)?;
        let subject = Subject { payout_id: Some(id), ..Default::default() };
        let (kind, to, event) = match decision {
            PayoutStatus::Processed => ("payout_paid", Account::PayoutsPaid, EventType::PayoutProcessed),
            _ => ("payout_release", Account::Available, EventType::PayoutRejected),
        };
        ledger::post(
            &txn,
            vec![ledger::Entry::transfer(decided.merchant_id, kind, subject, decided.amount, Account::Reserved, to)],
            now,
        )
        .await?;
        outbox::emit_one(&txn, NewEvent::payout(event, &decided), now).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(decided)
    }
}
