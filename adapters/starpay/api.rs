//! The seven StarPay operations. Each checks the caller's role (`roles`), parses its
//! wire type, calls the core and maps the result back.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use super::auth::ApiKeyAuth;
use super::errors::Reply;
use super::roles::{Action, owner_filter, require, role_of};
use super::types::*;
use crate::core::{CoreError, Entity, PaymentFilter, PayoutFilter};
use crate::http::AppState;
use crate::http::fields::paging;
use crate::http::idempotency::RequestKey;
use crate::http::mount::Mount;
use crate::http::reply::Created;
use crate::http::wire::{JsonDecimal, Wire};

#[derive(Tags)]
enum Tag {
    /// Balance and profile.
    Account,
    /// Pay-ins.
    Payments,
    /// Payouts to bank accounts.
    Payouts,
}

/// The StarPay API.
pub struct StarApi;

#[OpenApi]
impl StarApi {
    /// Get the current account balance and wallet info.
    #[oai(operation_id = "balance", path = "/balance", method = "get", tag = "Tag::Account")]
    async fn balance(&self, state: Data<&AppState>, auth: ApiKeyAuth) -> Reply<BalanceResponse> {
        let result = async {
            require(&auth.0, Action::Balance)?;
            let merchant = auth.0.merchant();
            let balances = state.gateway.balances(&auth.0).await?;
            let wallets: Vec<Wallet> = balances.iter().map(Wallet::from).collect();
            let balance = wallets
                .iter()
                .find(|w| w.currency == merchant.default_currency)
                .map_or_else(|| JsonDecimal::from(rust_decimal::Decimal::ZERO), |w| w.available_balance.clone());
            let data = BalanceData { currency: merchant.default_currency.clone(), balance, wallets };
            Ok(BalanceResponse { success: true, data })
        };
        Reply::from_result(result.await)
    }

    /// Create a payment order (pay-in) to collect money from a customer; returns the
    /// checkout URL.
    #[oai(operation_id = "createPayment", path = "/payments", method = "post", tag = "Tag::Payments")]
    async fn create_payment(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        body: Json<Wire<CreatePaymentRequest>>,
    ) -> Created<Reply<PaymentResponse>> {
        let result = async {
            require(&auth.0, Action::CreatePayment)?;
            let command = body.0.into_result()?.into_command(&auth.0.merchant().default_currency)?;
            let payment = state.gateway.create_payment(&auth.0, command).await?;
            Ok(PaymentResponse {
                success: true,
                message: "Payment order created".into(),
                data: PaymentData::new(payment, &mount),
            })
        };
        Created(Reply::from_result(result.await))
    }

    /// List payment transactions, most recent first, with optional filters.
    #[oai(operation_id = "listPayments", path = "/payments", method = "get", tag = "Tag::Payments")]
    #[allow(clippy::too_many_arguments)]
    async fn list_payments(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        /// Only payments with this status.
        status: Query<Option<PaymentState>>,
        /// Created at or after (RFC 3339, e.g. `2026-04-01T00:00:00Z`).
        from: Query<Option<chrono::DateTime<chrono::Utc>>>,
        /// Created at or before (RFC 3339; inclusive to the millisecond).
        to: Query<Option<chrono::DateTime<chrono::Utc>>>,
        /// Page, from 1 (default 1).
        #[oai(validator(minimum(value = "1")))]
        page: Query<Option<i64>>,
        /// Items per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> Reply<PaymentList> {
        let result = async {
            let scope = require(&auth.0, Action::ReadPayments)?;
            let (page, per_page) = paging(page.0, limit.0)?;
            for (field, time) in [("from", from.0), ("to", to.0)] {
                if time.is_some_and(|t| !(1..=9999).contains(&chrono::Datelike::year(&t))) {
                    return Err(CoreError::invalid(field, "must be a date-time in the years 1 to 9999"));
                }
            }
            if let (Some(from), Some(to)) = (from.0, to.0)
                && from > to
            {
                return Err(CoreError::invalid("to", "must not be before from"));
            }
            let filter = PaymentFilter {
                statuses: status.0.map(PaymentState::canonical).unwrap_or_default(),
                limit: per_page,
                offset: (page - 1).saturating_mul(per_page),
                from: from.0,
                // Times are shown to the millisecond: `to` takes in the whole one it names.
                to: to.0.map(|t| t.checked_add_signed(chrono::Duration::microseconds(999)).unwrap_or(t)),
                created_by: owner_filter(&auth.0, scope),
            };
            let (payments, total) = state.gateway.payment_page(&auth.0, &filter).await?;
            Ok(PaymentList {
                success: true,
                data: payments.into_iter().map(|p| PaymentData::new(p, &mount)).collect(),
                pagination: Pagination::of(page, per_page, total),
            })
        };
        Reply::from_result(result.await)
    }

