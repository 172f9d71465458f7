//! Payments: creation, lookups, checkout completion and capture.
//!
//! Creation is the hot path, so concurrent creates are batched: one background task
//! takes every create waiting at that moment and writes them with one multi-row
//! `INSERT … ON CONFLICT DO NOTHING RETURNING` plus one multi-row outbox insert in a
//! single transaction. A reference that already exists is simply not returned by the
//! insert and answers [`CoreError::DuplicateReference`]; the unique index decides, so
//! this holds across several instances on one Postgres too.

use std::collections::HashSet;

use rand::Rng;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TryInsertResult,
};
use tokio::sync::{mpsc, oneshot};

use super::ledger::{self, Account, Subject};
use super::outbox::{self, NewEvent};
use super::store::{self, entities::payment};
use super::{
    AttemptLog, CaptureMode, CoreError, CoreSettings, Entity, EventType, Gateway, Instrument, NewPayment, Payment,
    PaymentFilter, PaymentStatus, Principal,
};

/// Creates waiting longer than this many in the queue are written in the next batch.
const MAX_BATCH: usize = 256;

struct CreateJob {
    merchant_id: i64,
    principal: Principal,
    cmd: NewPayment,
    reply: oneshot::Sender<Result<Payment, CoreError>>,
}

/// The batching writer of new payments.
pub(super) struct Creator {
    jobs: mpsc::Sender<CreateJob>,
}

impl Creator {
    pub(super) fn start(store: store::Store, settings: CoreSettings) -> Creator {
        let (jobs, rx) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run_creator(rx, store, settings));
        Creator { jobs }
    }
}

async fn run_creator(mut rx: mpsc::Receiver<CreateJob>, store: store::Store, settings: CoreSettings) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        write_batch(&store, &settings, std::mem::take(&mut jobs)).await;
    }
}

async fn write_batch(store: &store::Store, settings: &CoreSettings, jobs: Vec<CreateJob>) {
    let mut seen = HashSet::new();
    let mut accepted = Vec::with_capacity(jobs.len());
    for job in jobs {
        let key = (job.merchant_id, job.principal.dialect(), job.cmd.reference.clone());
        if seen.insert(key) {
            accepted.push(job);
        } else {
            let _ = job.reply.send(Err(CoreError::DuplicateReference));
        }
    }
    match insert_payments(store, settings, &accepted).await {
        Ok(mut inserted) => {
            for job in accepted {
                let namespace = job.principal.dialect();
                let pos = inserted.iter().position(|p| {
                    p.merchant_id == job.merchant_id && p.namespace == namespace && p.reference == job.cmd.reference
                });
                let result = match pos {
                    Some(i) => Ok(inserted.swap_remove(i)),
                    None => Err(CoreError::DuplicateReference),
                };
                let _ = job.reply.send(result);
            }
        }
        Err(err) => {
            for job in accepted {
                let _ = job.reply.send(Err(err.clone()));
            }
        }
    }
}

