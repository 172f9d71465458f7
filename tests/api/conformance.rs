//! Every conformance suite in `conformance/suites` (rebornpay, shadhinpay, starpay,
//! payrequest, qrmoney), run against an in-process server with the demo merchant's
//! credentials, as QA would run it against a server started from the README with
//! conformance/demo.toml — at each of a dialect's mounts: under `/<dialect>` on the
//! main listener, at the root of its own port, and at the root of a host named in
//! `[dialects.<name>] hosts`.

use paybridge::config::DialectMounts;
use paybridge_conformance::{Credentials, Options, Receiver, Resolve, Suite, default_suites_dir, run};

use crate::helpers::{ADMIN_TOKEN, Backend, spawn_app_with};

/// The credentials file for `dialect`, from the demo merchant of the configuration:
/// each of its credentials of that dialect under the names the dialect gives them
/// (`adapters::client_keys`, what `paybridge credentials` prints).
fn credentials(dialect: &str, config: &paybridge::config::Config, base: &str, receiver: &Receiver) -> Credentials {
    let mut c = Credentials::default();
    let seeds = config.merchants[0].to_seed().credentials;
    let theirs: Vec<_> = seeds.iter().filter(|seed| seed.dialect().as_str() == dialect).collect();
    assert!(!theirs.is_empty(), "the demo merchant has no {dialect} credentials");
    for seed in theirs {
        for (name, value) in paybridge::adapters::client_keys(seed).suite {
            c.set(&format!("credentials.{name}"), &value);
        }
    }
    c.set("admin.base_url", &format!("{base}/admin/v1"));
    c.set("admin.token", ADMIN_TOKEN);
    c.set("sandbox.base_url", &format!("{base}/sandbox/v1"));
    c.set("webhooks.listen", &receiver.addr().to_string());
    c
}

/// Where the suites reach their dialect.
#[derive(Clone, Copy, Debug)]
enum At {
    /// `http://127.0.0.1:<main>/<dialect>`.
    Path,
    /// `http://127.0.0.1:<the dialect's own port>`.
    OwnPort,
    /// `http://<dialect>.pay.example:<main>`, resolved to the main listener.
    Host,
}

fn host_of(dialect: &str) -> String {
    format!("{dialect}.pay.example")
}

/// Runs `dialect`'s suite with its credentials against its mount `at`.
async fn the_suite_passes(backend: Backend, dialect: &str, at: At) {
    let receiver = Receiver::start("127.0.0.1:0").await.expect("receiver");
    let hooks = format!("http://{}/hooks", receiver.addr());
    // As the README's server: the demo merchant at its documented rate limit.
    let app = spawn_app_with(backend, |c| {
        c.merchants[0].rate_limit_per_minute = 120;
        c.merchants[0].webhook_url = Some(hooks);
        if let At::Host = at {
            for entry in paybridge::adapters::DIALECTS {
                let mounts = DialectMounts { hosts: vec![host_of(entry.name())], ..Default::default() };
                c.dialects.insert(entry.name().to_owned(), mounts);
            }
        }
    })
    .await;
    let main_port = app.base.rsplit(':').next().expect("a port").to_owned();
    let demo_toml = default_suites_dir().parent().expect("suites live in conformance/").join("demo.toml");
    let demo_toml = Credentials::load(&demo_toml).expect("conformance/demo.toml loads");
    let suite = Suite::load(&default_suites_dir(), dialect).expect("suite loads");
    let credentials = credentials(dialect, &app.config, &app.base, &receiver);
    // QA runs the suites with conformance/demo.toml: it must hold the same keys.
    let file = demo_toml.for_dialect(dialect);
    for (key, value) in credentials.iter().filter(|(key, _)| key.starts_with("credentials.")) {
        assert_eq!(file.get(key).ok().as_ref(), Some(value), "conformance/demo.toml's {key} for {dialect}");
    }
    let (base_url, resolve) = match at {
        At::Path => (format!("{}/{dialect}", app.base), Vec::new()),
        At::OwnPort => (app.root_url(dialect), Vec::new()),
        At::Host => {
            let resolve: Resolve = format!("{}:{main_port}:127.0.0.1", host_of(dialect)).parse().expect("resolve");
            (format!("http://{}:{main_port}", host_of(dialect)), vec![resolve])
        }
    };
    let options = Options { base_url, credentials, filters: Vec::new(), skips: Vec::new(), resolve };
    let report = run(&suite, &options, Some(&receiver)).await;
    println!("{dialect} {at:?}: {}", report.summary());
    assert_eq!(report.failed(), 0, "{}", report.summary());
    assert_eq!(report.skipped(), 0);
    assert!(report.passed() >= suite.scenarios.len() / 2, "{}", report.summary());
    app.assert_ledger_invariants().await;
}

/// One test per suite and mount, so that a failing suite hides no other:
/// `conformance::<dialect>::{under_its_path, at_its_own_port, at_its_host}::{sqlite,postgres}`.
macro_rules! suites {
    ($($dialect:ident),* $(,)?) => {
        /// The suites the macro runs, to check against the suites directory.
        const RUN: &[&str] = &[$(stringify!($dialect)),*];
        $(
            mod $dialect {
                use super::*;

                async fn under_its_path(backend: Backend) {
                    the_suite_passes(backend, stringify!($dialect), At::Path).await
                }

                async fn at_its_own_port(backend: Backend) {
                    the_suite_passes(backend, stringify!($dialect), At::OwnPort).await
                }

                async fn at_its_host(backend: Backend) {
                    the_suite_passes(backend, stringify!($dialect), At::Host).await
                }

                crate::db_test!(under_its_path, at_its_own_port, at_its_host);
            }
        )*
    };
}

suites!(rebornpay, shadhinpay, starpay, payrequest, qrmoney);

/// A suite added to `conformance/suites` without a line above would never run here.
#[test]
fn every_suite_in_the_directory_is_run() {
    let mut found = Suite::dialects(&default_suites_dir());
    found.sort();
    let mut run: Vec<String> = RUN.iter().map(|d| (*d).to_owned()).collect();
    run.sort();
    assert_eq!(found, run, "add the new suite to `suites!` in tests/api/conformance.rs");
}
