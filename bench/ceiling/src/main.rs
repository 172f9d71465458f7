//! The ceiling `bench/run.py` measures paybridge's create against: a bare poem server
//! that does what the framework must do for REBORNPAY's `payment/create` and nothing
//! paybridge does — reads the same JSON body into a struct (metadata as a
//! `serde_json::Value`, the same serde_json features), checks the two credential
//! headers are there, and answers a JSON of the same size and shape, with the same
//! allocator. No database, no validation beyond parsing. `GET /healthz` answers as
//! paybridge's does.
//!
//!     paybridge-bench-ceiling 127.0.0.1:18081

use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Json;
use poem::{EndpointExt, Request, Route, Server, handler, post};
use serde::Deserialize;
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// REBORNPAY's create body, as paybridge's wire struct reads it.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Create {
    invoice_id: String,
    amount: serde_json::Number,
    currency: String,
    customer_name: Option<String>,
    customer_phone: Option<String>,
    customer_email: Option<String>,
    payment_method: Option<String>,
    metadata: Option<Value>,
    success_url: Option<String>,
    fail_url: Option<String>,
    cancel_url: Option<String>,
}

#[handler]
fn create(req: &Request, Json(body): Json<Create>) -> poem::Result<Json<Value>> {
    let headers = req.headers();
    if !headers.contains_key("x-api-key") || !headers.contains_key("x-api-secret") {
        return Err(poem::Error::from_status(StatusCode::UNAUTHORIZED));
    }
    // paybridge's answer: the payment, its checkout URL and times.
    Ok(Json(json!({
        "success": true, "message": "Payment created",
        "data": {
            "invoice_id": body.invoice_id, "amount": body.amount, "currency": body.currency, "status": "pending",
            "payment_method": body.payment_method,
            "checkout_url": "http://127.0.0.1:18080/checkout/0661a0fbd506c3c716b32ab1ecaabf9279491a5756fd10",
            "customer_name": body.customer_name, "customer_phone": body.customer_phone, "metadata": body.metadata,
            "created_at": "2026-12-02T06:45:07.967683+00:00", "updated_at": "2026-12-02T06:45:07.967683+00:00",
            "expires_at": "2026-12-02T07:00:07.967683+00:00"
        }
    })))
}

#[handler]
fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let app = Route::new()
        .at("/rebornpay/api/v1/payment/create", post(create))
        .at("/healthz", poem::get(healthz))
        .map_to_response();
    Server::new(TcpListener::bind(listen)).run(app).await
}