async fn insert_payments(
    store: &store::Store,
    settings: &CoreSettings,
    jobs: &[CreateJob],
) -> Result<Vec<Payment>, CoreError> {
    let now = super::now();
    let expires_at = now + settings.payment_ttl;
    let tokens: Vec<String> = {
        let mut rng = rand::rng();
        jobs.iter().map(|_| hex::encode(rng.random::<[u8; 16]>())).collect()
    };
    let rows: Vec<payment::ActiveModel> = jobs
        .iter()
        .zip(tokens)
        .map(|(job, token)| {
            let cmd = &job.cmd;
            payment::ActiveModel {
                merchant_id: Set(job.merchant_id),
                namespace: Set(job.principal.dialect().as_str().to_owned()),
                reference: Set(cmd.reference.clone()),
                amount: Set(cmd.amount.minor()),
                currency: Set(cmd.amount.currency().code().to_owned()),
                status: Set(PaymentStatus::Created.as_str().to_owned()),
                capture_mode: Set(cmd.capture_mode.as_str().to_owned()),
                method: Set(cmd.method.clone()),
                description: Set(cmd.description.clone()),
                customer: Set(to_json(&cmd.customer)),
                metadata: Set(cmd.metadata.clone()),
                urls: Set(to_json(&cmd.urls)),
                checkout_token: Set(token),
                processor_txn_id: Set(None),
                instrument: Set(None),
                attempt_code: Set(None),
                attempt_message: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                expires_at: Set(expires_at),
                authorized_at: Set(None),
                captured_at: Set(None),
                ..Default::default()
            }
        })
        .collect();
    let txn = store.begin_write().await?;
    let inserted = payment::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([payment::Column::MerchantId, payment::Column::Namespace, payment::Column::Reference])
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec_with_returning_many(&txn)
        .await?;
    let inserted = match inserted {
        TryInsertResult::Inserted(rows) => rows,
        TryInsertResult::Empty | TryInsertResult::Conflicted => Vec::new(),
    };
    let payments =
        inserted.into_iter().map(|row| store::payment(row, &settings.public_url)).collect::<Result<Vec<_>, _>>()?;
    let events = payments
        .iter()
        .map(|p| {
            NewEvent::new(p.merchant_id, EventType::PaymentCreated, Some(p.id), &serde_json::json!({ "payment": p }))
        })
        .collect();
    outbox::emit(&txn, events).await?;
    txn.commit().await?;
    Ok(payments)
}

fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

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

/// The payment after a checkout completion.
#[derive(Debug, Clone)]
pub struct CheckoutResult {
    /// The payment as it now stands.
    pub payment: Payment,
}

impl Gateway {
    /// Creates a payment for the principal's merchant in the principal's dialect
    /// namespace. Writes `payment.created`.
    pub async fn create_payment(&self, principal: &Principal, cmd: NewPayment) -> Result<Payment, CoreError> {
        let (reply, rx) = oneshot::channel();
        let job = CreateJob { merchant_id: principal.merchant_id(), principal: principal.clone(), cmd, reply };
        self.inner.creator.jobs.send(job).await.map_err(|_| CoreError::Internal("payment writer stopped".into()))?;
        rx.await.map_err(|_| CoreError::Internal("payment writer dropped a request".into()))?
    }

