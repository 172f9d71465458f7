//! The hosted checkout page at `/checkout/{token}`: server-rendered HTML that works
//! without JavaScript. `GET` shows the payment and the method's form (or, once decided,
//! its result); `POST` pays through the core's door (`Gateway::pay_checkout`: the
//! account's policy, then the injected processor) — the same as the sandbox control
//! API — then redirects to the dialect's return URL with its
//! parameters (see `adapters::return_url`), or to this page's result.
//!
//! A card payment awaiting its issuer (QR Money's `4000 0000 0000 0002`) is decided at
//! `/checkout/{token}/challenge`, the sandbox's 3-D Secure challenge: the customer
//! approves it or fails authentication (declined, code 004).
//!
//! A submission carries a CSRF token (an HMAC of the checkout token under the
//! configured `checkout_secret`). A second submission — two tabs, a double click, a
//! replayed POST — charges nothing: the core completes a payment once, and the repeat
//! is sent where the first went. Card numbers and CVVs are reduced to brand and last
//! four digits by the form and never stored, logged or shown again.

pub mod form;
pub mod view;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Html, Path, Query};
use poem::{Body, EndpointExt, IntoResponse, Response, Route, get, handler};
use serde::Deserialize;

use crate::core::ProcessorGateway;
use crate::core::{CheckoutOutcome, CoreError, Merchant, Payment, PaymentStatus};
use crate::crypto::{hmac_sha256_hex, verify_hmac_sha256_hex};
use crate::http::AppState;
use crate::http::body::{BodyLimits, BodyRejection, BoundedBody};
use crate::http::mount::CHECKOUT_PATH;
use form::{CheckoutForm, FieldErrors, METHODS};
use view::{ChallengePage, MissingPage, PayPage, ResultPage, Summary};

/// What the checkout pages and the sandbox API reach: the processor's door to the core,
/// the key of the forms' CSRF tokens, and the body limits.
#[derive(Clone)]
pub struct ProcessorState {
    /// The core, as the checkout and the sandbox processor see it.
    pub gateway: ProcessorGateway,
    /// Key of the checkout forms' CSRF tokens.
    pub checkout_secret: std::sync::Arc<[u8]>,
    /// How large and slow a request body may be (`[http]`).
    pub body_limits: BodyLimits,
}

impl ProcessorState {
    /// The server's state, with the processor's door.
    pub fn new(state: &AppState, gateway: ProcessorGateway) -> ProcessorState {
        ProcessorState {
            gateway,
            checkout_secret: state.checkout_secret.clone(),
            body_limits: state.body_limits.clone(),
        }
    }
}

/// Mounts `GET` and `POST /checkout/{token}` and its `/challenge`.
pub fn mount(route: Route, state: &ProcessorState) -> Route {
    let bounded =
        || BoundedBody::new(state.body_limits.clone(), std::sync::Arc::new(|_: &poem::Request, r| refused(r)));
    route.at(format!("{CHECKOUT_PATH}/:token"), get(show).post(submit).with(bounded()).data(state.clone())).at(
        format!("{CHECKOUT_PATH}/:token/challenge"),
        get(challenge).post(answer_challenge).with(bounded()).data(state.clone()),
    )
}

/// A form the checkout did not read: too large, or too slow.
fn refused(rejection: BodyRejection) -> Response {
    match rejection {
        BodyRejection::TooLarge { .. } => missing(
            StatusCode::PAYLOAD_TOO_LARGE,
            "This form is too large",
            "The payment form sent more than it should. Reload the payment page and try again.",
        ),
        BodyRejection::DuplicateKey { .. } | BodyRejection::InvalidUtf8 { .. } | BodyRejection::Unreadable => missing(
            StatusCode::BAD_REQUEST,
            "This form could not be read",
            "The payment form sent text that is not valid. Reload the payment page and try again.",
        ),
        BodyRejection::Timeout { .. } => missing(
            StatusCode::REQUEST_TIMEOUT,
            "The form did not arrive",
            "Your connection was too slow. Reload the payment page and try again.",
        ),
    }
}

/// The CSRF token of a checkout's form.
fn csrf_for(state: &ProcessorState, token: &str) -> String {
    hmac_sha256_hex(&state.checkout_secret, format!("checkout:{token}").as_bytes())
}

#[derive(Deserialize)]
struct MethodQuery {
    method: Option<String>,
}

fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => Html(body).with_status(status).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "checkout page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn missing(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, MissingPage { title: title.to_owned(), message: message.to_owned() })
}

