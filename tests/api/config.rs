//! Configuration: layering, errors that name the key, idempotent fixtures.

use std::process::Command;

use paybridge::config::{Config, ConfigError};

use crate::db_test;
use crate::helpers::{Backend, spawn_app_with};

fn load(toml: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paybridge.toml");
    std::fs::write(&path, toml).unwrap();
    Config::load(Some(&path))
}

#[test]
fn a_file_overrides_the_defaults() {
    let config = load("listen = \"127.0.0.1:9999\"\n").unwrap();
    assert_eq!(config.listen, "127.0.0.1:9999");
    assert_eq!(config.admin_token.expose(), "change-me", "what the file leaves out keeps its default");
    assert_eq!(config.merchants.len(), 1, "the demo merchant");
    assert_eq!(config.merchants[0].rebornpay.as_ref().unwrap().api_key, "pk_test_demo");
    assert_eq!(config.sqlite_synchronous, paybridge::core::SqliteSynchronous::Full, "fsynced unless asked");
    let relaxed = load("sqlite_synchronous = \"normal\"\n").unwrap();
    assert_eq!(relaxed.sqlite_synchronous, paybridge::core::SqliteSynchronous::Normal);
    assert_eq!(config.rate_limits.store(), paybridge::core::RateLimitStore::Memory, "one instance counts alone");
    let shared = load("[rate_limits]\nstore = \"redis://127.0.0.1:6379/2\"\n").unwrap();
    assert_eq!(
        shared.rate_limits.store(),
        paybridge::core::RateLimitStore::Redis {
            url: "redis://127.0.0.1:6379/2".into(),
            prefix: "paybridge".into(),
            timeout: std::time::Duration::from_millis(100),
        }
    );
}

#[test]
fn fixture_merchants_replace_the_demo() {
    let config = load(
        r#"
        [[merchants]]
        name = "QA Shop"
        rate_limit_per_minute = 0
        rebornpay = { api_key = "pk_qa", api_secret = "sk_qa", require_signature = true }
        starpay_users = [ { api_key = "sp_qa", role = "api_user", name = "Bot" } ]
        "#,
    )
    .unwrap();
    assert_eq!(config.merchants.len(), 1);
    let m = &config.merchants[0];
    assert_eq!((m.name.as_str(), m.rate_limit_per_minute, m.default_currency.as_str()), ("QA Shop", 0, "BDT"));
    assert!(m.rebornpay.as_ref().unwrap().require_signature);
    let seed = m.to_seed();
    assert_eq!(seed.credentials.len(), 2);
}

