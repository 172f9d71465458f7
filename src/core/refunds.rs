//! Refunds: requested by the merchant into an admin queue (`pending`), then approved
//! (`succeeded`, money leaves) or rejected (the reservation returns).
//!
//! A request reserves its amount from the available balance at once; it is refused
//! when the available balance cannot fund it (the merchant's money was settled out),
//! and the sum of a payment's pending and succeeded refunds never exceeds what was
//! captured. The merchant row and then the payment row are locked (Postgres; the same
//! order as settlements) or the single writer serializes (SQLite) while this is checked
//! and the refund written. A request carrying a key (the merchant's Idempotency-Key) is
//! made once: the same key again returns the same refund.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::ledger::{self, Account, Subject};
use super::outbox::{self, NewEvent};
use super::payments::reference_condition;
use super::store::{self, entities::merchant, entities::payment, entities::refund};
use super::{CoreError, Entity, EventType, Money, PaymentStatus, Principal, Refund, RefundStatus};

/// How much of a payment to refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundAmount {
    /// Everything still refundable.
    Rest,
    /// An amount in major units of the payment's currency (2500.50).
    Major(Decimal),
    /// An amount in minor units of the payment's currency (250050).
    Minor(i64),
}

impl super::Gateway {
    /// Requests a refund of the principal's payment `reference`. It waits in the admin
    /// queue as `pending`; its amount is reserved from the available balance now.
    pub async fn request_refund(
        &self,
        principal: &Principal,
        reference: &str,
        amount: RefundAmount,
        reason: Option<String>,
        request_key: Option<&str>,
    ) -> Result<Refund, CoreError> {
        if reference.contains('\0') {
            return Err(CoreError::NotFound(Entity::Payment));
        }
        if reason.as_deref().is_some_and(|r| r.contains('\0')) {
            return Err(CoreError::invalid("reason", "must not contain NUL characters"));
        }
        let txn = self.begin_write().await?;
        self.for_update(merchant::Entity::find_by_id(principal.merchant_id()))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound(Entity::Merchant))?;
        let query = payment::Entity::find().filter(reference_condition(principal, reference));
        let row = self.for_update(query).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        let payment = store::payment(row)?;
        if let Some(key) = request_key {
            let earlier = refund::Entity::find()
                .filter(refund::Column::MerchantId.eq(payment.merchant_id))
                .filter(refund::Column::RequestKey.eq(key))
                .one(&txn)
                .await?;
            if let Some(earlier) = earlier {
                if earlier.payment_id != payment.id {
                    return Err(CoreError::IdempotencyKeyReused);
                }
                return store::refund(earlier, payment.reference);
            }
        }
        let reserved = refunded_sum(&txn, payment.id, &[RefundStatus::Pending, RefundStatus::Succeeded]).await?;
        let refundable = payment.amount.minor() - reserved;
        match payment.status {
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded => {}
            PaymentStatus::Refunded => return Err(CoreError::RefundExceedsPayment { refundable_minor: 0 }),
            // Past its expiry but not yet swept: it can no longer be paid.
            PaymentStatus::Created if payment.expires_at <= self.now() => return Err(CoreError::PaymentExpired),
            other => return Err(CoreError::InvalidPaymentState { status: other.as_str() }),
        }
        let currency = payment.amount.currency();
        let amount = match amount {
            RefundAmount::Rest => Money::from_minor(refundable, currency),
            RefundAmount::Major(major) => Money::from_major(major, currency),
            RefundAmount::Minor(minor) => Money::from_minor(minor, currency),
        };
        let amount = match amount {
            Ok(amount) => amount,
            Err(_) if refundable <= 0 => return Err(CoreError::RefundExceedsPayment { refundable_minor: 0 }),
            Err(e) => return Err(CoreError::invalid("amount", e.to_string())),
        };
        if amount.minor() > refundable {
            return Err(CoreError::RefundExceedsPayment { refundable_minor: refundable.max(0) });
        }
        let fee_back = {
            let returned = refunded_fees(&txn, payment.id).await?;
            fee_returned(payment.fee, payment.amount.minor(), reserved, amount.minor(), returned)
        };
        let available = ledger::balances(&txn, payment.merchant_id)
            .await?
            .into_iter()
            .find(|b| b.currency == currency)
            .map_or(0, |b| b.available);
        // The merchant pays back what it was credited for this part: the refund less
        // the fee it returns.
        if amount.minor() - fee_back > available {
            return Err(CoreError::InsufficientBalance);
        }
        let now = self.now();
        let row = refund::ActiveModel {
            payment_id: Set(payment.id),
            merchant_id: Set(payment.merchant_id),
            amount: Set(amount.minor()),
            currency: Set(currency.code().to_owned()),
            status: Set(RefundStatus::Pending.as_str().to_owned()),
            reason: Set(reason),
            request_key: Set(request_key.map(str::to_owned)),
            fee: Set(fee_back),
            note: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            decided_at: Set(None),
            ..Default::default()
        };
        let row = refund::Entity::insert(row).exec_with_returning(&txn).await?;
        let refund = store::refund(row, payment.reference.clone())?;
        let subject = Subject { payment_id: Some(payment.id), refund_id: Some(refund.id), ..Default::default() };
        let postings = [
            (Account::Available, fee_back - amount.minor()),
            (Account::FeeRevenue, -fee_back),
            (Account::Reserved, amount.minor()),
        ];
        ledger::post(
            &txn,
            vec![ledger::Entry::new(payment.merchant_id, "refund_reserve", subject, currency, &postings)],
            now,
        )
        .await?;
        outbox::emit_one(&txn, NewEvent::refund(EventType::RefundRequested, &refund, &payment), now).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(refund)
    }

    /// The principal's merchant's refund `id`.
    pub async fn refund(&self, principal: &Principal, id: i64) -> Result<Refund, CoreError> {
        let row = refund::Entity::find_by_id(id)
            .filter(refund::Column::MerchantId.eq(principal.merchant_id()))
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Refund))?;
        let payment = self.reload_payment(&self.store().reader, row.payment_id).await?;
        if payment.namespace != principal.dialect() {
            return Err(CoreError::NotFound(Entity::Refund));
        }
        store::refund(row, payment.reference)
    }
}

