//! The runner's webhook receiver: an HTTP server on a loopback address that records
//! every delivery and answers each event with the status a scenario chose (to make the
//! sender retry).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Body, EndpointExt, Request, Response, Route, Server, handler, http::StatusCode, web::Data};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

use crate::signing::Headers;

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Request path.
    pub path: String,
    /// Headers by lower-case name.
    pub headers: Headers,
    /// The raw body.
    pub body: Vec<u8>,
    /// The body as JSON (a form body becomes an object of its fields).
    pub json: Value,
    /// The `event` field.
    pub event: Option<String>,
    /// The status it was answered with.
    pub answered: u16,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    deliveries: Mutex<Vec<(Delivery, bool)>>,
    responses: Mutex<HashMap<String, u16>>,
    arrived: Notify,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    _stop: oneshot::Sender<()>,
}

#[handler]
async fn receive(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    let bytes = body.into_vec().await.unwrap_or_default();
    let headers: Headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let json = serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|_| {
        let fields: BTreeMap<String, String> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        serde_json::to_value(fields).unwrap_or(Value::Null)
    });
    let event = json.get("event").and_then(Value::as_str).map(str::to_owned);
    let answered =
        event.as_ref().and_then(|e| state.responses.lock().ok().and_then(|r| r.get(e).copied())).unwrap_or(200);
    let delivery =
        Delivery { path: req.uri().path().to_owned(), headers, body: bytes, json, event, answered, at: Instant::now() };
    if let Ok(mut all) = state.deliveries.lock() {
        all.push((delivery, false));
    }
    state.arrived.notify_waiters();
    Response::builder().status(StatusCode::from_u16(answered).unwrap_or(StatusCode::OK)).body("")
}

impl Receiver {
    /// Starts listening on `listen` (`127.0.0.1:9000`, or port 0 for any).
    pub async fn start(listen: &str) -> anyhow::Result<Receiver> {
        let acceptor = TcpListener::bind(listen.to_owned()).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("receiver has no address"))?;
        let state = Arc::new(State::default());
        let app = Route::new().at("/*path", poem::post(receive)).at("/", poem::post(receive)).data(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async {
                        let _ = stopped.await;
                    },
                    Some(Duration::from_secs(1)),
                )
                .await;
        });
        Ok(Receiver { addr, state, _stop: stop })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers deliveries of `event` with `status` from now on.
    pub fn respond_to(&self, event: &str, status: u16) {
        if let Ok(mut r) = self.state.responses.lock() {
            r.insert(event.to_owned(), status);
        }
    }

    /// Waits up to `within` for a delivery not yet taken that satisfies `wanted`, and
    /// takes it.
    pub async fn take(&self, within: Duration, wanted: impl Fn(&Delivery) -> bool) -> Option<Delivery> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.state.arrived.notified();
            if let Ok(mut all) = self.state.deliveries.lock()
                && let Some((delivery, taken)) = all.iter_mut().find(|(d, taken)| !*taken && wanted(d))
            {
                *taken = true;
                return Some(delivery.clone());
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }

    /// Everything received so far (for reports).
    pub fn received(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().map(|all| all.iter().map(|(d, _)| d.clone()).collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deliveries_are_recorded_and_answered_as_asked() {
        let receiver = Receiver::start("127.0.0.1:0").await.unwrap();
        receiver.respond_to("boom", 500);
        let client = reqwest::Client::new();
        let url = format!("http://{}/hooks", receiver.addr());
        let first = client.post(&url).body(r#"{"event":"boom"}"#).send().await.unwrap();
        assert_eq!(first.status().as_u16(), 500);
        let form = client.post(&url).body("event=paid&name=A%20B").send().await.unwrap();
        assert_eq!(form.status().as_u16(), 200);
        let got = receiver.take(Duration::from_secs(1), |d| d.event.as_deref() == Some("boom")).await.unwrap();
        assert_eq!((got.path.as_str(), got.answered), ("/hooks", 500));
        assert!(
            receiver.take(Duration::from_millis(50), |d| d.event.as_deref() == Some("boom")).await.is_none(),
            "taken once"
        );
        let form = receiver.take(Duration::from_secs(1), |d| d.event.as_deref() == Some("paid")).await.unwrap();
        assert_eq!(form.json["name"], "A B");
    }
}
