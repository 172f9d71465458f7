//! Payments: lookups, checkout completion and capture. Creation is in `create`.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::ledger::{self, Account, Subject};
use super::outbox::{self, NewEvent};
use super::store::{self, entities::payment};
use super::{
    AttemptLog, CaptureMode, CoreError, Currency, Entity, EventType, Gateway, Instrument, Payment, PaymentFilter,
    PaymentStatus, Principal,
};

/// How a checkout ended, as the processor reports it.
#[derive(Debug, Clone)]
pub enum CheckoutOutcome {
    /// The processor approved the payment.
    Approved {
        /// The processor's transaction id.
        processor_txn_id: String,
        /// The method used (`bkash`, `card`, …).
        method: String,
        /// What the customer paid with (nothing secret).
        instrument: Option<Instrument>,
    },
    /// The processor has not decided yet; a later completion decides.
    Pending {
        /// The processor's transaction id.
        processor_txn_id: String,
        /// The method used.
        method: String,
        /// What the customer paid with (nothing secret).
        instrument: Option<Instrument>,
        /// Why it waits.
        attempt: AttemptLog,
    },
    /// The processor declined or failed it.
    Declined {
        /// The processor's transaction id, when it assigned one.
        processor_txn_id: Option<String>,
        /// The method used.
        method: Option<String>,
        /// What the customer paid with (nothing secret).
        instrument: Option<Instrument>,
        /// Why.
        attempt: AttemptLog,
    },
    /// The customer cancelled.
    Cancelled,
    /// The checkout ran out of time.
    Expired,
}