    /// Get one payment by its transaction id (`txn_…`).
    #[oai(operation_id = "getPayment", path = "/payments/:id", method = "get", tag = "Tag::Payments")]
    async fn payment(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        #[oai(validator(max_length = 64))] id: Path<String>,
    ) -> Reply<PaymentResponse> {
        let result = async {
            let scope = require(&auth.0, Action::ReadPayments)?;
            let id = parse_transaction_id(&id).ok_or(CoreError::NotFound(Entity::Payment))?;
            let payment = state.gateway.payment_by_id(&auth.0, id).await?;
            if owner_filter(&auth.0, scope).is_some_and(|me| payment.created_by != Some(me)) {
                return Err(CoreError::NotFound(Entity::Payment));
            }
            Ok(PaymentResponse { success: true, message: "OK".into(), data: PaymentData::new(payment, &mount) })
        };
        Reply::from_result(result.await)
    }

    /// Request a payout to a bank account. The amount is reserved from the available
    /// balance at once (`insufficient_balance` otherwise); the payout is `pending`
    /// until it is processed or rejected.
    #[oai(operation_id = "createPayout", path = "/payouts", method = "post", tag = "Tag::Payouts")]
    async fn create_payout(
        &self,
        state: Data<&AppState>,
        request: &poem::Request,
        auth: ApiKeyAuth,
        body: Json<Wire<CreatePayoutRequest>>,
    ) -> Created<Reply<PayoutResponse>> {
        let result = async {
            require(&auth.0, Action::CreatePayout)?;
            let command = body.0.into_result()?.into_command(&auth.0.merchant().default_currency)?;
            let payout = state.gateway.request_payout(&auth.0, command, RequestKey::of(request)).await?;
            Ok(PayoutResponse { success: true, message: "Payout request submitted".into(), data: payout.into() })
        };
        Created(Reply::from_result(result.await))
    }

    /// List payout requests, most recent first, with an optional status filter.
    #[oai(operation_id = "listPayouts", path = "/payouts", method = "get", tag = "Tag::Payouts")]
    async fn list_payouts(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        /// Only payouts with this status.
        status: Query<Option<PayoutState>>,
        /// Page, from 1 (default 1).
        #[oai(validator(minimum(value = "1")))]
        page: Query<Option<i64>>,
        /// Items per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> Reply<PayoutList> {
        let result = async {
            let scope = require(&auth.0, Action::ReadPayouts)?;
            let (page, per_page) = paging(page.0, limit.0)?;
            let filter = PayoutFilter {
                statuses: status.0.map(Into::into).into_iter().collect(),
                created_by: owner_filter(&auth.0, scope),
                limit: per_page,
                offset: (page - 1).saturating_mul(per_page),
            };
            let (payouts, total) = state.gateway.payouts(&auth.0, &filter).await?;
            Ok(PayoutList {
                success: true,
                data: payouts.into_iter().map(Into::into).collect(),
                pagination: Pagination::of(page, per_page, total),
            })
        };
        Reply::from_result(result.await)
    }

    /// Get your profile and the account's settings.
    #[oai(operation_id = "profile", path = "/profile", method = "get", tag = "Tag::Account")]
    async fn profile(&self, auth: ApiKeyAuth) -> Reply<ProfileResponse> {
        let result = (|| {
            require(&auth.0, Action::Profile)?;
            let role = role_of(&auth.0).ok_or(CoreError::Forbidden)?;
            let (user, merchant) = (auth.0.credential(), auth.0.merchant());
            Ok(ProfileResponse {
                success: true,
                data: ProfileData {
                    user: UserData {
                        id: format!("usr_{}", user.id),
                        name: user.label.clone(),
                        role: role.name().to_owned(),
                        permissions: role.permissions().into_iter().map(str::to_owned).collect(),
                        rate_limit_per_hour: role.hourly_limit(),
                    },
                    merchant: AccountData {
                        name: merchant.name.clone(),
                        status: merchant.status.as_str().to_owned(),
                        default_currency: merchant.default_currency.clone(),
                        webhook_url: merchant.webhook_url.clone(),
                    },
                },
            })
        })();
        Reply::from_result(result)
    }
}
