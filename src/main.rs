//! The `paybridge` command: `serve` (the default), `migrate`, `openapi`, `credentials`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use paybridge::config::Config;
use paybridge::core::Core;
use paybridge::startup::{Application, all_docs};

#[derive(Parser)]
#[command(name = "paybridge", version, about = "A payment gateway that speaks five providers' HTTP dialects")]
struct Cli {
    /// Configuration file (default: ./paybridge.toml when it exists, else built-in defaults).
    #[arg(long, global = true, env = "PAYBRIDGE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write every dialect's OpenAPI document and the admin's and sandbox's as YAML.
    Openapi {
        /// Directory to write into.
        #[arg(long, default_value = "openapi")]
        out: PathBuf,
    },
    /// Print, as JSON, how a client presents each configured merchant's credentials:
    /// per credential its dialect, the headers it sends and the names its dialect's
    /// conformance suite gives them (secrets included: it reads your own config).
    Credentials,
}

/// mimalloc: the request path allocates heavily across threads, where glibc's malloc
/// contends (measured in bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    paybridge::telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Migrate => migrate(cli.config).await,
        Command::Openapi { out } => write_specs(&out),
        Command::Credentials => print_credentials(cli.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("paybridge: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(config.as_deref())?;
    let app = Application::build(config).await?;
    app.log_banner();
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("paybridge stopped");
    Ok(())
}

async fn migrate(config: Option<PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(config.as_deref())?;
    Core::migrate(&config.database_url).await?;
    println!("database is up to date");
    Ok(())
}

fn write_specs(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    for doc in all_docs() {
        let path = out.join(format!("{}.yaml", doc.name));
        std::fs::write(&path, doc.yaml())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn print_credentials(config: Option<PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(config.as_deref())?;
    let mut listed = Vec::new();
    for merchant in &config.merchants {
        for seed in merchant.to_seed().credentials {
            let keys = paybridge::adapters::client_keys(&seed);
            let headers: serde_json::Map<String, serde_json::Value> =
                keys.headers.into_iter().map(|(name, value)| (name.to_owned(), value.into())).collect();
            let suite: serde_json::Map<String, serde_json::Value> =
                keys.suite.into_iter().map(|(name, value)| (name, value.into())).collect();
            listed.push(serde_json::json!({
                "merchant": merchant.name,
                "dialect": seed.dialect().as_str(),
                "headers": headers,
                "suite": suite,
            }));
        }
    }
    println!("{}", serde_json::to_string_pretty(&listed)?);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
