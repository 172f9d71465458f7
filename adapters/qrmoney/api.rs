//! The three QR Money operations. The create is host-to-host: the card arrives in the
//! request and the core charges it (`Gateway::charge`: the account's policy, then the
//! processor) before the answer is sent; this module only translates.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use super::auth::ApiKeyAuth;
use super::errors::Reply;
use super::types::*;
use crate::core::{
    ChargeReference, CoreError, Entity, Gateway, NewCharge, Payment, PaymentInstrument, Principal, RefundAmount,
    RefundStatus,
};
use crate::http::AppState;
use crate::http::idempotency::RequestKey;
use crate::http::mount::Mount;
use crate::http::wire::Wire;

#[derive(Tags)]
enum Tag {
    /// Card payment requests, their status and refunds.
    Payments,
}

/// The prefix of QR Money payments' references (QR Money's `referenceId` is the
/// merchant's free text and need not be unique, so the core's unique reference is
/// paybridge's own).
const REFERENCE_PREFIX: &str = "qr_";

/// The QR Money API.
pub struct QrApi;

/// True when `account_id` is the API key's account.
fn own_account(principal: &Principal, account_id: &str) -> bool {
    principal.credential().settings.qrmoney().is_some_and(|s| s.account_id == account_id)
}

/// The payment request `id` (from the path) of the caller's own account: a merchant's
/// other QR Money accounts' requests, like anything else, are not found.
async fn own_request(gateway: &Gateway, principal: &Principal, id: &str) -> Result<Payment, CoreError> {
    let id = id.trim().parse().map_err(|_| CoreError::NotFound(Entity::Payment))?;
    let payment = gateway.payment_by_id(principal, id).await?;
    if payment.created_by.is_some_and(|by| by != principal.credential().id) {
        return Err(CoreError::NotFound(Entity::Payment));
    }
    Ok(payment)
}

impl CreateResponse {
    fn new(payment: &Payment, recipient: &str, mount: &Mount) -> CreateResponse {
        let mut status = PaymentRequestStatus::new(payment, recipient, mount);
        let challenge_required = status.transaction_status_id == TransactionStatus::Pending.id();
        let redirect_url = if challenge_required {
            let challenge = format!("{}/challenge", mount.checkout_url(&payment.checkout_token));
            // Integrations send the customer to the URL they read from `transactionId`
            // (the public C# client maps that field to its redirect URL); the status
            // endpoint keeps the field's own meaning.
            status.transaction_id = challenge.clone();
            Some(challenge)
        } else {
            super::return_url(payment, None)
        };
        let id = payment.id.to_string();
        CreateResponse { payment_request_id: id.clone(), data: id, status, redirect_url, challenge_required }
    }
}

/// The create's answer for the charged `payment`: approved or awaiting its challenge,
/// 200 with the status; declined, `402` problem details with the decline's code.
fn answer(payment: &Payment, recipient: &str, mount: &Mount) -> Reply<CreateResponse> {
    let response = CreateResponse::new(payment, recipient, mount);
    match (response.status.transaction_status_id, response.status.last_log.code.as_deref()) {
        (id, Some(code)) if id == TransactionStatus::Declined.id() => {
            Reply::Declined(Json(super::errors::declined(&response.status.id, code)))
        }
        _ => Reply::Ok(Json(response)),
    }
}

#[OpenApi]
impl QrApi {
    /// Create a card payment request (host to host): the card is charged at once. An
    /// approved card answers 200 with the request's status. A card the issuer wants to
    /// authenticate answers 200 with `transactionStatusId` 3 and `challengeRequired`,
    /// the challenge page in both `redirectUrl` and `transactionId` (where integrations
    /// read it). A declined card answers `402` with the decline's code and the seed's
    /// message as `title`; the request is stored, its id in `id`.
    #[oai(operation_id = "createPayment", path = "/payments/h2h/:accountId", method = "post", tag = "Tag::Payments")]
    async fn create(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        request: &poem::Request,
        auth: ApiKeyAuth,
        /// Your account id (from the dashboard).
        #[oai(name = "accountId", validator(max_length = 64))]
        account_id: Path<String>,
        body: Json<Wire<CreatePaymentRequest>>,
    ) -> Reply<CreateResponse> {
        let result = async {
            let principal = &auth.0;
            if !own_account(principal, &account_id) {
                return Err(CoreError::NotFound(Entity::Merchant));
            }
            let checked = body.0.into_result()?.check()?;
            // Under an Idempotency-Key the payment's reference follows from it, so a
            // retry after a crash (or a lost answer) finds the first payment instead of
            // charging the card again.
            let reference = match RequestKey::of(request) {
                Some(key) => ChargeReference::Keyed { prefix: REFERENCE_PREFIX, key: key.to_owned() },
                None => ChargeReference::Fresh { prefix: REFERENCE_PREFIX },
            };
            let charge = NewCharge {
                payment: checked.payment,
                reference,
                instrument: PaymentInstrument::Card(checked.card),
                payer_country: Some(checked.country),
                origin_domain: checked.origin_domain,
            };
            state.gateway.charge(principal, charge).await
        };
        match result.await {
            Ok(payment) => answer(&payment, &auth.0.merchant().name, &mount),
            Err(err) => err.into(),
        }
    }

    /// A payment request's status, with its transaction and last attempt.
    #[oai(
        operation_id = "paymentRequestStatus",
        path = "/payment-requests/status/:id",
        method = "get",
        tag = "Tag::Payments"
    )]
    async fn status(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        auth: ApiKeyAuth,
        /// The payment request identifier from the create response.
        #[oai(validator(max_length = 64))]
        id: Path<String>,
    ) -> Reply<PaymentRequestStatus> {
        let result = async {
            let payment = own_request(&state.gateway, &auth.0, &id).await?;
            Ok(PaymentRequestStatus::new(&payment, &auth.0.merchant().name, &mount))
        };
        Reply::from_result(result.await)
    }

    /// Refund a paid payment request in full. The refund is `pending` until reviewed in
    /// paybridge's admin refund queue; asking again answers the same refund (or, once an
    /// admin rejected it, asks again).
    #[oai(operation_id = "refundPayment", path = "/payments/h2h/refund/:id", method = "get", tag = "Tag::Payments")]
    async fn refund(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        /// The payment request identifier.
        #[oai(validator(max_length = 64))]
        id: Path<String>,
    ) -> Reply<RefundResponse> {
        let result = async {
            let payment = own_request(&state.gateway, &auth.0, &id).await?;
            // One full refund per payment request: a repeated GET finds the first, and
            // after an admin rejected it, asks anew (under the next key of the chain).
            let mut key = format!("qrmoney:refund:{}", payment.id);
            let refund = loop {
                let refund = state
                    .gateway
                    .request_refund(&auth.0, &payment.reference, RefundAmount::Rest, None, Some(&key))
                    .await?;
                if refund.status != RefundStatus::Rejected {
                    break refund;
                }
                key = format!("qrmoney:refund:{}:{}", payment.id, refund.id);
            };
            Ok(refund.into())
        };
        Reply::from_result(result.await)
    }
}
