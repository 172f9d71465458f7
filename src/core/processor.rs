//! The processor seam: what charges an instrument. One [`Processor`] is given to the
//! [`Gateway`](super::Gateway) when it is built (`Arc<dyn Processor>`): the sandbox in
//! paybridge's own binary, a scripted one in tests, a real acquirer later. Every charge
//! reaches it through the core — a host-to-host charge, the hosted checkout, its 3-D
//! Secure challenge, the sandbox control API — and its answer is recorded in the same
//! transaction as the payment's state change, ledger postings and events.
//!
//! A processor that fails (`Err`, or a panic) or does not answer within the configured
//! timeout leaves a recorded decline — [`Decline::ProcessorError`] or [`Decline::BankError`] —
//! never an error to the caller and never a charge without a record.

use std::time::Duration;

use super::instrument::PaymentInstrument;
use super::payments::CheckoutOutcome;
use super::{AttemptLog, Decline, DeclinedBy, Payment};

/// A processor's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Approved.
    Approved {
        /// The processor's transaction id.
        processor_txn_id: String,
        /// The method charged (`card`, `bkash`…).
        method: String,
    },
    /// Not decided yet: the issuer wants the customer to authenticate (3-D Secure), or
    /// the processor answers later.
    Pending {
        /// The processor's transaction id.
        processor_txn_id: String,
        /// The method charged.
        method: String,
        /// Why it waits.
        message: String,
    },
    /// Declined.
    Declined {
        /// The processor's transaction id, when it assigned one.
        processor_txn_id: Option<String>,
        /// The method charged.
        method: String,
        /// Why.
        reason: Decline,
        /// The processor's own response code (the sandbox's is its magic number).
        code: String,
    },
}

/// A processor that failed to answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the processor failed: {0}")]
pub struct ProcessorError(pub String);

/// A payment processor.
#[async_trait::async_trait]
pub trait Processor: Send + Sync {
    /// Charges `instrument` for `payment` (not yet stored when the charge is
    /// host-to-host: its id is 0).
    async fn charge(&self, payment: &Payment, instrument: &PaymentInstrument) -> Result<Verdict, ProcessorError>;

    /// Decides a payment that was [`Verdict::Pending`] for 3-D Secure, now that the
    /// customer `passed` the challenge or failed it.
    async fn authenticate(&self, payment: &Payment, passed: bool) -> Result<Verdict, ProcessorError>;
}

/// How a processor call ended, failures and timeouts included.
pub(super) enum Answer {
    /// The processor answered.
    Verdict(Verdict),
    /// It failed.
    Failed(ProcessorError),
    /// It did not answer in time.
    TimedOut,
}

/// Runs a processor call within `timeout`; a call that panics has failed.
pub(super) async fn within<F>(timeout: Duration, call: F) -> Answer
where
    F: std::future::Future<Output = Result<Verdict, ProcessorError>>,
{
    use futures_util::FutureExt;
    match tokio::time::timeout(timeout, std::panic::AssertUnwindSafe(call).catch_unwind()).await {
        Ok(Ok(Ok(verdict))) => Answer::Verdict(verdict),
        Ok(Ok(Err(err))) => Answer::Failed(err),
        Ok(Err(_)) => Answer::Failed(ProcessorError("the processor panicked".into())),
        Err(_) => Answer::TimedOut,
    }
}

impl Answer {
    /// The outcome to record: the verdict, or for a failure or timeout a decline
    /// (998 `processor_error`, 001 `processor_timeout`) with the method the charge was
    /// for.
    pub(super) fn outcome(self, payment: &Payment, instrument: &PaymentInstrument) -> CheckoutOutcome {
        let failed = |reason: Decline, code: &str| {
            let attempt = AttemptLog::declined(reason, code, DeclinedBy::Processor);
            super::payments::unanswered_decline(payment, instrument, attempt)
        };
        match self {
            Answer::Verdict(Verdict::Approved { processor_txn_id, method }) => {
                CheckoutOutcome::Approved { instrument: instrument.describe(&method), processor_txn_id, method }
            }
            Answer::Verdict(Verdict::Pending { processor_txn_id, method, message }) => CheckoutOutcome::Pending {
                instrument: instrument.describe(&method),
                processor_txn_id,
                method,
                attempt: AttemptLog { code: "pending".into(), message, reason: None, declined_by: None },
            },
            Answer::Verdict(Verdict::Declined { processor_txn_id, method, reason, code }) => {
                CheckoutOutcome::Declined {
                    instrument: instrument.describe(&method),
                    processor_txn_id,
                    method: Some(method),
                    attempt: AttemptLog::declined(reason, code, DeclinedBy::Processor),
                }
            }
            Answer::Failed(err) => {
                tracing::error!(payment = %payment.reference, error = %err, "processor failed; recorded as a decline");
                failed(Decline::ProcessorError, "processor_error")
            }
            Answer::TimedOut => {
                tracing::error!(payment = %payment.reference, "processor timed out; recorded as a decline");
                failed(Decline::BankError, "processor_timeout")
            }
        }
    }
}
