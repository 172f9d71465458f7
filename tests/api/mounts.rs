//! Every dialect at a root: its own port and a host named in `[dialects.<name>] hosts`
//! serve the same API as `/<dialect>` on the main listener — same auth, limits and
//! idempotency — and every link a mount hands out points back at that mount.

use std::net::SocketAddr;

use paybridge::adapters::DIALECTS;
use paybridge::config::DialectMounts;
use paybridge::startup::Application;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, KEY, SECRET, TestApp, spawn_app_with, test_config};
use crate::{db_test, limits_test};

const QR_CHALLENGE_CARD: &str = "4000000000000002";

/// One of a dialect's mounts: the root its provider's paths start under, and the
/// client that reaches it (host mounts resolve their name to the main listener).
struct At {
    root: String,
    origin: String,
    client: Client,
    docs: String,
}

fn client_resolving(hosts: &[(String, SocketAddr)]) -> Client {
    let mut builder = Client::builder().redirect(reqwest::redirect::Policy::none());
    for (host, addr) in hosts {
        builder = builder.resolve(host, *addr);
    }
    builder.build().expect("client")
}

fn host_of(dialect: &str) -> String {
    format!("{dialect}.pay.example")
}

fn main_addr(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().expect("the main listener's address")
}

/// `dialect`'s three mounts on `app` (which names `<dialect>.pay.example` as a host).
fn mounts(app: &TestApp, dialect: &str) -> Vec<At> {
    let plain = client_resolving(&[]);
    let port = main_addr(app).port();
    let host_origin = format!("http://{}:{port}", host_of(dialect));
    vec![
        At {
            root: format!("{}/{dialect}", app.base),
            origin: app.base.clone(),
            client: plain.clone(),
            docs: format!("{}/{dialect}/docs", app.base),
        },
        At {
            root: app.root_url(dialect),
            origin: app.root_url(dialect),
            client: plain,
            docs: format!("{}/_paybridge/docs", app.root_url(dialect)),
        },
        At {
            root: host_origin.clone(),
            origin: host_origin.clone(),
            client: client_resolving(&[(host_of(dialect), main_addr(app))]),
            docs: format!("{host_origin}/_paybridge/docs"),
        },
    ]
}

