//! The nine REBORNPAY operations. Each parses its wire type, calls one core method and
//! maps the result back; the core does every state change and balance.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use super::auth::{ApiKeyAuth, ApiSecretAuth};
use super::errors::Reply;
use super::types::*;
use crate::core::{CoreError, NewPayment, PaymentFilter, RefundAmount};
use crate::http::AppState;
use crate::http::idempotency::RequestKey;
use crate::http::mount::Mount;
use crate::http::wire::Wire;

#[derive(Tags)]
enum Tag {
    /// Create, verify and look up payments.
    Payments,
    /// Refund requests (reviewed by an admin).
    Refunds,
    /// Balances, settlements and transactions.
    Account,
    /// Webhook testing.
    Webhooks,
}

/// The REBORNPAY API.
pub struct RebornApi;

#[OpenApi]
impl RebornApi {
    /// Create a payment intent; returns a checkout URL the customer can complete.
    #[oai(operation_id = "createPayment", path = "/payment/create", method = "post", tag = "Tag::Payments")]
    async fn create(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        body: Json<Wire<CreatePaymentRequest>>,
    ) -> Reply<PaymentResponse> {
        let result = async {
            let command = NewPayment::try_from(body.0.into_result()?)?;
            let payment = state.gateway.create_payment(&auth.0, command).await?;
            Ok(PaymentResponse {
                success: true,
                message: "Payment created".into(),
                data: PaymentData::new(payment, &mount),
            })
        };
        Reply::from_result(result.await)
    }

    /// Confirm a payment after the customer completed checkout; credits the merchant
    /// balance once. The claim is checked against the processor's record.
    #[oai(operation_id = "verifyPayment", path = "/payment/verify", method = "post", tag = "Tag::Payments")]
    async fn verify(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        body: Json<Wire<VerifyRequest>>,
    ) -> Reply<VerifyResponse> {
        let result = async {
            let req = body.0.into_result()?;
            if !["success", "failed", "pending", "cancelled"].contains(&req.status.as_str()) {
                return Err(CoreError::invalid("status", "must be success, failed, pending or cancelled"));
            }
            let payment = state.gateway.confirm_payment(&auth.0, &req.invoice_id, &req.transaction_id).await?;
            let verified = payment.status.is_captured();
            let message = if verified { "Payment verified" } else { "Payment is not successful" };
            Ok(VerifyResponse {
                success: true,
                message: message.into(),
                data: VerifyData { verified, payment: PaymentData::new(payment, &mount) },
            })
        };
        Reply::from_result(result.await)
    }

    /// Look up the current status of a payment.
    #[oai(operation_id = "paymentStatus", path = "/payment/status/:invoice_id", method = "get", tag = "Tag::Payments")]
    async fn status(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        #[oai(validator(max_length = 100))] invoice_id: Path<String>,
    ) -> Reply<PaymentResponse> {
        let result = state.gateway.payment_by_reference(&auth.0, &invoice_id).await;
        Reply::from_result(result.map(|p| PaymentResponse {
            success: true,
            message: "OK".into(),
            data: PaymentData::new(p, &mount),
        }))
    }

    /// Submit a refund request against a successful payment. It goes to the admin
    /// queue as `pending`; its amount is reserved from the available balance.
    #[oai(operation_id = "requestRefund", path = "/refund/request", method = "post", tag = "Tag::Refunds")]
    async fn refund_request(
        &self,
        state: Data<&AppState>,
        request: &poem::Request,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        body: Json<Wire<RefundRequest>>,
    ) -> Reply<RefundResponse> {
        let result = async {
            let req = body.0.into_result()?;
            let amount = req.amount.decimal();
            let key = RequestKey::of(request);
            let refund = state
                .gateway
                .request_refund(&auth.0, &req.invoice_id, RefundAmount::Major(amount), req.reason.clone(), key)
                .await?;
            Ok(RefundResponse { success: true, message: "Refund request submitted".into(), data: refund.into() })
        };
        Reply::from_result(result.await)
    }