impl super::AdminGateway {
    /// Refunds for the admin queue, newest first, optionally by status and merchant.
    pub async fn refunds(
        &self,
        status: Option<RefundStatus>,
        merchant_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Refund>, CoreError> {
        let mut query = refund::Entity::find();
        if let Some(status) = status {
            query = query.filter(refund::Column::Status.eq(status.as_str()));
        }
        if let Some(merchant_id) = merchant_id {
            query = query.filter(refund::Column::MerchantId.eq(merchant_id));
        }
        self.refunds_of(query.order_by_desc(refund::Column::Id).limit(limit)).await
    }

    /// A payment's refunds, oldest first.
    pub async fn payment_refunds(&self, payment_id: i64) -> Result<Vec<Refund>, CoreError> {
        let query = refund::Entity::find().filter(refund::Column::PaymentId.eq(payment_id));
        self.refunds_of(query.order_by_asc(refund::Column::Id)).await
    }

    /// The refunds `query` selects, with their payments' references.
    async fn refunds_of(&self, query: sea_orm::Select<refund::Entity>) -> Result<Vec<Refund>, CoreError> {
        let db = &self.store().reader;
        let rows = query.all(db).await?;
        let payment_ids: Vec<i64> = rows.iter().map(|r| r.payment_id).collect();
        let references: HashMap<i64, String> = payment::Entity::find()
            .select_only()
            .column(payment::Column::Id)
            .column(payment::Column::Reference)
            .filter(payment::Column::Id.is_in(payment_ids))
            .into_tuple::<(i64, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        rows.into_iter()
            .map(|r| {
                let reference = references.get(&r.payment_id).cloned().unwrap_or_default();
                store::refund(r, reference)
            })
            .collect()
    }

    /// Approves a pending refund: the reserved money leaves, the payment becomes
    /// `partially_refunded` or `refunded`, and `refund.succeeded` is written.
    pub async fn approve_refund(&self, id: i64, note: Option<String>) -> Result<Refund, CoreError> {
        self.decide_refund(id, RefundStatus::Succeeded, note).await
    }

    /// Rejects a pending refund: the reservation returns to the available balance and
    /// `refund.rejected` is written.
    pub async fn reject_refund(&self, id: i64, note: Option<String>) -> Result<Refund, CoreError> {
        self.decide_refund(id, RefundStatus::Rejected, note).await
    }
}

impl super::Core {
    async fn decide_refund(&self, id: i64, decision: RefundStatus, note: Option<String>) -> Result<Refund, CoreError> {
        let txn = self.begin_write().await?;
        let row = self
            .for_update(refund::Entity::find_by_id(id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound(Entity::Refund))?;
        let payment_row = self
            .for_update(payment::Entity::find_by_id(row.payment_id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payment))?;
        let payment = store::payment(payment_row)?;
        let now = self.now();
        let change = refund::ActiveModel {
            status: Set(decision.as_str().to_owned()),
            note: Set(note),
            decided_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        };
        let updated = refund::Entity::update_many()
            .set(change)
            .filter(refund::Column::Id.eq(id))
            .filter(refund::Column::Status.eq(RefundStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(CoreError::AlreadyDecided(Entity::Refund));
        }
        let row = refund::Entity::find_by_id(id).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Refund))?;
        let refund = store::refund(row, payment.reference.clone())?;
        let subject = Subject { payment_id: Some(payment.id), refund_id: Some(refund.id), ..Default::default() };
        let payment = if decision == RefundStatus::Succeeded {
            ledger::post(
                &txn,
                vec![ledger::Entry::transfer(
                    payment.merchant_id,
                    "refund_paid",
                    subject,
                    refund.amount,
                    Account::Reserved,
                    Account::RefundsPaid,
                )],
                now,
            )
            .await?;
            let refunded = refunded_sum(&txn, payment.id, &[RefundStatus::Succeeded]).await?;
            let status = if refunded >= payment.amount.minor() {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::PartiallyRefunded
            };
            let change = payment::ActiveModel {
                status: Set(status.as_str().to_owned()),
                updated_at: Set(now),
                ..Default::default()
            };
            payment::Entity::update_many().set(change).filter(payment::Column::Id.eq(payment.id)).exec(&txn).await?;
            self.reload_payment(&txn, payment.id).await?
        } else {
            let (amount, fee_back) = (refund.amount.minor(), refund.fee_returned);
            let postings = [
                (Account::Reserved, -amount),
                (Account::Available, amount - fee_back),
                (Account::FeeRevenue, fee_back),
            ];
            let currency = refund.amount.currency();
            ledger::post(
                &txn,
                vec![ledger::Entry::new(payment.merchant_id, "refund_release", subject, currency, &postings)],
                now,
            )
            .await?;
            payment
        };
        let event =
            if decision == RefundStatus::Succeeded { EventType::RefundSucceeded } else { EventType::RefundRejected };
        outbox::emit_one(&txn, NewEvent::refund(event, &refund, &payment), now).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(refund)
    }
}

/// The part of a payment's `fee` (on `gross`) a refund of `refund` returns, when refunds
/// of `refunded` (pending or paid) came before it and returned `returned`: what
/// brings the fee returned to ⌊fee × (refunded + refund) ÷ gross⌋ — in proportion, and
/// all of it once the whole payment is refunded.
pub(super) fn fee_returned(fee: i64, gross: i64, refunded: i64, refund: i64, returned: i64) -> i64 {
    if gross <= 0 || fee <= 0 {
        return 0;
    }
    let covered = (refunded + refund).clamp(0, gross);
    let due = i64::try_from(i128::from(fee) * i128::from(covered) / i128::from(gross)).unwrap_or(fee);
    (due - returned).clamp(0, fee - returned.min(fee))
}

/// The fee returned by a payment's pending and paid refunds, in minor units.
async fn refunded_fees<C: ConnectionTrait>(conn: &C, payment_id: i64) -> Result<i64, CoreError> {
    let sum: Option<Option<i64>> = refund::Entity::find()
        .select_only()
        .expr(Func::cast_as(Func::sum(Expr::col(refund::Column::Fee)), Alias::new("BIGINT")))
        .filter(refund::Column::PaymentId.eq(payment_id))
        .filter(refund::Column::Status.is_in([RefundStatus::Pending.as_str(), RefundStatus::Succeeded.as_str()]))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(sum.flatten().unwrap_or(0))
}

/// Sum of a payment's refunds in the given states, in minor units.
async fn refunded_sum<C: ConnectionTrait>(
    conn: &C,
    payment_id: i64,
    states: &[RefundStatus],
) -> Result<i64, CoreError> {
    let sum: Option<Option<i64>> = refund::Entity::find()
        .select_only()
        .expr(Func::cast_as(Func::sum(Expr::col(refund::Column::Amount)), Alias::new("BIGINT")))
        .filter(refund::Column::PaymentId.eq(payment_id))
        .filter(refund::Column::Status.is_in(states.iter().map(|s| s.as_str())))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(sum.flatten().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::fee_returned;

    #[test]
    fn refunds_return_the_fee_in_proportion_and_all_of_it_in_the_end() {
        // A fee of 56 on 1050: halves return 28 and 28.
        assert_eq!(fee_returned(56, 1050, 0, 525, 0), 28);
        assert_eq!(fee_returned(56, 1050, 525, 525, 28), 28);
        // Thirds, with rounding down until the last takes the rest: 18, 19, 19.
        let first = fee_returned(56, 1050, 0, 350, 0);
        let second = fee_returned(56, 1050, 350, 350, first);
        let third = fee_returned(56, 1050, 700, 350, first + second);
        assert_eq!((first, second, third), (18, 19, 19));
        assert_eq!(first + second + third, 56);
        assert_eq!(fee_returned(0, 1050, 0, 1050, 0), 0, "no fee, nothing to return");
        assert_eq!(fee_returned(56, 1050, 0, 1050, 0), 56, "a full refund returns all of it");
        // A refund rejected after another was asked for: the next one makes up the difference.
        assert_eq!(fee_returned(56, 1050, 0, 700, 0), 37);
    }
}
