//! The sandbox control API at `/sandbox/v1`: complete, fail, cancel or expire a
//! payment by its checkout token, as the hosted page would. The token (the last path
//! segment of a checkout URL) is the capability; no other credential is needed.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi, OpenApiService, Tags};
use serde::Deserialize;

use crate::checkout::ProcessorState;
use crate::core::instrument::{Card, Wallet};
use crate::core::{CoreError, Payment, PaymentInstrument};
use crate::http::openapi::ApiDoc;
use crate::http::problem::Reply;
use crate::http::wire::Wire;

#[derive(Tags)]
enum Tag {
    /// Drive a payment through its hosted checkout.
    Checkout,
    /// The test clock (when `test_clock` is on).
    Clock,
}

/// How the checkout should end.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The customer pays: the processor approves, unless a magic test card or wallet
    /// number asks for pending or a decline.
    Success,
    /// The processor declines.
    Failed,
    /// The customer cancels.
    Cancelled,
    /// The checkout runs out of time.
    Expired,
}

/// A test card. Only its brand and last four digits are kept.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CardInput {
    /// Card number: 12 to 19 digits (spaces and dashes between them are ignored),
    /// Luhn-valid.
    #[oai(validator(max_length = 64, pattern = "^[ -]*([0-9][ -]*){12,19}$"))]
    pub number: String,
    /// `MM/YY`, not in the past.
    #[oai(validator(max_length = 32))]
    pub expiry: String,
    /// 3 or 4 digits.
    #[oai(validator(max_length = 16, pattern = "^[0-9]{3,4}$"))]
    pub cvv: String,
    /// Card holder.
    #[oai(validator(max_length = 100))]
    pub holder_name: Option<String>,
}

/// A test wallet account.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct WalletInput {
    /// Wallet phone number: 6 to 15 digits, with spaces, `+` and `-` between them.
    #[oai(validator(max_length = 30, pattern = "^[ +-]*([0-9][ +-]*){6,15}$"))]
    pub phone: String,
    /// PIN or OTP (not kept).
    #[oai(validator(max_length = 32))]
    pub pin: Option<String>,
}

/// `POST /checkout/{token}/complete`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CompleteRequest {
    /// How the checkout ends.
    pub outcome: Outcome,
    /// Pay by card.
    pub card: Option<CardInput>,
    /// Pay by wallet.
    pub wallet: Option<WalletInput>,
}

/// The payment after the checkout.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CheckoutState {
    /// Internal payment id.
    pub payment_id: i64,
    /// The dialect the payment was created through.
    pub dialect: String,
    /// The merchant's reference (invoice id, order id…).
    pub merchant_reference: String,
    /// Canonical status: `created`, `awaiting_processor` (paid, the processor has not
    /// decided: a pending test card, a 3-D Secure challenge — `success` decides it),
    /// `processing` (approved, awaiting the merchant's confirmation), `succeeded`,
    /// `failed`, `cancelled`, `expired`, `partially_refunded`, `refunded`.
    pub status: String,
    /// The processor's transaction id (e.g. `BKS123456789`).
    pub transaction_id: Option<String>,
    /// Payment method.
    pub method: Option<String>,
    /// Amount, decimal string of major units.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// Decline code and message, for failed payments.
    pub last_attempt: Option<AttemptBody>,
    /// Where the hosted checkout sends the customer now: the dialect's return URL with
    /// the parameters it adds (REBORNPAY's `status`, PayRequest's MD5 `response` and
    /// `return_id`…); absent while undecided or when the merchant gave none.
    pub return_url: Option<String>,
}

/// The last attempt.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AttemptBody {
    /// Result code: the processor's (the sandbox's `NNN`), or the reason's name when the
    /// account's policy or paybridge declined.
    pub code: String,
    /// Message.
    pub message: String,
    /// A decline's reason (`insufficient_funds`, `daily_count_exceeded`…).
    pub reason: Option<String>,
    /// Who declined: `policy` (the account's own limits, before any processor) or
    /// `processor`.
    pub declined_by: Option<String>,
}

impl From<Payment> for CheckoutState {
    fn from(p: Payment) -> Self {
        CheckoutState {
            payment_id: p.id,
            dialect: p.namespace.as_str().to_owned(),
            merchant_reference: p.reference,
            status: p.status.as_str().to_owned(),
            transaction_id: p.processor_txn_id,
            method: p.method,
            amount: p.amount.to_major().to_string(),
            currency: p.amount.currency().code().to_owned(),
            last_attempt: p.last_attempt.map(|a| AttemptBody {
                reason: a.reason.map(|r| r.as_str().to_owned()),
                declined_by: a.declined_by.map(|by| by.as_str().to_owned()),
                code: a.code,
                message: a.message,
            }),
            return_url: None,
        }
    }
}

/// The payment's state with the return URL the checkout would redirect to.
async fn state_of(state: &ProcessorState, payment: Payment) -> CheckoutState {
    let return_url = crate::checkout::return_url(state, &payment).await;
    CheckoutState { return_url, ..payment.into() }
}

/// `POST /clock/advance`.
#[derive(Object, Deserialize, Debug)]
pub struct AdvanceRequest {
    /// How far to move the clock forward, in seconds (1 to 400 days' worth).
    #[oai(validator(minimum(value = "1"), maximum(value = "34560000")))]
    pub seconds: u64,
}

