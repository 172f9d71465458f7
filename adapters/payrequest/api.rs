//! PayRequest V1's two operations. The token travels in the body, so each operation
//! authenticates itself; every answer, error or not, is HTTP 200 as the provider's
//! was (but for a rate-limited request: 429 with `Retry-After`).

use poem::IntoResponse;
use poem::web::Data;
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiRequest, ApiResponse, OpenApi, Tags};

use super::types::*;
use crate::core::{CoreError, Dialect, Principal};
use crate::http::AppState;
use crate::http::body::BodyRejection;
use crate::http::mount::Mount;

#[derive(Tags)]
enum Tag {
    /// Payment requests.
    Payments,
}

/// `create`'s body: JSON or a form, the same fields.
#[derive(ApiRequest)]
enum CreateBody {
    /// A JSON object.
    Json(Json<CreateRequest>),
    /// `application/x-www-form-urlencoded`.
    Form(Form<CreateRequest>),
}

/// `get`'s body: JSON or a form.
#[derive(ApiRequest)]
enum GetBody {
    /// A JSON object.
    Json(Json<GetRequest>),
    /// `application/x-www-form-urlencoded`.
    Form(Form<GetRequest>),
}

/// `create`'s answer.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "create_unreadable")]
enum CreateReply {
    /// `{"status": "success", "url"}`, or `{"status": "error", "error"}` with one of
    /// the documented codes.
    #[oai(status = 200)]
    Ok(Json<CreateResponse>),
    /// Too many requests (`error` `unknown`); retry after `Retry-After` seconds.
    #[oai(status = 429)]
    Limited(Json<CreateResponse>, #[oai(header = "Retry-After")] u64),
    /// The body is larger than `http.max_body_bytes` (1 MiB by default): `error`
    /// `unknown`, `realerror` says so; nothing past the cap was read.
    #[oai(status = 413)]
    TooLarge(Json<CreateResponse>),
    /// The body did not arrive within `http.body_read_timeout_ms`: `error` `unknown`.
    #[oai(status = 408)]
    TooSlow(Json<CreateResponse>),
}

/// `get`'s answer.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "get_unreadable")]
enum GetReply {
    /// `{"status": "paid" | "failed" | "pending"}`, or `{"status": "error", "error"}`.
    #[oai(status = 200)]
    Ok(Json<GetResponse>),
    /// Too many requests (`error` `unknown`); retry after `Retry-After` seconds.
    #[oai(status = 429)]
    Limited(Json<GetResponse>, #[oai(header = "Retry-After")] u64),
    /// The body is larger than `http.max_body_bytes` (1 MiB by default): `error`
    /// `unknown`, `realerror` says so.
    #[oai(status = 413)]
    TooLarge(Json<GetResponse>),
    /// The body did not arrive within `http.body_read_timeout_ms`: `error` `unknown`.
    #[oai(status = 408)]
    TooSlow(Json<GetResponse>),
}

/// A body the API did not take (too large or too slow: 413 or 408; a repeated JSON key
/// or a form that is not UTF-8: `unknown` at 200, as every unreadable body), in the
/// answer of the operation it was sent to.
pub(super) fn refused(req: &poem::Request, rejection: BodyRejection) -> poem::Response {
    let err = || PrError::unknown(rejection.to_string());
    if req.uri().path().contains("get") {
        let body = Json(get_error(err()));
        match rejection {
            BodyRejection::TooLarge { .. } => GetReply::TooLarge(body),
            BodyRejection::Timeout { .. } => GetReply::TooSlow(body),
            BodyRejection::Unreadable | BodyRejection::DuplicateKey { .. } | BodyRejection::InvalidUtf8 { .. } => {
                GetReply::Ok(body)
            }
        }
        .into_response()
    } else {
        let body = Json(create_error(err()));
        match rejection {
            BodyRejection::TooLarge { .. } => CreateReply::TooLarge(body),
            BodyRejection::Timeout { .. } => CreateReply::TooSlow(body),
            BodyRejection::Unreadable | BodyRejection::DuplicateKey { .. } | BodyRejection::InvalidUtf8 { .. } => {
                CreateReply::Ok(body)
            }
        }
        .into_response()
    }
}

fn create_error(err: PrError) -> CreateResponse {
    CreateResponse {
        status: "error".into(),
        url: None,
        error: Some(err.code.into()),
        realerror: err.realerror,
        id: None,
    }
}

fn get_error(err: PrError) -> GetResponse {
    GetResponse { status: "error".into(), error: Some(err.code.into()), realerror: err.realerror }
}

fn create_unreadable(err: poem::Error) -> CreateReply {
    CreateReply::Ok(Json(create_error(PrError::unknown(format!("the body could not be read: {err}")))))
}

fn get_unreadable(err: poem::Error) -> GetReply {
    GetReply::Ok(Json(get_error(PrError::unknown(format!("the body could not be read: {err}")))))
}

/// Why a request was refused, and when to retry if it was rate limited.
struct Refusal(PrError, Option<u64>);

impl From<PrError> for Refusal {
    fn from(err: PrError) -> Refusal {
        Refusal(err, None)
    }
}

impl From<CoreError> for Refusal {
    fn from(err: CoreError) -> Refusal {
        match err {
            CoreError::MissingCredentials => PrError::code("notoken").into(),
            CoreError::InvalidCredentials | CoreError::MerchantNotApproved => PrError::code("novalidtoken").into(),
            CoreError::NotFound(_) => PrError::code("nosuchlink").into(),
            CoreError::RateLimited { retry_after_secs } => Refusal(
                PrError::unknown(format!("too many requests; retry after {retry_after_secs} s")),
                Some(retry_after_secs),
            ),
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error in payrequest request");
                PrError::unknown("internal error").into()
            }
            other => PrError::unknown(other.public_message()).into(),
        }
    }
}

/// The token's principal, admitted, with a processor it can use.
async fn admitted(state: &AppState, request: &poem::Request, token: Option<&str>) -> Result<Principal, Refusal> {
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or(PrError::code("notoken"))?;
    if token.len() > 255 {
        return Err(PrError::code("novalidtoken").into());
    }
    let caller = state.gateway.authenticate(Dialect::Payrequest, token, None).await?;
    let principal = state.gateway.admit(&caller, state.client_ip(request)).await?;
    let psp = principal.credential().settings.payrequest().map(|s| s.psp.as_str());
    match psp.unwrap_or("none") {
        "sandbox" => Ok(principal),
        "" | "none" => Err(PrError::code("nointegration").into()),
        _ => Err(PrError::code("pspnotsupported").into()),
    }
}

/// How the URL `create` answers begins, on the mount the request came through: a
/// shareable payment link, or (`direct`) the checkout; the checkout token follows.
fn link_prefix(direct: bool, mount: &Mount) -> String {
    if direct { mount.checkout_url("") } else { mount.url(&super::link_path("")) }
}

/// The PayRequest V1 API.
pub struct PayRequestApi;

#[OpenApi]
impl PayRequestApi {
    /// Create a payment request; answers the payment link (`type` link, the default) or
    /// the URL to redirect the customer to (`type` direct).
    #[oai(operation_id = "createPayment", path = "/api/create/", method = "post", tag = "Tag::Payments")]
    async fn create(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        request: &poem::Request,
        body: CreateBody,
    ) -> CreateReply {
        create_reply(&state, &mount, request, body).await
    }

