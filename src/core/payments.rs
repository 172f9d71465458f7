//! Payments: lookups, checkout completion and capture. Creation is in `create`.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use sea_orm::DatabaseTransaction;
use sea_orm::sea_query::{Expr, ExprTrait, Func};

use super::instrument::PaymentInstrument;
use super::ledger::{self, Account, Subject};
use super::outbox::{self, NewEvent};
use super::store::{self, entities::payment};
use super::{
    AttemptLog, CaptureMode, CoreError, Decline, DeclinedBy, Entity, EventType, Instrument, Payment, PaymentFilter,
    PaymentSearch, PaymentStatus, Principal,
};
use super::{policy, processor};

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

impl super::Gateway {
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
}

impl super::AdminGateway {
    /// Any payment, by its number.
    pub async fn payment(&self, id: i64) -> Result<Payment, CoreError> {
        let row = payment::Entity::find_by_id(id)
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row)
    }

    /// The page of payments `search` asks for, newest first, and how many it selects in
    /// all.
    pub async fn search_payments(&self, search: &PaymentSearch) -> Result<(Vec<Payment>, u64), CoreError> {
        let mut query = payment::Entity::find();
        if let Some(merchant_id) = search.merchant_id {
            query = query.filter(payment::Column::MerchantId.eq(merchant_id));
        }
        if let Some(dialect) = search.dialect {
            query = query.filter(payment::Column::Namespace.eq(dialect.as_str()));
        }
        if let Some(status) = search.status {
            query = query.filter(payment::Column::Status.eq(status.as_str()));
        }
        if let Some(from) = search.from {
            query = query.filter(payment::Column::CreatedAt.gte(from));
        }
        if let Some(to) = search.to {
            query = query.filter(payment::Column::CreatedAt.lt(to));
        }
        if let Some(text) = search.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            if text.contains('\0') {
                return Ok((Vec::new(), 0));
            }
            // Any case, on both backends (SQLite's LIKE ignores ASCII case, Postgres's
            // does not).
            let reference = Expr::expr(Func::lower(Expr::col(payment::Column::Reference)));
            let mut any = Condition::any()
                .add(reference.like(contains_pattern(&text.to_lowercase())))
                .add(payment::Column::ProcessorTxnId.eq(text));
            if let Ok(id) = text.trim_start_matches('#').parse::<i64>() {
                any = any.add(payment::Column::Id.eq(id));
            }
            query = query.filter(any);
        }
        let db = &self.store().reader;
        let total = query.clone().count(db).await?;
        if search.offset >= total {
            return Ok((Vec::new(), total));
        }
        let rows = query
            .order_by_desc(payment::Column::Id)
            .limit(super::sql_count(search.limit))
            .offset(super::sql_count(search.offset))
            .all(db)
            .await?;
        Ok((rows.into_iter().map(store::payment).collect::<Result<_, _>>()?, total))
    }
}

impl super::ProcessorGateway {
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

    /// Applies an outcome to a checkout: the processor's verdict (the sandbox control
    /// API drives it), or the customer's cancellation, or its expiry. Only a payment
    /// still `created` can complete, so a double submission charges once: the second
    /// gets [`CoreError::PaymentAlreadyCompleted`]; a payment awaiting the processor
    /// takes any outcome but pending. An approved payment is captured at once
    /// (automatic capture, balance credited net of the account's fee) or held in
    /// `processing` until the merchant confirms it (manual capture).
    pub async fn complete_checkout(&self, token: &str, outcome: CheckoutOutcome) -> Result<Payment, CoreError> {
        let txn = self.begin_write().await?;
        let current = self.open_checkout(&txn, token).await?;
        if current.status != PaymentStatus::Created && matches!(outcome, CheckoutOutcome::Pending { .. }) {
            return Err(CoreError::PaymentAlreadyCompleted);
        }
        // Past its expiry a payment the customer has not paid can only expire, whatever
        // the outcome; one awaiting the processor's decision can still get it.
        let ran_out = current.status == PaymentStatus::Created
            && self.now() > current.expires_at
            && !matches!(outcome, CheckoutOutcome::Expired);
        if ran_out {
            self.apply_outcome(txn, current, CheckoutOutcome::Expired).await?;
            return Err(CoreError::PaymentExpired);
        }
        self.apply_outcome(txn, current, outcome).await
    }