    /// Check the status of a refund request.
    #[oai(operation_id = "refundStatus", path = "/refund/status/:refund_id", method = "get", tag = "Tag::Refunds")]
    async fn refund_status(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        #[oai(validator(max_length = 32))] refund_id: Path<String>,
    ) -> Reply<RefundResponse> {
        let result = async {
            let id = parse_refund_id(&refund_id).ok_or(CoreError::NotFound(crate::core::Entity::Refund))?;
            let refund = state.gateway.refund(&auth.0, id).await?;
            Ok(RefundResponse { success: true, message: "OK".into(), data: refund.into() })
        };
        Reply::from_result(result.await)
    }

    /// Available, reserved and pending-settlement balances.
    #[oai(operation_id = "balance", path = "/balance", method = "get", tag = "Tag::Account")]
    async fn balance(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
    ) -> Reply<BalanceResponse> {
        let result = async {
            let merchant = auth.0.merchant();
            let balances = state.gateway.balances(&auth.0).await?;
            let all: Vec<CurrencyBalance> = balances.iter().map(CurrencyBalance::from).collect();
            let primary = all.iter().find(|b| b.currency == merchant.default_currency);
            let zero = || crate::http::wire::JsonDecimal::from(rust_decimal::Decimal::ZERO);
            let data = BalanceData {
                currency: merchant.default_currency.clone(),
                available: primary.map_or_else(zero, |b| b.available.clone()),
                reserved: primary.map_or_else(zero, |b| b.reserved.clone()),
                pending_settlement: primary.map_or_else(zero, |b| b.pending_settlement.clone()),
                balances: all,
            };
            Ok(BalanceResponse { success: true, data })
        };
        Reply::from_result(result.await)
    }

    /// Recent settlements, most recent first.
    #[oai(operation_id = "settlements", path = "/settlements", method = "get", tag = "Tag::Account")]
    async fn settlements(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        /// How many (1–100, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> Reply<SettlementsResponse> {
        let result = async {
            let settlements = state.gateway.settlements(&auth.0, parse_limit(limit.0)?).await?;
            Ok(SettlementsResponse { success: true, data: settlements.into_iter().map(Into::into).collect() })
        };
        Reply::from_result(result.await)
    }

    /// Recent transactions (payments), most recent first.
    #[oai(operation_id = "transactions", path = "/transactions", method = "get", tag = "Tag::Account")]
    async fn transactions(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        /// How many (1–100, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Only payments with this status.
        status: Query<Option<Status>>,
    ) -> Reply<TransactionsResponse> {
        let result = async {
            let filter = PaymentFilter {
                statuses: status.0.map(Status::canonical).unwrap_or_default(),
                limit: parse_limit(limit.0)?,
                ..Default::default()
            };
            let payments = state.gateway.payments(&auth.0, &filter).await?;
            Ok(TransactionsResponse {
                success: true,
                data: payments.into_iter().map(|p| PaymentData::new(p, &mount)).collect(),
            })
        };
        Reply::from_result(result.await)
    }

    /// Send a synthetic `test.ping` event to your configured webhook URL.
    #[oai(operation_id = "testWebhook", path = "/webhook/test", method = "post", tag = "Tag::Webhooks")]
    async fn webhook_test(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        _secret: ApiSecretAuth,
        body: Json<Wire<WebhookTestRequest>>,
    ) -> Reply<WebhookTestResponse> {
        let result = async {
            let req = body.0.into_result()?;
            let Some(webhook_url) = auth.0.merchant().webhook_url.clone() else {
                return Err(CoreError::invalid("webhook_url", "no webhook URL is configured for this merchant"));
            };
            let data = req.data.unwrap_or_else(|| serde_json::json!({}));
            let mut issues = Vec::new();
            crate::http::fields::check_json_size("data", &data, &mut issues);
            if !issues.is_empty() {
                return Err(CoreError::Validation(issues));
            }
            let event_id = state.gateway.emit_test_event(&auth.0, data).await?;
            Ok(WebhookTestResponse {
                success: true,
                message: "Test event queued".into(),
                data: WebhookTestData { event: "test.ping".into(), event_id, webhook_url },
            })
        };
        Reply::from_result(result.await)
    }
}