    /// The same create at the path of PayRequest's later API, where its WHMCS module
    /// posts (`{base}/create`, a form with `type=paymentlink`, `currency`, `callback`, …).
    #[oai(operation_id = "createPaymentAtRoot", path = "/create", method = "post", tag = "Tag::Payments")]
    async fn create_at_api_root(
        &self,
        state: Data<&AppState>,
        mount: Data<&Mount>,
        request: &poem::Request,
        body: CreateBody,
    ) -> CreateReply {
        create_reply(&state, &mount, request, body).await
    }

    /// Retrieve a payment request's status: `paid`, `failed` or `pending`.
    #[oai(operation_id = "getPayment", path = "/api/get/", method = "post", tag = "Tag::Payments")]
    async fn get(&self, state: Data<&AppState>, request: &poem::Request, body: GetBody) -> GetReply {
        let req = match body {
            GetBody::Json(Json(req)) | GetBody::Form(Form(req)) => req,
        };
        let result = async {
            let principal = admitted(&state, request, req.token.as_deref()).await?;
            let id = text(&req.id).ok_or(PrError::code("noid"))?;
            let payment = state.gateway.payment_by_reference(&principal, &id).await?;
            Ok::<_, Refusal>(GetResponse { status: status_of(payment.status).into(), error: None, realerror: None })
        };
        match result.await {
            Ok(answer) => GetReply::Ok(Json(answer)),
            Err(Refusal(err, Some(secs))) => GetReply::Limited(Json(get_error(err)), secs),
            Err(Refusal(err, None)) => GetReply::Ok(Json(get_error(err))),
        }
    }
}

async fn create_reply(state: &AppState, mount: &Mount, request: &poem::Request, body: CreateBody) -> CreateReply {
    let req = match body {
        CreateBody::Json(Json(req)) | CreateBody::Form(Form(req)) => req,
    };
    match create(state, mount, request, req).await {
        Ok(answer) => CreateReply::Ok(Json(answer)),
        Err(Refusal(err, Some(secs))) => CreateReply::Limited(Json(create_error(err)), secs),
        Err(Refusal(err, None)) => CreateReply::Ok(Json(create_error(err))),
    }
}

async fn create(
    state: &AppState,
    mount: &Mount,
    request: &poem::Request,
    req: CreateRequest,
) -> Result<CreateResponse, Refusal> {
    let principal = admitted(state, request, req.token.as_deref()).await?;
    let direct = match req.kind.as_deref().map(str::trim) {
        None | Some("") | Some("link") | Some("paymentlink") => false,
        Some("direct") => true,
        Some(_) => return Err(PrError::unknown("type must be link, paymentlink or direct").into()),
    };
    let currency = currency_of(req.currency.as_deref(), &principal.merchant().default_currency)?;
    let given = text(&req.id);
    let generated = given.is_none();
    let prefix = link_prefix(direct, mount);
    let payment = match given {
        // An id of ours that happens to be taken is drawn again.
        None => {
            let command = req.into_command(new_id(), currency, &prefix)?;
            state.gateway.create_payment_fresh(&principal, command, new_id).await?
        }
        Some(id) => {
            let command = req.into_command(id.clone(), currency, &prefix)?;
            match state.gateway.create_payment(&principal, command.clone()).await {
                Ok(payment) => payment,
                // The same request again (a retry) gets the same link; another one with
                // a used id is refused.
                Err(CoreError::DuplicateReference) => {
                    let earlier = state.gateway.payment_by_reference(&principal, &id).await?;
                    let same = earlier.amount == command.amount
                        && earlier.description == command.description
                        && earlier.urls == command.urls;
                    if !same {
                        let message = format!("id {id} is already used by another payment request");
                        return Err(PrError::unknown(message).into());
                    }
                    earlier
                }
                Err(other) => return Err(other.into()),
            }
        }
    };
    Ok(CreateResponse {
        status: "success".into(),
        url: Some(format!("{prefix}{}", payment.checkout_token)),
        error: None,
        realerror: None,
        id: generated.then_some(payment.reference),
    })
}
