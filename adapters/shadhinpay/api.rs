//! The four ShadhinPay operations. Each parses its wire type, calls the core and maps
//! the result back; the core does every state change and balance.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use super::auth::{BusinessIdAuth, ClientIdAuth, SecretKeyAuth};
use super::errors::Reply;
use super::types::*;
use crate::core::{NewPayment, PaymentFilter, RefundAmount};
use crate::http::AppState;
use crate::http::fields::paging;
use crate::http::idempotency::RequestKey;
use crate::http::mount::Mount;
use crate::http::reply::Created;
use crate::http::wire::Wire;

#[derive(Tags)]
enum Tag {
    /// Create, retrieve, list and refund payments.
    Payments,
}

/// The ShadhinPay API.
pub struct ShadhinApi;

#[OpenApi]
impl ShadhinApi {
    /// Create a payment; returns the checkout URL (`payment_url`) for the customer.
    #[oai(operation_id = "createPayment", path = "/payments", method = "post", tag = "Tag::Payments")]
    async fn create(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ClientIdAuth,
        _business: BusinessIdAuth,
        _secret: SecretKeyAuth,
        body: Json<Wire<CreatePaymentRequest>>,
    ) -> Created<Reply<CreateResponse>> {
        let result = async {
            let command = NewPayment::try_from(parsed(body.0)?)?;
            let payment = state.gateway.create_payment_fresh(&auth.0, command, new_payment_id).await?;
            Ok(CreateResponse {
                success: true,
                message: "Payment initiated successfully".into(),
                data: CreatedPayment::new(payment, &mount),
            })
        };
        Created(Reply::from_result(result.await))
    }

    /// Retrieve one payment.
    #[oai(operation_id = "getPayment", path = "/payments/:payment_id", method = "get", tag = "Tag::Payments")]
    async fn get(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ClientIdAuth,
        _business: BusinessIdAuth,
        _secret: SecretKeyAuth,
        /// The payment id (`SP_…`).
        #[oai(validator(max_length = 64))]
        payment_id: Path<String>,
    ) -> Reply<PaymentResponse> {
        let result = state.gateway.payment_by_reference(&auth.0, &payment_id).await;
        Reply::from_result(result.map(|p| PaymentResponse { success: true, data: PaymentDetails::new(p, &mount) }))
    }

    /// List your business's payments, most recent first, a page at a time.
    #[oai(operation_id = "listPayments", path = "/payments", method = "get", tag = "Tag::Payments")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: ClientIdAuth,
        _business: BusinessIdAuth,
        _secret: SecretKeyAuth,
        /// Page number, from 1 (default 1).
        #[oai(validator(minimum(value = "1")))]
        page: Query<Option<i64>>,
        /// Items per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Only payments with this status.
        status: Query<Option<Status>>,
        /// Created at or after: an ISO 8601 date (`2024-01-01`, from the start of the
        /// day, UTC) or date-time.
        from_date: Query<Option<DateOrTime>>,
        /// Created at or before: an ISO 8601 date (`2024-01-31`, to the end of the
        /// day, UTC) or date-time; not before `from_date`.
        to_date: Query<Option<DateOrTime>>,
    ) -> Reply<ListResponse> {
        let result = async {
            let (page, per_page) = paging(page.0, limit.0)?;
            let (from, to) =
                date_range(from_date.0.as_ref().map(|d| d.0.as_str()), to_date.0.as_ref().map(|d| d.0.as_str()))?;
            let filter = PaymentFilter {
                statuses: status.0.map(Status::canonical).unwrap_or_default(),
                limit: per_page,
                offset: (page - 1).saturating_mul(per_page),
                from,
                to,
                created_by: None,
            };
            let (payments, total) = state.gateway.payment_page(&auth.0, &filter).await?;
            Ok(ListResponse {
                success: true,
                data: PaymentList {
                    payments: payments.into_iter().map(Into::into).collect(),
                    pagination: Pagination::new(page, per_page, total),
                },
            })
        };
        Reply::from_result(result.await)
    }

    /// Refund a completed payment, in part (`amount`) or in full (no amount). The
    /// refund is `PROCESSING` until reviewed; the payment is `REFUNDED` once refunds
    /// of its whole amount are completed.
    #[oai(
        operation_id = "refundPayment",
        path = "/payments/:payment_id/refund",
        method = "post",
        tag = "Tag::Payments"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn refund(
        &self,
        state: Data<&AppState>,
        request: &poem::Request,
        auth: ClientIdAuth,
        _business: BusinessIdAuth,
        _secret: SecretKeyAuth,
        /// The payment to refund.
        #[oai(validator(max_length = 64))]
        payment_id: Path<String>,
        body: Json<Wire<RefundRequest>>,
    ) -> Reply<RefundResponse> {
        let result = async {
            let req = parsed(body.0)?;
            req.validate()?;
            let amount = req.amount.map_or(RefundAmount::Rest, RefundAmount::Minor);
            let key = RequestKey::of(request);
            let refund = state.gateway.request_refund(&auth.0, &payment_id, amount, req.reason, key).await?;
            Ok(RefundResponse { success: true, message: "Refund initiated successfully".into(), data: refund.into() })
        };
        Reply::from_result(result.await)
    }
}