fn failure(err: &CoreError) -> Response {
    match err {
        CoreError::NotFound(_) => missing(
            StatusCode::NOT_FOUND,
            "No such checkout",
            "This payment link does not exist. Check the link you were given.",
        ),
        _ => missing(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again in a moment."),
    }
}

async fn load(state: &ProcessorState, token: &str) -> Result<(Payment, Merchant), CoreError> {
    let payment = state.gateway.payment_by_checkout_token(token).await?;
    let merchant = state.gateway.merchant(payment.merchant_id).await?;
    Ok((payment, merchant))
}

/// True while the customer can still pay.
fn payable(payment: &Payment, now: chrono::DateTime<chrono::Utc>) -> bool {
    payment.status == PaymentStatus::Created && now <= payment.expires_at
}

/// The method to show: the one the merchant fixed, else the one picked, else bKash.
fn method_for(payment: &Payment, picked: Option<&str>) -> (String, bool) {
    let valid = |m: &str| METHODS.iter().any(|(known, _)| *known == m);
    match payment.method.as_deref().filter(|m| valid(m)) {
        Some(fixed) => (fixed.to_owned(), true),
        None => (picked.filter(|m| valid(m)).unwrap_or("bkash").to_owned(), false),
    }
}

/// `GET /checkout/{token}`.
#[handler]
async fn show(state: Data<&ProcessorState>, Path(token): Path<String>, Query(query): Query<MethodQuery>) -> Response {
    let (payment, merchant) = match load(&state, &token).await {
        Ok(found) => found,
        Err(err) => return failure(&err),
    };
    if !payable(&payment, state.gateway.now()) {
        return result(&state, &payment, &merchant).await;
    }
    let (method, fixed) = method_for(&payment, query.method.as_deref());
    let summary = Summary::new(&payment, &merchant, state.gateway.now());
    let form = CheckoutForm::default();
    html(
        StatusCode::OK,
        PayPage::new(summary, &token, csrf_for(&state, &token), &method, fixed, &form, &FieldErrors::new()),
    )
}

/// `POST /checkout/{token}`: pay or cancel.
#[handler]
async fn submit(state: Data<&ProcessorState>, Path(token): Path<String>, body: Body) -> Response {
    let (payment, merchant) = match load(&state, &token).await {
        Ok(found) => found,
        Err(err) => return failure(&err),
    };
    let form: CheckoutForm = match verified_form(&state, &token, body).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    if !payable(&payment, state.gateway.now()) {
        // A repeat of a submission that already decided the payment: go where it went.
        return redirect(&state, &token, &payment).await;
    }
    if form.action == "cancel" {
        return finish(&state, &token, state.gateway.complete_checkout(&token, CheckoutOutcome::Cancelled).await).await;
    }
    let (method, fixed) = method_for(&payment, form.method.as_deref());
    match form.instrument(&method) {
        Ok(instrument) => {
            let country = form.country.as_deref().map(str::trim).filter(|c| !c.is_empty() && method == "card");
            finish(&state, &token, state.gateway.pay_checkout(&token, instrument, country).await).await
        }
        Err(errors) => {
            let summary = Summary::new(&payment, &merchant, state.gateway.now());
            let page = PayPage::new(summary, &token, csrf_for(&state, &token), &method, fixed, &form, &errors);
            html(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

/// True while a QR Money card payment waits for its issuer: the challenge can decide
/// it. (Other dialects' pending payments are decided through the sandbox API.)
fn awaiting_challenge(payment: &Payment) -> bool {
    payment.namespace == crate::core::Dialect::Qrmoney
        && payment.status == PaymentStatus::AwaitingProcessor
        && payment.method.as_deref() == Some("card")
}

/// `GET /checkout/{token}/challenge`.
#[handler]
async fn challenge(state: Data<&ProcessorState>, Path(token): Path<String>) -> Response {
    let (payment, merchant) = match load(&state, &token).await {
        Ok(found) => found,
        Err(err) => return failure(&err),
    };
    if !awaiting_challenge(&payment) {
        return result(&state, &payment, &merchant).await;
    }
    let card = payment.instrument.as_ref().map_or_else(String::new, |i| {
        format!("{} •••• {}", i.brand.as_deref().unwrap_or("card"), i.last4.as_deref().unwrap_or(""))
    });
    let summary = Summary::new(&payment, &merchant, state.gateway.now());
    html(StatusCode::OK, ChallengePage { summary, csrf: csrf_for(&state, &token), token, card })
}

#[derive(Deserialize, Default)]
struct ChallengeForm {
    #[serde(default)]
    action: String,
}

/// The submitted form, once its CSRF token showed it came from this checkout's page;
/// otherwise the page that refuses it.
async fn verified_form<T: serde::de::DeserializeOwned + Default>(
    state: &ProcessorState,
    token: &str,
    body: Body,
) -> Result<T, Response> {
    #[derive(Deserialize, Default)]
    struct Csrf {
        #[serde(default)]
        csrf: String,
    }
    let bytes = crate::http::body::read(body, &state.body_limits).await.map_err(refused)?;
    // Read as a form whatever its content type: held to a form's rules whatever it says.
    crate::http::body::check_form(&bytes).map_err(refused)?;
    let Csrf { csrf } = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    if !verify_hmac_sha256_hex(&state.checkout_secret, format!("checkout:{token}").as_bytes(), &csrf) {
        return Err(missing(StatusCode::FORBIDDEN, "This form has expired", "Reload the payment page and try again."));
    }
    Ok(serde_urlencoded::from_bytes(&bytes).unwrap_or_default())
}

/// `POST /checkout/{token}/challenge`: approve, or fail authentication (the processor
/// declines, `authentication_failed`: QR Money 004).
#[handler]
async fn answer_challenge(state: Data<&ProcessorState>, Path(token): Path<String>, body: Body) -> Response {
    let payment = match state.gateway.payment_by_checkout_token(&token).await {
        Ok(payment) => payment,
        Err(err) => return failure(&err),
    };
    let form: ChallengeForm = match verified_form(&state, &token, body).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    if !awaiting_challenge(&payment) {
        return redirect(&state, &token, &payment).await;
    }
    let passed = match form.action.as_str() {
        "approve" => true,
        "fail" => false,
        _ => return missing(StatusCode::BAD_REQUEST, "Unknown answer", "Choose approve or fail."),
    };
    finish(&state, &token, state.gateway.complete_authentication(&token, passed).await).await
}

/// Sends the customer on once the core decided the checkout; a repeat of a submission
/// that already decided the payment goes where the first went.
async fn finish(state: &ProcessorState, token: &str, decided: Result<Payment, CoreError>) -> Response {
    match decided {
        Ok(done) => redirect(state, token, &done).await,
        Err(CoreError::PaymentAlreadyCompleted | CoreError::PaymentExpired) => {
            match state.gateway.payment_by_checkout_token(token).await {
                Ok(now) => redirect(state, token, &now).await,
                Err(err) => failure(&err),
            }
        }
        Err(err) => failure(&err),
    }
}

/// Where the dialect sends the customer for this payment, if it says.
pub(crate) async fn return_url(state: &ProcessorState, payment: &Payment) -> Option<String> {
    let credential = match payment.created_by {
        Some(id) => state.gateway.credential(id).await.ok(),
        None => state.gateway.dialect_credential(payment.merchant_id, payment.namespace).await.ok().flatten(),
    };
    crate::adapters::return_url(payment, credential.as_ref())
}

/// 303 to the dialect's return URL, or to this page (which shows the result).
async fn redirect(state: &ProcessorState, token: &str, payment: &Payment) -> Response {
    let target = match return_url(state, payment).await {
        Some(url) => url,
        None => format!("{CHECKOUT_PATH}/{token}"),
    };
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, target).finish()
}

/// The page of a payment that can no longer be paid.
async fn result(state: &ProcessorState, payment: &Payment, merchant: &Merchant) -> Response {
    let summary = Summary::new(payment, merchant, state.gateway.now());
    let attempt = payment.last_attempt.as_ref().map(|a| {
        let code = if a.code.chars().all(|c| c.is_ascii_digit()) { format!(" ({})", a.code) } else { String::new() };
        format!("{}{code}", a.message)
    });
    let (title, message, tone) = match payment.status {
        PaymentStatus::Created => {
            ("This payment link has expired", "Ask the merchant for a new one.".to_owned(), "bad")
        }
        PaymentStatus::AwaitingProcessor => (
            "Your payment is being processed",
            attempt.unwrap_or_else(|| "The payment provider has not decided yet.".into()),
            "wait",
        ),
        PaymentStatus::Processing
        | PaymentStatus::Succeeded
        | PaymentStatus::PartiallyRefunded
        | PaymentStatus::Refunded => ("Payment received", "Thank you — the merchant has been told.".to_owned(), "ok"),
        PaymentStatus::Failed => {
            ("Payment failed", attempt.unwrap_or_else(|| "The payment was declined.".into()), "bad")
        }
        PaymentStatus::Cancelled => {
            ("Payment cancelled", "You cancelled this payment; nothing was charged.".to_owned(), "bad")
        }
        PaymentStatus::Expired => {
            ("This payment link has expired", "Ask the merchant for a new one.".to_owned(), "bad")
        }
    };
    let return_url = return_url(state, payment).await;
    html(StatusCode::OK, ResultPage { summary, title: title.to_owned(), message, tone, return_url })
}