async fn every_host(backend: Backend) -> TestApp {
    spawn_app_with(backend, |c| {
        for entry in DIALECTS {
            c.dialects.insert(
                entry.name().into(),
                DialectMounts { hosts: vec![host_of(entry.name())], ..Default::default() },
            );
        }
    })
    .await
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request is sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A GET of `url` on the mount answers 200 (following a relative redirect once, as
/// PayRequest's links send the customer on to the checkout on the same origin).
async fn opens(at: &At, url: &str) {
    let response = at.client.get(url).send().await.expect("page");
    let response = if response.status() == StatusCode::SEE_OTHER {
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with('/'), "a relative redirect keeps the origin: {location}");
        at.client.get(format!("{}{location}", at.origin)).send().await.expect("page")
    } else {
        response
    };
    assert_eq!(response.status(), 200, "{url}");
    assert!(response.text().await.unwrap().contains("<html"), "{url} is a page");
}

fn on_origin(url: &Value, at: &At, path: &str) -> String {
    let url = url.as_str().unwrap_or_else(|| panic!("a URL, not {url}"));
    assert!(url.starts_with(&format!("{}{path}", at.origin)), "{url} is not under {}{path}", at.origin);
    url.to_owned()
}

async fn every_link_points_at_the_mount_it_was_handed_out_by(backend: Backend) {
    let app = every_host(backend).await;
    for (i, at) in mounts(&app, "rebornpay").iter().enumerate() {
        let body = json!({ "invoice_id": format!("MNT-{i}"), "amount": 10, "currency": "BDT" });
        let request = at.client.post(format!("{}/api/v1/payment/create", at.root)).json(&body);
        let (status, body) = send(request.header("X-Api-Key", KEY).header("X-Api-Secret", SECRET)).await;
        assert_eq!(status, 200, "{body}");
        opens(at, &on_origin(&body["data"]["checkout_url"], at, "/checkout/")).await;
        let status = format!("{}/api/v1/payment/status/MNT-{i}", at.root);
        let (_, read) = send(at.client.get(status).header("X-Api-Key", KEY).header("X-Api-Secret", SECRET)).await;
        on_origin(&read["data"]["checkout_url"], at, "/checkout/");
    }
    for at in mounts(&app, "shadhinpay") {
        let body = json!({ "amount": 1500, "currency": "BDT", "customer_phone": "8801712345678",
            "callback_url": "https://shop.example/hook", "success_url": "https://shop.example/ok" });
        let request = at.client.post(format!("{}/api/v1/payments", at.root)).json(&body);
        let request = request
            .header("Client-Id", "demo_client_id")
            .header("Business-Id", "demo_business_id")
            .header("Secret-Key", "demo_secret_key");
        let (status, body) = send(request).await;
        assert_eq!(status, 201, "{body}");
        opens(&at, &on_origin(&body["data"]["payment_url"], &at, "/checkout/")).await;
    }
    for (i, at) in mounts(&app, "starpay").iter().enumerate() {
        let body = json!({ "order_id": format!("MNT-{i}"), "amount": 50 });
        let request = at.client.post(format!("{}/api/v1/payments", at.root)).json(&body);
        let (status, body) = send(request.header("X-API-KEY", "sp_test_merchant")).await;
        assert_eq!(status, 201, "{body}");
        opens(at, &on_origin(&body["data"]["payment_url"], at, "/checkout/")).await;
    }
    for at in mounts(&app, "payrequest") {
        for (kind, path) in
            [("link", format!("{}/l/", at.root.trim_start_matches(&at.origin))), ("direct", "/checkout/".into())]
        {
            let body = json!({ "token": "pr_test_demo", "title": "Mounted", "amount": "1,00", "type": kind });
            let (status, body) = send(at.client.post(format!("{}/api/create/", at.root)).json(&body)).await;
            assert_eq!((status, body["status"].as_str()), (200, Some("success")), "{body}");
            opens(&at, &on_origin(&body["url"], &at, &path)).await;
        }
    }
    for (i, at) in mounts(&app, "qrmoney").iter().enumerate() {
        let body = qr_payment(QR_CHALLENGE_CARD, &format!("MNT-{i}"));
        let request = at.client.post(format!("{}/payments/h2h/1001", at.root)).json(&body);
        let (status, body) = send(request.header("X-API-Key", "qr_test_demo")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["challengeRequired"], true, "{body}");
        let challenge = on_origin(&body["redirectUrl"], at, "/checkout/");
        assert!(challenge.ends_with("/challenge"), "{challenge}");
        opens(at, &challenge).await;
        on_origin(&body["link"], at, "/checkout/");
    }
    for entry in DIALECTS {
        for at in mounts(&app, entry.name()) {
            let response = at.client.get(&at.docs).send().await.expect("docs");
            assert_eq!(response.status(), 200, "{}", at.docs);
            let spec = at.docs.replace("/docs", "/openapi.json");
            let (status, spec) = send(at.client.get(&spec)).await;
            assert_eq!(status, 200);
            // Swagger UI's "Try it out" uses the first server: this mount's own.
            let first = spec["servers"][0]["url"].as_str().expect("a server").to_owned();
            let resolved = url::Url::parse(&at.docs).unwrap().join(&first).unwrap();
            let api_path = entry.api_path();
            assert_eq!(resolved.as_str().trim_end_matches('/'), format!("{}{api_path}", at.root), "{}", at.docs);
            assert_eq!(spec["servers"].as_array().map(Vec::len), Some(2), "both forms: {}", spec["servers"]);
        }
    }
}

fn qr_payment(number: &str, reference: &str) -> Value {
    json!({ "name": "John Doe", "number": number, "expiration": "12/35", "cvv": "123",
        "email": "john@example.com", "phoneNumber": "13055550100", "address": "1 Ocean Drive",
        "city": "Miami", "state": "FL", "postalCode": "33101", "country": "US",
        "amount": 10.50, "unit": "USD", "referenceId": reference })
}

/// .NET's `new Uri(new Uri(baseUrl), "/x")`, Python's `urljoin` and browsers resolve
/// an absolute path against the base URL, keeping only its origin.
fn resolve_like_dotnet(base: &str, path: &str) -> String {
    url::Url::parse(base).expect("base URL").join(path).expect("path").to_string()
}

/// A documented path with its parameters filled in: the demo's QR Money account,
/// else an id that does not exist.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{accountId}" => "1001",
            s if s.starts_with('{') => "MNT-NONE",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn authenticated(dialect: &str, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match dialect {
        "rebornpay" => request.header("X-Api-Key", KEY).header("X-Api-Secret", SECRET),
        "shadhinpay" => request
            .header("Client-Id", "demo_client_id")
            .header("Business-Id", "demo_business_id")
            .header("Secret-Key", "demo_secret_key"),
        "starpay" => request.header("X-API-KEY", "sp_test_super_admin"),
        "qrmoney" => request.header("X-API-Key", "qr_test_demo"),
        // The token travels in the body.
        _ => request,
    }
}

/// What an answer says, without what differs between two requests (ids, times).
fn shape(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Array(
            map.iter()
                .filter(|(k, _)| !["traceId", "timestamp"].contains(&k.as_str()))
                .map(|(k, v)| {
                    json!([
                        k,
                        match v {
                            Value::Object(_) | Value::Array(_) => shape(v),
                            Value::String(s) if ["code", "error", "status"].contains(&k.as_str()) => json!(s),
                            _ => Value::Null,
                        }
                    ])
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().take(1).map(shape).collect()),
        other => other.clone(),
    }
}

async fn every_documented_path_resolved_like_dotnet_against_the_root_answers_as_under_the_path(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let client = client_resolving(&[]);
    for entry in DIALECTS {
        let name = entry.name();
        let path_base = format!("{}/{name}", app.base);
        let root_base = format!("{}{}", app.root_url(name), entry.api_path());
        let spec = entry.doc().spec;
        let api_path = entry.api_path();
        for (path, operations) in spec["paths"].as_object().expect("paths") {
            for method in operations.as_object().expect("operations").keys() {
                // The path as the provider documents it under its host.
                let documented = concrete(&format!("{api_path}{path}"));
                let lost = resolve_like_dotnet(&path_base, &documented);
                assert!(!lost.contains(&format!("/{name}/")), "the .NET way drops the base path: {lost}");
                let at_root = resolve_like_dotnet(&root_base, &documented);
                let under_path = format!("{path_base}{documented}");
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
                let body = if name == "payrequest" { json!({ "token": "pr_test_demo" }) } else { json!({}) };
                let request = |url: &str| authenticated(name, client.request(method.clone(), url).json(&body));
                let (root_status, root_body) = send(request(&at_root)).await;
                let (path_status, path_body) = send(request(&under_path)).await;
                assert_eq!(root_status, path_status, "{method} {at_root}: {root_body} vs {path_body}");
                assert!(root_body.is_object(), "{method} {at_root} answers the dialect's JSON: {root_body}");
                assert_eq!(shape(&root_body), shape(&path_body), "{method} {at_root}: {root_body} vs {path_body}");
            }
        }
    }
}

async fn a_host_mount_ignores_case_and_port_and_other_hosts_keep_the_main_routes(backend: Backend) {
    let app = every_host(backend).await;
    let main = main_addr(&app);
    let client = client_resolving(&[("qrmoney.pay.example".into(), main), ("other.pay.example".into(), main)]);
    let status_path = "/payment-requests/status/999999";
    for origin in
        [format!("http://QRMoney.Pay.Example:{}", main.port()), format!("http://qrmoney.pay.example:{}", main.port())]
    {
        let (status, body) =
            send(client.get(format!("{origin}{status_path}")).header("X-API-Key", "qr_test_demo")).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("043")), "QR Money at the root of {origin}: {body}");
    }
    // Another host (or the bare address) is the main listener as before: its index,
    // its admin API, and no QR Money at the root.
    for origin in [format!("http://other.pay.example:{}", main.port()), app.base.clone()] {
        let (status, body) =
            send(client.get(format!("{origin}{status_path}")).header("X-API-Key", "qr_test_demo")).await;
        assert_eq!(status, 404);
        assert!(body.is_string(), "poem's plain 404, not QR Money's: {body}");
        let index = client.get(format!("{origin}/")).send().await.unwrap().text().await.unwrap();
        assert!(index.contains("<h1>paybridge</h1>"), "{index}");
        let under_path = client.get(format!("{origin}/qrmoney{status_path}")).header("X-API-Key", "qr_test_demo");
        let (status, body) = send(under_path).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("043")), "/qrmoney still works on {origin}: {body}");
    }
    // The host's root is the dialect's alone: paybridge's own paths there are QR Money's
    // unknown endpoints (behind its key, as every QR Money path).
    let (status, body) = send(client.get(format!("http://qrmoney.pay.example:{}/healthz", main.port()))).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("048")), "{body}");
}