    /// The customer pays a checkout with `instrument`: the account's policy, then the
    /// processor decide, and the verdict is applied as by
    /// [`complete_checkout`](Self::complete_checkout), in one transaction. `country` is
    /// the payer's, when the form asked for it.
    pub async fn pay_checkout(
        &self,
        token: &str,
        instrument: PaymentInstrument,
        country: Option<&str>,
    ) -> Result<Payment, CoreError> {
        let txn = self.begin_write().await?;
        let current = self.open_checkout(&txn, token).await?;
        if current.status != PaymentStatus::Created {
            return Err(CoreError::PaymentAlreadyCompleted);
        }
        // Checked once, before the processor is asked: its verdict, however long it
        // took, is then recorded as given (a charged card is never written off as
        // expired).
        if self.now() > current.expires_at {
            // Never charged once it ran out: it expires instead.
            self.apply_outcome(txn, current, CheckoutOutcome::Expired).await?;
            return Err(CoreError::PaymentExpired);
        }
        let decline = match current.created_by {
            Some(credential) => {
                let policies = policy::load(&txn, self.store(), &[credential], true).await?;
                match policies.get(&credential) {
                    Some(policy) => {
                        let usage = match policy.counts_usage() {
                            true => policy::usage(&txn, credential, current.amount.currency(), self.now()).await?,
                            false => policy::Usage::default(),
                        };
                        let attempt = policy::Attempt { amount: current.amount, country, origin_domain: None };
                        policy.decline(&attempt, usage)
                    }
                    None => None,
                }
            }
            None => None,
        };
        let outcome = match decline {
            Some(reason) => policy_decline(&current, &instrument, reason),
            None => {
                let processor = &self.inner.processor;
                let call = processor.charge(&current, &instrument);
                processor::within(self.settings().processor_timeout, call).await.outcome(&current, &instrument)
            }
        };
        self.apply_outcome(txn, current, outcome).await
    }

    /// The customer answered the issuer's 3-D Secure challenge on a payment awaiting
    /// it: the processor decides, and its verdict is applied in the same transaction.
    pub async fn complete_authentication(&self, token: &str, passed: bool) -> Result<Payment, CoreError> {
        let txn = self.begin_write().await?;
        let current = self.open_checkout(&txn, token).await?;
        if current.status != PaymentStatus::AwaitingProcessor {
            return Err(CoreError::PaymentAlreadyCompleted);
        }
        let processor = &self.inner.processor;
        let call = processor.authenticate(&current, passed);
        let answer = processor::within(self.settings().processor_timeout, call).await;
        let outcome = answer.outcome(&current, &PaymentInstrument::None);
        self.apply_outcome(txn, current, outcome).await
    }
}

impl super::Core {
    /// The payment behind `token`, locked, while it can still take an outcome: `created`
    /// or `awaiting_processor`.
    async fn open_checkout(&self, txn: &DatabaseTransaction, token: &str) -> Result<Payment, CoreError> {
        if token.contains('\0') {
            return Err(CoreError::NotFound(Entity::Payment));
        }
        let query = payment::Entity::find().filter(payment::Column::CheckoutToken.eq(token));
        let row = self.for_update(query).one(txn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        let current = store::payment(row)?;
        match current.status {
            PaymentStatus::Created | PaymentStatus::AwaitingProcessor => Ok(current),
            PaymentStatus::Expired => Err(CoreError::PaymentExpired),
            _ => Err(CoreError::PaymentAlreadyCompleted),
        }
    }

    /// Writes `outcome` on `current` (read under lock in `txn`) as given, captures an
    /// approval, writes the event, and commits.
    async fn apply_outcome(
        &self,
        txn: DatabaseTransaction,
        current: Payment,
        outcome: CheckoutOutcome,
    ) -> Result<Payment, CoreError> {
        let now = self.now();
        let (mut payment, event) = decide(&current, &outcome, now);
        if payment.status == PaymentStatus::Succeeded {
            payment.fee = capture_fee(&txn, self.store(), &payment).await?;
        }
        // Only from the state read above: of two racing completions, one applies.
        let still_open =
            payment::Column::Status.is_in([PaymentStatus::Created.as_str(), PaymentStatus::AwaitingProcessor.as_str()]);
        let updated = payment::Entity::update_many()
            .set(decision_columns(&payment))
            .filter(payment::Column::Id.eq(current.id))
            .filter(payment::Column::Status.eq(current.status.as_str()))
            .filter(still_open)
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(CoreError::PaymentAlreadyCompleted);
        }
        if payment.status == PaymentStatus::Succeeded {
            ledger::post(&txn, vec![capture_entry(&payment)], now).await?;
        }
        outbox::emit_one(&txn, NewEvent::payment(event, &payment), now).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(payment)
    }
}