    /// The principal's merchant's payment with this reference in the principal's
    /// dialect namespace.
    pub async fn payment_by_reference(&self, principal: &Principal, reference: &str) -> Result<Payment, CoreError> {
        let row = payment::Entity::find()
            .filter(reference_condition(principal, reference))
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row, &self.settings().public_url)
    }

    /// The principal's merchant's payments in its dialect namespace, newest first.
    pub async fn payments(&self, principal: &Principal, filter: &PaymentFilter) -> Result<Vec<Payment>, CoreError> {
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
        let rows = query
            .order_by_desc(payment::Column::Id)
            .limit(filter.limit)
            .offset(filter.offset)
            .all(&self.store().reader)
            .await?;
        rows.into_iter().map(|r| store::payment(r, &self.settings().public_url)).collect()
    }

    /// The payment behind a checkout token (the last segment of its checkout URL).
    pub async fn payment_by_checkout_token(&self, token: &str) -> Result<Payment, CoreError> {
        let row = payment::Entity::find()
            .filter(payment::Column::CheckoutToken.eq(token))
            .one(&self.store().reader)
            .await?
            .ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row, &self.settings().public_url)
    }

    /// Applies the processor's verdict on a checkout. Only a payment still `created`
    /// can complete, so a double submission charges once: the second gets
    /// [`CoreError::PaymentAlreadyCompleted`]. An approved payment is captured at once
    /// (automatic capture, balance credited) or held in `processing` until the merchant
    /// confirms it (manual capture).
    pub async fn complete_checkout(&self, token: &str, outcome: CheckoutOutcome) -> Result<CheckoutResult, CoreError> {
        let txn = self.begin_write().await?;
        let query = payment::Entity::find().filter(payment::Column::CheckoutToken.eq(token));
        let row = self.for_update(query).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        let current = store::payment(row, &self.settings().public_url)?;
        match current.status {
            PaymentStatus::Created => {}
            PaymentStatus::Expired => return Err(CoreError::PaymentExpired),
            _ => return Err(CoreError::PaymentAlreadyCompleted),
        }
        let now = super::now();
        // Past its expiry a payment can only expire, whatever the processor said.
        let ran_out = now > current.expires_at && !matches!(outcome, CheckoutOutcome::Expired);
        let outcome = if ran_out { CheckoutOutcome::Expired } else { outcome };

        let mut change = payment::ActiveModel { updated_at: Set(now), ..Default::default() };
        let (status, event) = match &outcome {
            CheckoutOutcome::Approved { processor_txn_id, method, instrument } => {
                change.processor_txn_id = Set(Some(processor_txn_id.clone()));
                change.method = Set(Some(method.clone()));
                change.instrument = Set(instrument.as_ref().map(to_json));
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
                change.instrument = Set(instrument.as_ref().map(to_json));
                change.attempt_code = Set(Some(attempt.code.clone()));
                change.attempt_message = Set(Some(attempt.message.clone()));
                (PaymentStatus::Failed, EventType::PaymentFailed)
            }
            CheckoutOutcome::Cancelled => (PaymentStatus::Cancelled, EventType::PaymentCancelled),
            CheckoutOutcome::Expired => (PaymentStatus::Expired, EventType::PaymentExpired),
        };
        change.status = Set(status.as_str().to_owned());
        let updated = payment::Entity::update_many()
            .set(change)
            .filter(payment::Column::Id.eq(current.id))
            .filter(payment::Column::Status.eq(PaymentStatus::Created.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(CoreError::PaymentAlreadyCompleted);
        }
        let payment = self.reload_payment(&txn, current.id).await?;
        if status == PaymentStatus::Succeeded {
            let subject = Subject { payment_id: Some(payment.id), ..Default::default() };
            ledger::transfer(
                &txn,
                payment.merchant_id,
                "capture",
                subject,
                payment.amount,
                Account::ProcessorClearing,
                Account::Available,
            )
            .await?;
        }
        let snapshot = serde_json::json!({ "payment": &payment });
        outbox::emit(&txn, vec![NewEvent::new(payment.merchant_id, event, Some(payment.id), &snapshot)]).await?;
        txn.commit().await?;
        if ran_out {
            return Err(CoreError::PaymentExpired);
        }
        Ok(CheckoutResult { payment })
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
        let txn = self.begin_write().await?;
        let query = payment::Entity::find().filter(reference_condition(principal, reference));
        let row = self.for_update(query).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        let current = store::payment(row, &self.settings().public_url)?;
        if current.processor_txn_id.as_deref() != Some(claimed_txn_id) {
            return Err(CoreError::TransactionMismatch);
        }
        if current.status != PaymentStatus::Processing {
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
        let subject = Subject { payment_id: Some(payment.id), ..Default::default() };
        ledger::transfer(
            &txn,
            payment.merchant_id,
            "capture",
            subject,
            payment.amount,
            Account::ProcessorClearing,
            Account::Available,
        )
        .await?;
        let snapshot = serde_json::json!({ "payment": &payment });
        let event = NewEvent::new(payment.merchant_id, EventType::PaymentSucceeded, Some(payment.id), &snapshot);
        outbox::emit(&txn, vec![event]).await?;
        txn.commit().await?;
        Ok(payment)
    }

    pub(super) async fn reload_payment<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        id: i64,
    ) -> Result<Payment, CoreError> {
        let row = payment::Entity::find_by_id(id).one(conn).await?.ok_or(CoreError::NotFound(Entity::Payment))?;
        store::payment(row, &self.settings().public_url)
    }
}

/// Selects the principal's merchant's payment with `reference` in its namespace.
pub(super) fn reference_condition(principal: &Principal, reference: &str) -> Condition {
    Condition::all()
        .add(payment::Column::MerchantId.eq(principal.merchant_id()))
        .add(payment::Column::Namespace.eq(principal.dialect().as_str()))
        .add(payment::Column::Reference.eq(reference))
}
