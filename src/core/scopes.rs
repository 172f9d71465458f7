//! The core's doors, one per kind of caller. [`Core::connect`] hands out one of each
//! ([`Scopes`]); nothing else makes them, and each has only its caller's operations:
//!
//! - [`Gateway`]: what a merchant's request may do, through its dialect — authenticate
//!   and admit, then act for the admitted [`Principal`](super::Principal) only.
//! - [`AdminGateway`]: the operator — merchants, credentials, the refund and payout
//!   queues, settlements, the ledger check, events and deliveries, and the sweeps.
//! - [`ProcessorGateway`]: the hosted checkout and the sandbox processor's control
//!   API — paying, deciding and answering a checkout, the test clock.
//! - [`DeliveryGateway`]: the webhook engine — dispatching events, claiming and
//!   recording deliveries.
//!
//! Each derefs to the [`Core`] they share, whose public methods only read (the time,
//! the settings, whether the database answers). The operations themselves live with
//! their subject (`refunds.rs`, `payments.rs`, …), each in its scope's `impl` block.
//!
//! So a dialect, which holds a [`Gateway`], cannot approve a refund, pay a checkout or
//! claim a delivery:
//!
//! ```compile_fail
//! # use paybridge::core::{CoreError, Gateway};
//! # async fn dialect(gateway: &Gateway) -> Result<(), CoreError> {
//! gateway.approve_refund(7, None).await?; // no such method on the merchants' door
//! # Ok(()) }
//! ```
//!
//! ```compile_fail
//! # use paybridge::core::{CoreError, Gateway, PaymentInstrument};
//! # async fn dialect(gateway: &Gateway, card: PaymentInstrument) -> Result<(), CoreError> {
//! gateway.pay_checkout("token", card, None).await?;
//! # Ok(()) }
//! ```
//!
//! ```compile_fail
//! # use paybridge::core::{CoreError, Gateway};
//! # async fn dialect(gateway: &Gateway) -> Result<(), CoreError> {
//! gateway.claim_deliveries(10, std::time::Duration::from_secs(60)).await?;
//! # Ok(()) }
//! ```
//!
//! while their own doors do:
//!
//! ```
//! # use paybridge::core::{AdminGateway, CoreError, DeliveryGateway, PaymentInstrument, ProcessorGateway};
//! # async fn callers(
//! #     admin: &AdminGateway,
//! #     processor: &ProcessorGateway,
//! #     delivery: &DeliveryGateway,
//! #     card: PaymentInstrument,
//! # ) -> Result<(), CoreError> {
//! admin.approve_refund(7, None).await?;
//! processor.pay_checkout("token", card, None).await?;
//! delivery.claim_deliveries(10, std::time::Duration::from_secs(60)).await?;
//! # Ok(()) }
//! ```

use std::ops::Deref;

use super::{Balance, Core, CoreError, Credential, Merchant, Payout, PayoutFilter, Principal, Settlement};

macro_rules! scope {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            core: Core,
        }

        impl Deref for $name {
            type Target = Core;

            fn deref(&self) -> &Core {
                &self.core
            }
        }
    };
}

scope! {
    /// What a merchant's request may do, through its dialect (see the module doc).
    Gateway
}
scope! {
    /// What the operator may do: the admin API and the server's sweeps.
    AdminGateway
}
scope! {
    /// What the hosted checkout and the sandbox processor's control API may do.
    ProcessorGateway
}
scope! {
    /// What the webhook engine may do.
    DeliveryGateway
}

/// One door per kind of caller, over one core.
#[derive(Clone)]
pub struct Scopes {
    /// For the dialects.
    pub gateway: Gateway,
    /// For the admin API and the sweeps.
    pub admin: AdminGateway,
    /// For the checkout and the sandbox API.
    pub processor: ProcessorGateway,
    /// For the webhook engine.
    pub delivery: DeliveryGateway,
}

impl Scopes {
    pub(super) fn of(core: Core) -> Scopes {
        Scopes {
            gateway: Gateway { core: core.clone() },
            admin: AdminGateway { core: core.clone() },
            processor: ProcessorGateway { core: core.clone() },
            delivery: DeliveryGateway { core },
        }
    }
}

impl Gateway {
    /// The admitted merchant's balances, one per currency it has ever held.
    pub async fn balances(&self, principal: &Principal) -> Result<Vec<Balance>, CoreError> {
        self.core.balances(principal.merchant_id()).await
    }

    /// The admitted merchant's settlements, newest first.
    pub async fn settlements(&self, principal: &Principal, limit: u64) -> Result<Vec<Settlement>, CoreError> {
        self.core.settlements(principal.merchant_id(), limit).await
    }

    /// The admitted merchant's payouts that `filter` selects, newest first, and how
    /// many it selects in all.
    pub async fn payouts(&self, principal: &Principal, filter: &PayoutFilter) -> Result<(Vec<Payout>, u64), CoreError> {
        self.core.payouts(Some(principal.merchant_id()), filter).await
    }
}

impl AdminGateway {
    /// A merchant's balances, one per currency it has ever held.
    pub async fn balances(&self, merchant_id: i64) -> Result<Vec<Balance>, CoreError> {
        self.core.balances(merchant_id).await
    }

    /// A merchant's settlements, newest first.
    pub async fn settlements(&self, merchant_id: i64, limit: u64) -> Result<Vec<Settlement>, CoreError> {
        self.core.settlements(merchant_id, limit).await
    }

    /// Payouts of `merchant_id` (every merchant's when `None`) that `filter` selects,
    /// newest first, and how many it selects in all.
    pub async fn payouts(
        &self,
        merchant_id: Option<i64>,
        filter: &PayoutFilter,
    ) -> Result<(Vec<Payout>, u64), CoreError> {
        self.core.payouts(merchant_id, filter).await
    }

    /// A merchant.
    pub async fn merchant(&self, id: i64) -> Result<Merchant, CoreError> {
        self.core.merchant(id).await
    }

    /// A credential, active or not.
    pub async fn credential(&self, id: i64) -> Result<Credential, CoreError> {
        self.core.credential(id).await
    }

    /// Expires up to `limit` payments past their expiry (with their events); returns
    /// how many.
    pub async fn expire_overdue(&self, limit: u64) -> Result<usize, CoreError> {
        self.core.expire_overdue(limit).await
    }

    /// Forgets idempotency records past their retention; returns how many.
    pub async fn purge_idempotency(&self) -> Result<u64, CoreError> {
        self.core.purge_idempotency().await
    }
}

impl ProcessorGateway {
    /// The merchant a checkout shows.
    pub async fn merchant(&self, id: i64) -> Result<Merchant, CoreError> {
        self.core.merchant(id).await
    }

    /// The credential a payment was created with (a PayRequest return is signed with it).
    pub async fn credential(&self, id: i64) -> Result<Credential, CoreError> {
        self.core.credential(id).await
    }
}

impl DeliveryGateway {
    /// The credential that signs a delivery.
    pub async fn credential(&self, id: i64) -> Result<Credential, CoreError> {
        self.core.credential(id).await
    }
}