#[test]
fn bad_files_name_the_key() {
    let cases = [
        ("listn = \"x\"", "listn"),
        ("sqlite_synchronous = \"off\"", "sqlite_synchronous"),
        ("[rate_limits]\nstore = \"memcached://127.0.0.1\"", "rate_limits.store"),
        ("[rate_limits]\nstore = \"redis://\"", "rate_limits.store"),
        ("[rate_limits]\ntimeout_ms = 0", "rate_limits.timeout_ms"),
        ("[rate_limits]\nprefix = \"a b\"", "rate_limits.prefix"),
        ("payment_ttl_secs = \"soon\"", "payment_ttl_secs"),
        ("listen = \"nowhere\"", "listen"),
        ("public_url = \"not a url\"", "public_url"),
        ("[[merchants]]\nname = \"A\"\ndefault_currency = \"ZZZ\"", "merchants[0].default_currency"),
        ("[[merchants]]\nname = \"A\"\nstatus = \"sleeping\"", "status"),
        ("[[merchants]]\nname = \"A\"\nip_allowlist = [\"nope\"]", "merchants[0].ip_allowlist[0]"),
        ("[[merchants]]\nname = \"A\"\nrebornpay = { api_key = \"k\" }", "api_secret"),
        ("[[merchants]]\nname = \"A\"\nstarpay_users = [ { api_key = \"k\", role = \"king\" } ]", "role"),
        ("listen = ", "listen"),
        (
            "[[merchants]]\nname = \"A\"\nqrmoney = { api_key = \"k\", account_id = \"1\", merchant_id = \"m\", settings = { max_amount = -1 } }",
            "extra.settings.max_amount",
        ),
        (
            "[[merchants]]\nname = \"A\"\nqrmoney = { api_key = \"k\", account_id = \"\", merchant_id = \"m\" }",
            "extra.account_id",
        ),
        (
            "[[merchants]]\nname = \"A\"\nqrmoney = { api_key = \"k\", account_id = \"1\", merchant_id = \"m\", settings = { maximum = 1 } }",
            "maximum",
        ),
        ("[dialects.paypal]\nlisten = \"off\"", "dialects.paypal"),
        ("[dialects.qrmoney]\nlisten = \"8085\"", "dialects.qrmoney.listen"),
        ("[dialects.qrmoney]\nport = 8085", "port"),
        ("[dialects.qrmoney]\nhosts = [\"http://qr.example\"]", "dialects.qrmoney.hosts[0]"),
        ("[dialects.qrmoney]\nhosts = [\"qr.example:80\"]", "dialects.qrmoney.hosts[0]"),
        (
            "[dialects.qrmoney]\nhosts = [\"pay.example\"]\n[dialects.starpay]\nhosts = [\"Pay.Example\"]",
            "dialects.starpay.hosts[0]",
        ),
        ("[dialects.qrmoney]\nhosts = [\"127.0.0.1\"]", "dialects.qrmoney.hosts"),
        ("[dialects.qrmoney]\npublic_url = \"http://qr.example/qrmoney\"", "dialects.qrmoney.public_url"),
    ];
    for (toml, key) in cases {
        let err = load(toml).expect_err(toml).to_string();
        assert!(err.contains(key), "{toml:?}: {err:?} does not name {key}");
    }
}

#[test]
fn each_dialect_gets_its_own_port_unless_switched_off() {
    use paybridge::config::OwnListener;
    let demo = Config::default();
    let addr = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(demo.own_listener("rebornpay", 8081), OwnListener::Default(addr(8081)));
    let config = load(
        "listen = \"0.0.0.0:9000\"\n[dialects.qrmoney]\nlisten = \"127.0.0.1:9085\"\n[dialects.starpay]\nlisten = \"off\"\nhosts = [\"starpay.pay.example\"]\n",
    )
    .unwrap();
    assert_eq!(config.own_listener("qrmoney", 8085), OwnListener::Explicit(addr(9085)));
    assert_eq!(config.own_listener("starpay", 8083), OwnListener::Off);
    let same_interface = std::net::SocketAddr::from(([0, 0, 0, 0], 8082));
    assert_eq!(config.own_listener("shadhinpay", 8082), OwnListener::Default(same_interface), "the main interface");
    assert_eq!(config.dialects["starpay"].hosts, ["starpay.pay.example"]);
    let random = load("listen = \"127.0.0.1:0\"\n").unwrap();
    assert_eq!(random.own_listener("payrequest", 8084), OwnListener::Default(addr(0)), "a free port, as the main");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let err = Config::load(Some(std::path::Path::new("/nonexistent/paybridge.toml"))).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn webhooks_to_private_addresses_are_refused_unless_running_the_built_in_demo() {
    assert!(!Config::default().blocks_private_webhook_targets(), "the demo's receiver is on loopback");
    assert!(load("").unwrap().blocks_private_webhook_targets(), "a real configuration is guarded");
    let opted_out = load("[webhooks]\nblock_private_targets = false\n").unwrap();
    assert!(!opted_out.blocks_private_webhook_targets());
    let opted_in =
        Config { webhooks: load("[webhooks]\nblock_private_targets = true\n").unwrap().webhooks, ..Config::default() };
    assert!(opted_in.blocks_private_webhook_targets());
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paybridge.toml");
    let file_db = dir.path().join("from-file.db");
    let env_db = dir.path().join("from-env.db");
    std::fs::write(&config, format!("database_url = \"sqlite://{}?mode=rwc\"\n", file_db.display())).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_paybridge"))
        .args(["migrate", "--config"])
        .arg(&config)
        .env("PAYBRIDGE_DATABASE_URL", format!("sqlite://{}?mode=rwc", env_db.display()))
        .env("PAYBRIDGE_TEST_POSTGRES_URL", "not configuration")
        .status()
        .unwrap();
    assert!(status.success());
    assert!(env_db.exists() && !file_db.exists(), "PAYBRIDGE_DATABASE_URL wins over the file");

    let output = Command::new(env!("CARGO_BIN_EXE_paybridge"))
        .args(["migrate", "--config"])
        .arg(&config)
        .env("PAYBRIDGE_PAYMENT_TTL_SECS", "soon")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.to_lowercase().contains("payment_ttl_secs"), "{stderr}");
    assert_eq!(stderr.matches("invalid type").count(), 1, "said once: {stderr}");
}