impl Gateway {
    /// The principal's merchant's payment with this reference in the principal's
    /// dialect namespace.
    pub async fn payment_by_reference(&self, principal: &Principal, reference: &str) -> Result<Payment, CoreError> {
        if reference.contains('\0') {
            return Err(CoreError::NotFound(Entity::Payment));
        }
        let row = payment::Entity::find()
            .filter(reference_condition(principal, reference))
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row)
    }

    /// The principal's merchant's payment with internal id `id` in its dialect namespace.
    pub async fn payment_by_id(&self, principal: &Principal, id: i64) -> Result<Payment, CoreError> {
        let row = payment::Entity::find_by_id(id)
            .filter(payment::Column::MerchantId.eq(principal.merchant_id()))
            .filter(payment::Column::Namespace.eq(principal.dialect().as_str()))
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row)
    }

    /// The principal's merchant's payments in its dialect namespace, newest first.
    pub async fn payments(&self, principal: &Principal, filter: &PaymentFilter) -> Result<Vec<Payment>, CoreError> {
        let rows = filtered(principal, filter)
            .order_by_desc(payment::Column::Id)
            .limit(super::sql_count(filter.limit))
            .offset(super::sql_count(filter.offset))
            .all(&self.store().reader)
            .await?;
        rows.into_iter().map(store::payment).collect()
    }

    /// The page of [`Gateway::payments`] that `filter` asks for, and how many payments
    /// it selects in all (its limit and offset aside). A page past the end is empty.
    pub async fn payment_page(
        &self,
        principal: &Principal,
        filter: &PaymentFilter,
    ) -> Result<(Vec<Payment>, u64), CoreError> {
        let total = filtered(principal, filter).count(&self.store().reader).await?;
        if filter.offset >= total {
            return Ok((Vec::new(), total));
        }
        Ok((self.payments(principal, filter).await?, total))
    }

    /// How many of the principal's merchant's payments in its dialect namespace, in
    /// `currency`, with one of `statuses`, were created at or after `since` (by the
    /// principal's own credential when `own` is set), and their total in minor units
    /// (for limits such as "at most 10 payments a day").
    pub async fn payment_usage(
        &self,
        principal: &Principal,
        own: bool,
        statuses: &[PaymentStatus],
        currency: Currency,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<(u64, i64), CoreError> {
        use sea_orm::sea_query::{Alias, Expr, Func};
        let filter = PaymentFilter {
            statuses: statuses.to_vec(),
            from: Some(since),
            created_by: own.then(|| principal.credential().id),
            ..PaymentFilter::default()
        };
        let row: Option<(i64, Option<i64>)> = filtered(principal, &filter)
            .filter(payment::Column::Currency.eq(currency.code()))
            .select_only()
            .expr(Func::cast_as(Func::count(Expr::col(payment::Column::Id)), Alias::new("BIGINT")))
            .expr(Func::cast_as(Func::sum(Expr::col(payment::Column::Amount)), Alias::new("BIGINT")))
            .into_tuple()
            .one(&self.store().reader)
            .await?;
        let (count, total) = row.unwrap_or_default();
        Ok((u64::try_from(count).unwrap_or_default(), total.unwrap_or_default()))
    }

    /// The payment behind a checkout token (the last segment of its checkout URL).
    pub async fn payment_by_checkout_token(&self, token: &str) -> Result<Payment, CoreError> {
        if token.contains('\0') {
            return Err(CoreError::NotFound(Entity::Payment));
        }
        let row = payment::Entity::find()
            .filter(payment::Column::CheckoutToken.eq(token))
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row)
    }

    /// Applies the processor's verdict on a checkout. Only a payment still `created`
    /// can complete, so a double submission charges once: the second gets
    /// [`CoreError::PaymentAlreadyCompleted`]. An approved payment is captured at once
    /// (automatic capture, balance credited) or held in `processing` until the merchant
    /// confirms it (manual capture).
    pub async fn complete_checkout(&self, token: &str, outcome: CheckoutOutcome) -> Result<Payment, CoreError> {
        if token.contains('\0') {
            return Err(CoreError::NotFound(Entity::Payment));
        }
        let txn = self.begin_write().await?;
        let query = payment::Entity::find().filter(payment::Column::CheckoutToken.eq(token));
        let row = self.for_update(query).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        let current = store::payment(row)?;
        let awaiting_processor = current.status == PaymentStatus::Processing && current.authorized_at.is_none();
        match current.status {
            PaymentStatus::Created => {}
            PaymentStatus::Processing if awaiting_processor && !matches!(outcome, CheckoutOutcome::Pending { .. }) => {}
            PaymentStatus::Expired => return Err(CoreError::PaymentExpired),
            _ => return Err(CoreError::PaymentAlreadyCompleted),
        }
        let now = super::now();
        // Past its expiry a payment the customer has not paid can only expire, whatever
        // the processor said; one awaiting the processor's decision can still get it.
        let ran_out = current.status == PaymentStatus::Created
            && now > current.expires_at
            && !matches!(outcome, CheckoutOutcome::Expired);
        let outcome = if ran_out { CheckoutOutcome::Expired } else { outcome };

        let mut change = payment::ActiveModel { updated_at: Set(now), ..Default::default() };
        let (status, event) = match &outcome {
            CheckoutOutcome::Approved { processor_txn_id, method, instrument } => {
                // A pending attempt approved later keeps the transaction it started.
                let txn_id = current.processor_txn_id.clone().unwrap_or_else(|| processor_txn_id.clone());
                change.processor_txn_id = Set(Some(txn_id));
                change.method = Set(Some(method.clone()));
                if instrument.is_some() || current.instrument.is_none() {
                    change.instrument = Set(instrument.as_ref().map(|i| serde_json::to_value(i).unwrap_or_default()));
                }
                change.attempt_code = Set(None);
                change.attempt_message = Set(None);
                change.authorized_at = Set(Some(now));
                match current.capture_mode {
                    CaptureMode::Automatic => {
                        change.captured_at = Set(Some(now));
                        (PaymentStatus::Succeeded, EventType::PaymentSucceeded)
                    }
                    CaptureMode::Manual => (PaymentStatus::Processing, EventType::PaymentProcessing),
                }
            }
            CheckoutOutcome::Declined { processor_txn_id, method, instrument, attempt } => {
                change.processor_txn_id = Set(processor_txn_id.clone());
                if let Some(method) = method {
                    change.method = Set(Some(method.clone()));
                }
                change.instrument = Set(instrument.as_ref().map(|i| serde_json::to_value(i).unwrap_or_default()));
                change.attempt_code = Set(Some(attempt.code.clone()));
                change.attempt_message = Set(Some(attempt.message.clone()));
                (PaymentStatus::Failed, EventType::PaymentFailed)
            }
            CheckoutOutcome::Pending { processor_txn_id, method, instrument, attempt } => {
                change.processor_txn_id = Set(Some(processor_txn_id.clone()));
                change.method = Set(Some(method.clone()));
                change.instrument = Set(instrument.as_ref().map(|i| serde_json::to_value(i).unwrap_or_default()));
                change.attempt_code = Set(Some(attempt.code.clone()));
                change.attempt_message = Set(Some(attempt.message.clone()));
                (PaymentStatus::Processing, EventType::PaymentPending)
            }
            CheckoutOutcome::Cancelled => (PaymentStatus::Cancelled, EventType::PaymentCancelled),
            CheckoutOutcome::Expired => (PaymentStatus::Expired, EventType::PaymentExpired),
        };
        change.status = Set(status.as_str().to_owned());
        // Only from the state read above: of two racing completions, one applies.
        let still_open = Condition::any().add(payment::Column::Status.eq(PaymentStatus::Created.as_str())).add(
            Condition::all()
                .add(payment::Column::Status.eq(PaymentStatus::Processing.as_str()))
                .add(payment::Column::AuthorizedAt.is_null()),
        );
        let updated = payment::Entity::update_many()
            .set(change)
            .filter(payment::Column::Id.eq(current.id))
            .filter(payment::Column::Status.eq(current.status.as_str()))
            .filter(still_open)
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(CoreError::PaymentAlreadyCompleted);
        }
        let payment = self.reload_payment(&txn, current.id).await?;
        if status == PaymentStatus::Succeeded {
            credit_capture(&txn, &payment).await?;
        }
        emit_payment_event(&txn, event, &payment).await?;
        txn.commit().await?;
        self.notify_events();
        if ran_out {
            return Err(CoreError::PaymentExpired);
        }
        Ok(payment)
    }

    /// Confirms a payment the processor authorized, when the merchant's claimed
    /// processor transaction matches the processor's record: a payment in `processing`
    /// is captured (balance credited, `payment.succeeded`) exactly once, however many
    /// confirmations race. Any other payment is returned as it stands, so confirming
    /// twice is harmless. A claim that does not match is
    /// [`CoreError::TransactionMismatch`] and changes nothing.
    pub async fn confirm_payment(
        &self,
        principal: &Principal,
        reference: &str,
        claimed_txn_id: &str,
    ) -> Result<Payment, CoreError> {
        if reference.contains('\0') {
            return Err(CoreError::NotFound(Entity::Payment));
        }
        let txn = self.begin_write().await?;
        let query = payment::Entity::find().filter(reference_condition(principal, reference));
        let row = self.for_update(query).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        let current = store::payment(row)?;
        if current.processor_txn_id.as_deref() != Some(claimed_txn_id) {
            return Err(CoreError::TransactionMismatch);
        }
        // Captured already, failed, or still awaiting the processor's decision: nothing
        // to capture; report it as it stands.
        if current.status != PaymentStatus::Processing || current.authorized_at.is_none() {
            return Ok(current);
        }
        let now = super::now();
        let change = payment::ActiveModel {
            status: Set(PaymentStatus::Succeeded.as_str().to_owned()),
            captured_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        };
        let updated = payment::Entity::update_many()
            .set(change)
            .filter(payment::Column::Id.eq(current.id))
            .filter(payment::Column::Status.eq(PaymentStatus::Processing.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            drop(txn);
            return self.payment_by_reference(principal, reference).await;
        }
        let payment = self.reload_payment(&txn, current.id).await?;
        credit_capture(&txn, &payment).await?;
        emit_payment_event(&txn, EventType::PaymentSucceeded, &payment).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(payment)
    }

    /// Expires up to `limit` payments whose checkout ran out without the customer
    /// paying, writing `payment.expired` for each; returns how many. Run by a background
    /// sweep, so expiry happens whether or not anyone opens the checkout again.
    pub async fn expire_overdue(&self, limit: u64) -> Result<usize, CoreError> {
        let now = super::now();
        let due: Vec<i64> = payment::Entity::find()
            .select_only()
            .column(payment::Column::Id)
            .filter(payment::Column::Status.eq(PaymentStatus::Created.as_str()))
            .filter(payment::Column::ExpiresAt.lt(now))
            .order_by_asc(payment::Column::ExpiresAt)
            .limit(limit)
            .into_tuple()
            .all(&self.store().reader)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let txn = self.begin_write().await?;
        let mut expired = 0;
        for id in due {
            let change = payment::ActiveModel {
                status: Set(PaymentStatus::Expired.as_str().to_owned()),
                updated_at: Set(now),
                ..Default::default()
            };
            let updated = payment::Entity::update_many()
                .set(change)
                .filter(payment::Column::Id.eq(id))
                .filter(payment::Column::Status.eq(PaymentStatus::Created.as_str()))
                .exec(&txn)
                .await?;
            if updated.rows_affected == 1 {
                let payment = self.reload_payment(&txn, id).await?;
                emit_payment_event(&txn, EventType::PaymentExpired, &payment).await?;
                expired += 1;
            }
        }
        txn.commit().await?;
        self.notify_events();
        Ok(expired)
    }

    pub(super) async fn reload_payment<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        id: i64,
    ) -> Result<Payment, CoreError> {
        let row = payment::Entity::find_by_id(id).one(conn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row)
    }
}

