//! A scriptable webhook receiver for tests: it records every delivery and answers from
//! a script (status, delay, body), then 200.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{Body, EndpointExt, Request, Response, Route, Server, handler, http::StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

/// One received delivery.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The request path.
    pub path: String,
    /// Headers by lower-case name.
    pub headers: std::collections::BTreeMap<String, String>,
    /// Raw body.
    pub body: Vec<u8>,
    /// Body as JSON.
    pub json: Value,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Hit {
    /// A header.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or_default()
    }
}

/// How to answer one delivery.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status.
    pub status: u16,
    /// Wait this long first.
    pub delay: Duration,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body_len: usize,
}

impl Answer {
    /// A plain status.
    pub fn status(status: u16) -> Answer {
        Answer { status, delay: Duration::ZERO, headers: Vec::new(), body_len: 0 }
    }
}

#[derive(Default)]
struct State {
    hits: Mutex<Vec<Hit>>,
    script: Mutex<VecDeque<Answer>>,
}

/// The receiver; stops when dropped.
pub struct Hooks {
    /// `http://127.0.0.1:<port>/hooks`.
    pub url: String,
    /// Its port.
    pub port: u16,
    state: Arc<State>,
    _stop: oneshot::Sender<()>,
}

#[handler]
async fn receive(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    let bytes = body.into_vec().await.unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let path = req.uri().path().to_owned();
    state.hits.lock().unwrap().push(Hit { path, headers, body: bytes, json, at: std::time::Instant::now() });
    let answer = state.script.lock().unwrap().pop_front().unwrap_or_else(|| Answer::status(200));
    tokio::time::sleep(answer.delay).await;
    let mut response = Response::builder().status(StatusCode::from_u16(answer.status).unwrap());
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    response.body(vec![b'x'; answer.body_len])
}

impl Hooks {
    /// Listens on a free port (or `port`).
    pub async fn start(port: u16) -> Hooks {
        let acceptor = TcpListener::bind(format!("127.0.0.1:{port}")).into_acceptor().await.expect("bind");
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let state = Arc::new(State::default());
        let app = Route::new().at("/*path", poem::post(receive)).data(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async {
                        let _ = stopped.await;
                    },
                    Some(Duration::from_millis(100)),
                )
                .await;
        });
        Hooks { url: format!("http://127.0.0.1:{port}/hooks"), port, state, _stop: stop }
    }

    /// Answers the next deliveries with these, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().unwrap().extend(answers);
    }

    /// Everything received.
    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    /// Waits until `count` deliveries satisfy `wanted`; returns them.
    pub async fn wait_for(&self, count: usize, within: Duration, wanted: impl Fn(&Hit) -> bool) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let found: Vec<Hit> = self.hits().into_iter().filter(|h| wanted(h)).collect();
            if found.len() >= count || tokio::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A free port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