impl super::Gateway {
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
        if current.status != PaymentStatus::Processing {
            return Ok(current);
        }
        let now = self.now();
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
        let mut payment = self.reload_payment(&txn, current.id).await?;
        payment.fee = capture_fee(&txn, self.store(), &payment).await?;
        if payment.fee != 0 {
            let change = payment::ActiveModel { fee: Set(payment.fee), ..Default::default() };
            payment::Entity::update_many().set(change).filter(payment::Column::Id.eq(payment.id)).exec(&txn).await?;
        }
        ledger::post(&txn, vec![capture_entry(&payment)], now).await?;
        outbox::emit_one(&txn, NewEvent::payment(EventType::PaymentSucceeded, &payment), now).await?;
        txn.commit().await?;
        self.notify_events();
        Ok(payment)
    }
}

impl super::Core {
    /// Expires up to `limit` payments whose checkout ran out without the customer
    /// paying, writing `payment.expired` for each; returns how many. Run by a background
    /// sweep, so expiry happens whether or not anyone opens the checkout again.
    pub(super) async fn expire_overdue(&self, limit: u64) -> Result<usize, CoreError> {
        let now = self.now();
        let txn = self.begin_write().await?;
        // Instances sweeping at once split the overdue payments: on Postgres each takes
        // the rows no other sweep holds (SKIP LOCKED); SQLite's write transactions run one
        // at a time. A payment is expired only from `created`, so it is expired (and its
        // event written) once whatever the sweeps do.
        let mut query = payment::Entity::find()
            .select_only()
            .column(payment::Column::Id)
            .filter(payment::Column::Status.eq(PaymentStatus::Created.as_str()))
            .filter(payment::Column::ExpiresAt.lt(now))
            .order_by_asc(payment::Column::ExpiresAt)
            .limit(limit);
        if self.store().locks_rows() {
            query = query
                .lock_with_behavior(sea_orm::sea_query::LockType::Update, sea_orm::sea_query::LockBehavior::SkipLocked);
        }
        let due: Vec<i64> = query.into_tuple().all(&txn).await?;
        if due.is_empty() {
            return Ok(0);
        }
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
                outbox::emit_one(&txn, NewEvent::payment(EventType::PaymentExpired, &payment), now).await?;
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

/// `current` as `outcome` leaves it at `now`, and the event that tells it (the fee is
/// set at capture, `updated_at` by the caller's write).
pub(super) fn decide(
    current: &Payment,
    outcome: &CheckoutOutcome,
    now: chrono::DateTime<chrono::Utc>,
) -> (Payment, EventType) {
    let mut next = current.clone();
    next.updated_at = now;
    let event = match outcome {
        CheckoutOutcome::Approved { processor_txn_id, method, instrument } => {
            // A pending attempt approved later keeps the transaction it started.
            next.processor_txn_id = Some(current.processor_txn_id.clone().unwrap_or_else(|| processor_txn_id.clone()));
            next.method = Some(method.clone());
            if instrument.is_some() {
                next.instrument = instrument.clone();
            }
            next.last_attempt = None;
            next.authorized_at = Some(now);
            match current.capture_mode {
                CaptureMode::Automatic => {
                    next.status = PaymentStatus::Succeeded;
                    next.captured_at = Some(now);
                    EventType::PaymentSucceeded
                }
                CaptureMode::Manual => {
                    next.status = PaymentStatus::Processing;
                    EventType::PaymentProcessing
                }
            }
        }
        CheckoutOutcome::Declined { processor_txn_id, method, instrument, attempt } => {
            // A decline that names no transaction or card (a pending attempt's, or a
            // processor that failed) keeps those already recorded.
            if processor_txn_id.is_some() {
                next.processor_txn_id = processor_txn_id.clone();
            }
            if method.is_some() {
                next.method = method.clone();
            }
            if instrument.is_some() {
                next.instrument = instrument.clone();
            }
            next.last_attempt = Some(attempt.clone());
            next.status = PaymentStatus::Failed;
            EventType::PaymentFailed
        }
        CheckoutOutcome::Pending { processor_txn_id, method, instrument, attempt } => {
            next.processor_txn_id = Some(processor_txn_id.clone());
            next.method = Some(method.clone());
            next.instrument = instrument.clone();
            next.last_attempt = Some(attempt.clone());
            next.status = PaymentStatus::AwaitingProcessor;
            EventType::PaymentPending
        }
        CheckoutOutcome::Cancelled => {
            next.status = PaymentStatus::Cancelled;
            EventType::PaymentCancelled
        }
        CheckoutOutcome::Expired => {
            next.status = PaymentStatus::Expired;
            EventType::PaymentExpired
        }
    };
    (next, event)
}

/// The columns a decision sets, from the decided payment.
pub(super) fn decision_columns(p: &Payment) -> payment::ActiveModel {
    let attempt = p.last_attempt.as_ref();
    payment::ActiveModel {
        status: Set(p.status.as_str().to_owned()),
        processor_txn_id: Set(p.processor_txn_id.clone()),
        method: Set(p.method.clone()),
        instrument: Set(p.instrument.as_ref().map(|i| serde_json::to_value(i).unwrap_or_default())),
        attempt_code: Set(attempt.map(|a| a.code.clone())),
        attempt_message: Set(attempt.map(|a| a.message.clone())),
        attempt_reason: Set(attempt.and_then(|a| a.reason).map(|r| r.as_str().to_owned())),
        declined_by: Set(attempt.and_then(|a| a.declined_by).map(|by| by.as_str().to_owned())),
        authorized_at: Set(p.authorized_at),
        captured_at: Set(p.captured_at),
        fee: Set(p.fee),
        updated_at: Set(p.updated_at),
        ..Default::default()
    }
}

/// The decline the account's policy decided, recorded without a processor.
pub(super) fn policy_decline(payment: &Payment, instrument: &PaymentInstrument, reason: Decline) -> CheckoutOutcome {
    unanswered_decline(payment, instrument, AttemptLog::declined(reason, reason.as_str(), DeclinedBy::Policy))
}

/// A decline no processor answered (the policy's, or a processor that failed): no
/// processor transaction, the method the instrument or the payment names.
pub(super) fn unanswered_decline(
    payment: &Payment,
    instrument: &PaymentInstrument,
    attempt: AttemptLog,
) -> CheckoutOutcome {
    let method = match instrument {
        PaymentInstrument::Card(_) => Some("card".to_owned()),
        _ => payment.method.clone(),
    };
    CheckoutOutcome::Declined {
        processor_txn_id: None,
        instrument: instrument.describe(method.as_deref().unwrap_or("wallet")),
        method,
        attempt,
    }
}

/// The fee a capture of `payment` pays: its account's policy in force now (none: 0).
async fn capture_fee<C: sea_orm::ConnectionTrait>(
    conn: &C,
    store: &store::Store,
    payment: &Payment,
) -> Result<i64, CoreError> {
    Ok(match payment.created_by {
        Some(credential) => policy::load(conn, store, &[credential], false)
            .await?
            .get(&credential)
            .map_or(0, |policy| policy.fee(payment.amount)),
        None => 0,
    })
}

/// The ledger entry of a captured payment whose fee is set.
pub(super) fn capture_entry(payment: &Payment) -> ledger::Entry {
    let subject = Subject { payment_id: Some(payment.id), ..Default::default() };
    let gross = payment.amount.minor();
    let postings = [
        (Account::ProcessorClearing, -gross),
        (Account::Available, gross - payment.fee),
        (Account::FeeRevenue, payment.fee),
    ];
    ledger::Entry::new(payment.merchant_id, "capture", subject, payment.amount.currency(), &postings)
}

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

/// Selects the principal's merchant's payment with `reference` in its namespace.
pub(super) fn reference_condition(principal: &Principal, reference: &str) -> Condition {
    Condition::all()
        .add(payment::Column::MerchantId.eq(principal.merchant_id()))
        .add(payment::Column::Namespace.eq(principal.dialect().as_str()))
        .add(payment::Column::Reference.eq(reference))
}

/// `LIKE` text matching anything containing `text` literally: its `%`, `_` and `\\`
/// escaped.
fn contains_pattern(text: &str) -> sea_orm::sea_query::LikeExpr {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')
}