async fn limits_and_idempotency_are_shared_by_every_mount(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.merchants[0].rate_limit_per_minute = 4;
        c.dialects
            .insert("rebornpay".into(), DialectMounts { hosts: vec![host_of("rebornpay")], ..Default::default() });
    })
    .await;
    let at = mounts(&app, "rebornpay");
    let create = |at: &At, key: &str| {
        let body = json!({ "invoice_id": "MNT-KEYED", "amount": 10, "currency": "BDT" });
        at.client
            .post(format!("{}/api/v1/payment/create", at.root))
            .json(&body)
            .header("X-Api-Key", KEY)
            .header("X-Api-Secret", SECRET)
            .header("Idempotency-Key", key)
    };
    let (status, first) = send(create(&at[0], "mnt-1")).await;
    assert_eq!(status, 200, "{first}");
    for other in &at[1..] {
        let response = create(other, "mnt-1").send().await.unwrap();
        assert_eq!(response.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
        let replay: Value = response.json().await.unwrap();
        // A replay is the first answer exactly, its link on the first mount included
        // (which keeps working).
        assert_eq!(replay, first);
    }
    // Four requests a minute for the merchant, whichever mount they come through.
    let balance = |at: &At| {
        at.client.get(format!("{}/api/v1/balance", at.root)).header("X-Api-Key", KEY).header("X-Api-Secret", SECRET)
    };
    let (status, body) = send(balance(&at[1])).await;
    assert_eq!(status, 200, "the fourth: {body}");
    let (status, body) = send(balance(&at[2])).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("rate_limited")), "the fifth: {body}");
    // The same credentials fail the same way everywhere.
    let (status, body) = send(at[1].client.get(format!("{}/api/v1/balance", at[1].root))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("missing_credentials")), "{body}");
}

