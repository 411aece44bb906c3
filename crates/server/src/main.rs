//! `concord`: the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use concord_config::{Config, Settings};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "concord",
    version,
    about = "A self-hosted, Discord-compatible chat server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API and Gateway v10) with its data in one directory.
    Serve {
        /// TOML file with any of the options below (see concord.example.toml)
        #[arg(long, env = "CONCORD_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
}

fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    match command {
        Command::Serve { config, settings } => serve(config, settings),
    }
}

fn serve(file: Option<PathBuf>, flags: Settings) -> ExitCode {
    let settings = match file.as_deref().map(Settings::from_file).transpose() {
        Ok(from_file) => flags.over(from_file.unwrap_or_default()),
        Err(e) => return fail(e),
    };
    let config = match Config::from_settings(settings) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    // Every gateway connection is a file descriptor: take all the system allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(e),
    };
    let result = runtime.block_on(async {
        let listener = TcpListener::bind(config.listen).await?;
        // Tests and scripts read this line to learn the port.
        println!("concord listening on http://{}", listener.local_addr()?);
        concord_server::run(config, listener, shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("concord: {e}");
    ExitCode::FAILURE
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