/// Credits a captured payment to its merchant's available balance.
async fn credit_capture<C: sea_orm::ConnectionTrait>(conn: &C, payment: &Payment) -> Result<(), CoreError> {
    let subject = Subject { payment_id: Some(payment.id), ..Default::default() };
    let (from, to) = (Account::ProcessorClearing, Account::Available);
    ledger::transfer(conn, payment.merchant_id, "capture", subject, payment.amount, from, to).await
}

/// Writes a payment event carrying the payment's snapshot.
async fn emit_payment_event<C: sea_orm::ConnectionTrait>(
    conn: &C,
    event: EventType,
    payment: &Payment,
) -> Result<(), CoreError> {
    let snapshot = serde_json::json!({ "payment": payment });
    outbox::emit(conn, vec![NewEvent::new(payment.merchant_id, event, Some(payment.id), &snapshot)]).await
}

/// Selects the principal's merchant's payment with `reference` in its namespace.
/// The principal's payments that `filter` selects, unordered and unpaged.
fn filtered(principal: &Principal, filter: &PaymentFilter) -> sea_orm::Select<payment::Entity> {
    let mut query = payment::Entity::find()
        .filter(payment::Column::MerchantId.eq(principal.merchant_id()))
        .filter(payment::Column::Namespace.eq(principal.dialect().as_str()));
    if !filter.statuses.is_empty() {
        query = query.filter(payment::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(from) = filter.from {
        query = query.filter(payment::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(payment::Column::CreatedAt.lte(to));
    }
    if let Some(credential) = filter.created_by {
        query = query.filter(payment::Column::CreatedBy.eq(credential));
    }
    query
}

pub(super) fn reference_condition(principal: &Principal, reference: &str) -> Condition {
    Condition::all()
        .add(payment::Column::MerchantId.eq(principal.merchant_id()))
        .add(payment::Column::Namespace.eq(principal.dialect().as_str()))
        .add(payment::Column::Reference.eq(reference))
}