db_test!(
    every_link_points_at_the_mount_it_was_handed_out_by,
    every_documented_path_resolved_like_dotnet_against_the_root_answers_as_under_the_path,
    a_host_mount_ignores_case_and_port_and_other_hosts_keep_the_main_routes,
);

limits_test!(limits_and_idempotency_are_shared_by_every_mount,);

#[tokio::test]
async fn a_taken_port_set_in_the_config_stops_start_up_naming_the_dialect_and_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.database_url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    config.dialects.insert("qrmoney".into(), DialectMounts { listen: Some(addr.to_string()), ..Default::default() });
    let err = Application::build(config).await.err().expect("start-up fails");
    let message = format!("{err:#}");
    assert!(message.contains("qrmoney") && message.contains(&addr.to_string()), "{message}");
}

#[tokio::test]
async fn a_taken_built_in_port_is_skipped_and_the_dialect_stays_under_its_path() {
    // The built-in ports apply when the main listener has a port of its own; QR
    // Money's is 8085. Hold it (if nobody else does already).
    let _held = std::net::TcpListener::bind("127.0.0.1:8085");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.listen = free.to_string();
    config.public_url = format!("http://{free}");
    config.database_url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    for entry in DIALECTS.iter().filter(|d| d.name() != "qrmoney") {
        config.dialects.insert(entry.name().into(), DialectMounts { listen: Some("off".into()), ..Default::default() });
    }
    crate::helpers::capture_logs();
    let app = Application::build(config).await.expect("a taken built-in port does not stop start-up");
    assert_eq!(app.dialect_port("qrmoney"), None);
    assert_eq!(app.dialect_port("rebornpay"), None, "switched off");
    let urls = app.dialect_urls();
    let qr = urls.iter().find(|u| u.name == "qrmoney").unwrap();
    assert_eq!((qr.main_base(), qr.own_base()), (format!("http://{free}/qrmoney"), None));
    assert!(
        crate::helpers::captured_logs().contains("port 8085 for the qrmoney dialect is not available"),
        "a warning says so"
    );
}