/// The test clock.
#[derive(Object, Debug)]
pub struct ClockState {
    /// The time the core reads now (RFC 3339, UTC).
    pub now: chrono::DateTime<chrono::Utc>,
    /// How far ahead of the real time it is, in seconds.
    pub offset_seconds: f64,
    /// Whether it may be advanced (`test_clock` in the configuration).
    pub controllable: bool,
}

fn clock_state(gateway: &crate::core::ProcessorGateway) -> ClockState {
    let clock = gateway.clock();
    ClockState { now: clock.now(), offset_seconds: clock.offset().as_secs_f64(), controllable: clock.controllable() }
}

/// The sandbox control API.
pub struct SandboxApi;

#[OpenApi]
impl SandboxApi {
    /// The payment behind a checkout token.
    #[oai(operation_id = "showCheckout", path = "/checkout/:token", method = "get", tag = "Tag::Checkout")]
    async fn show(
        &self,
        state: Data<&ProcessorState>,
        #[oai(validator(max_length = 64))] token: Path<String>,
    ) -> Reply<CheckoutState> {
        let result = async { Ok(state_of(&state, state.gateway.payment_by_checkout_token(&token).await?).await) };
        Reply::ok(result.await)
    }

    /// Complete a checkout with the outcome you choose; answers with the payment's
    /// canonical state and the processor transaction id.
    #[oai(
        operation_id = "completeCheckout",
        path = "/checkout/:token/complete",
        method = "post",
        tag = "Tag::Checkout"
    )]
    async fn complete(
        &self,
        state: Data<&ProcessorState>,
        #[oai(validator(max_length = 64))] token: Path<String>,
        body: Json<Wire<CompleteRequest>>,
    ) -> Reply<CheckoutState> {
        let result = async {
            let req = body.0.into_result()?;
            let instrument = match (req.card, req.wallet) {
                (Some(_), Some(_)) => return Err(CoreError::invalid("card", "give a card or a wallet, not both")),
                (Some(c), None) => PaymentInstrument::Card(
                    Card::parse(&c.number, &c.expiry, &c.cvv, "card.").map_err(CoreError::Validation)?,
                ),
                (None, Some(w)) => {
                    PaymentInstrument::Wallet(Wallet::parse(&w.phone, "wallet.phone").map_err(CoreError::Validation)?)
                }
                (None, None) => PaymentInstrument::None,
            };
            let payment = state.gateway.payment_by_checkout_token(&token).await?;
            let decided = super::drive(&state.gateway, &payment, req.outcome, instrument, None).await?;
            Ok(state_of(&state, decided).await)
        };
        Reply::ok(result.await)
    }

    /// The test clock: the time the core reads and how far it was moved.
    #[oai(operation_id = "clock", path = "/clock", method = "get", tag = "Tag::Clock")]
    async fn clock(&self, state: Data<&ProcessorState>) -> Reply<ClockState> {
        Reply::ok(Ok(clock_state(&state.gateway)))
    }

    /// Move the test clock forward: what waits for that time happens at once — unpaid
    /// payments expire (and notify), webhook retries come due and past their window
    /// die, idempotency keys past 24 h are forgotten, rate-limit windows refill, and a
    /// day's or month's account limits start again. The clock never goes back; it
    /// belongs to this instance. Answers 403 `test_clock_off` unless the configuration
    /// turns `test_clock` on (the built-in demo configuration does).
    #[oai(operation_id = "advanceClock", path = "/clock/advance", method = "post", tag = "Tag::Clock")]
    async fn advance(&self, state: Data<&ProcessorState>, body: Json<Wire<AdvanceRequest>>) -> Reply<ClockState> {
        let result = async {
            let req = body.0.into_result()?;
            state.gateway.advance_clock(std::time::Duration::from_secs(req.seconds)).await?;
            Ok(clock_state(&state.gateway))
        };
        Reply::ok(result.await)
    }
}

fn service() -> OpenApiService<SandboxApi, ()> {
    OpenApiService::new(SandboxApi, "paybridge sandbox control API", env!("CARGO_PKG_VERSION"))
        .description(
            "Drive sandbox payments to any outcome without a browser. `{token}` is the last path \
             segment of the checkout URL a dialect returned. Completing a payment that is no longer \
             waiting answers 409 (`payment_already_completed`); an expired one 410.",
        )
        .server("/sandbox")
        .url_prefix("/v1")
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    let card = serde_json::json!({
        "outcome": "success",
        "card": { "number": "4242424242424242", "expiry": "12/40", "cvv": "123", "holder_name": "John Doe" }
    });
    let examples = [
        ("post", "/v1/checkout/{token}/complete", card),
        ("post", "/v1/clock/advance", serde_json::json!({ "seconds": 3600 })),
    ];
    ApiDoc::from_service("sandbox", &service()).request_examples(&examples)
}

/// Mounts the API at `/sandbox/v1` and its docs at `/sandbox/docs`.
pub fn mount(route: poem::Route, state: &ProcessorState) -> poem::Route {
    use poem::EndpointExt;
    let bounded = crate::http::problem::bounded_body(&state.body_limits);
    doc().mount(route.nest("/sandbox/v1", service().with(bounded).data(state.clone())), "/sandbox")
}