/// `paybridge credentials` says, for each configured credential, the headers its
/// dialect takes it in and its conformance suite's names — what `.ci/schemathesis`
/// sends and conformance/demo.toml holds.
#[test]
fn the_credentials_command_says_how_clients_present_each_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_paybridge"))
        .arg("credentials")
        .current_dir(dir.path())
        .env_remove("PAYBRIDGE_CONFIG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let of = |dialect: &str| -> Vec<serde_json::Value> {
        listed.as_array().unwrap().iter().filter(|c| c["dialect"] == dialect).cloned().collect()
    };
    for entry in paybridge::adapters::DIALECTS {
        assert!(!of(entry.name()).is_empty(), "the built-in demo merchant has a {} credential", entry.name());
    }
    let reborn = &of("rebornpay")[0];
    assert_eq!(reborn["headers"], serde_json::json!({ "X-Api-Key": "pk_test_demo", "X-Api-Secret": "sk_test_demo" }));
    let shadhin = &of("shadhinpay")[0];
    assert_eq!(shadhin["headers"]["Business-Id"], "demo_business_id", "settings are presented too");
    assert_eq!(of("payrequest")[0]["headers"], serde_json::json!({}), "the token travels in the body");
    let qr = &of("qrmoney")[0];
    assert_eq!((&qr["suite"]["api_key"], &qr["suite"]["account_id"]), (&"qr_test_demo".into(), &"1001".into()));
    let star: Vec<_> = of("starpay").iter().map(|c| c["suite"].clone()).collect();
    assert!(star.contains(&serde_json::json!({ "api_key": "sp_test_merchant" })), "{star:?}");
    assert!(star.contains(&serde_json::json!({ "admin_key": "sp_test_admin" })), "{star:?}");
}

async fn restarting_with_the_same_fixtures_changes_nothing(backend: Backend) {
    let first = spawn_app_with(backend, |_| {}).await;
    let creds = first.send(first.admin(reqwest::Method::GET, "/merchants/1/credentials")).await.body;
    let merchants = first.send(first.admin(reqwest::Method::GET, "/merchants")).await.body;
    let second = first.restart().await;
    assert_eq!(second.send(second.admin(reqwest::Method::GET, "/merchants")).await.body, merchants);
    assert_eq!(second.send(second.admin(reqwest::Method::GET, "/merchants/1/credentials")).await.body, creds);
}

db_test!(restarting_with_the_same_fixtures_changes_nothing);

#[test]
fn the_readme_fixture_example_loads() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a toml block");
    let config = load(block).unwrap_or_else(|e| panic!("the README's example does not load: {e}"));
    let qa = &config.merchants[0];
    assert!(qa.rebornpay.is_some() && qa.shadhinpay.is_some() && qa.payrequest.is_some());
    let qr = qa.qrmoney.as_ref().expect("the example has a QR Money account");
    assert_eq!(qr.settings.as_ref().unwrap()["fee_percent"], 2.5);
    assert_eq!(qa.starpay_users[0].role, "merchant");
}
