//! `concord`: the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod backup;
mod control;

use admin::{GuildCommand, TokenCommand, UserCommand};
use concord_config::{Config, Settings};
use concord_service::search::FillProgress;
use control::{Control, Target};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// jemalloc rather than the system allocator: memory a connection holds
/// only while busy (a zlib-stream deflate state, given back when the socket
/// is idle; a burst of frames) goes back to the system within seconds (its
/// background threads purge freed pages), where glibc's allocator keeps
/// most of it in its heaps. Measured in BENCHMARKS.md (idle sockets).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage accounts on the running server.
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        target: Target,
    },
    /// Registration tokens, for the `invite` and `token` registration modes.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
        #[command(flatten)]
        target: Target,
    },
    /// Manage guilds on the running server.
    Guild {
        #[command(subcommand)]
        command: GuildCommand,
        #[command(flatten)]
        target: Target,
    },
    /// Print counts of accounts, guilds, channels, indexed messages and
    /// connections of the running server.
    Stats {
        #[command(flatten)]
        target: Target,
    },
    /// Back up everything (store, search index, config file) into DEST, an
    /// empty or new directory, while the server runs and keeps serving.
    Backup {
        /// Directory to write the backup into
        dest: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Restore a backup into a new or empty data directory (the server
    /// must not be running on it).
    Restore {
        /// Directory a backup was written into
        src: PathBuf,
        /// The data directory to restore into
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Rebuild the message search index from the store. Stop the server
    /// first; it also rebuilds a missing or outdated index by itself on start.
    Reindex {
        /// TOML file with any of the options below (see concord.example.toml)
        #[arg(long, env = "CONCORD_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a TOML config file: unknown keys, wrong types and invalid
    /// values are each explained; exits non-zero if any is found.
    Check {
        /// The file to check
        file: PathBuf,
    },
    /// Print an example file with every option, its description and default.
    Example,
}

fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    match command {
        Command::Serve { config, settings } => serve(config, settings),
        Command::Reindex { config, settings } => reindex(config, settings),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => check_config(&file),
        Command::User { command, target } => {
            administer(&target, |c| async move { admin::user(&c, command).await })
        }
        Command::Token { command, target } => {
            administer(&target, |c| async move { admin::token(&c, command).await })
        }
        Command::Guild { command, target } => {
            administer(&target, |c| async move { admin::guild(&c, command).await })
        }
        Command::Backup { dest, target } => {
            administer(&target, |c| async move { backup::backup(&c, &dest).await })
        }
        Command::Restore { src, data_dir } => match backup::restore(&src, &data_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Stats { target } => administer(&target, |c| async move { admin::stats(&c).await }),
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", concord_config::example_toml());
            ExitCode::SUCCESS
        }
    }
}

/// Flags over the file over the defaults, validated.
fn load_config(file: Option<PathBuf>, flags: Settings) -> Result<Config, String> {
    let from_file = file.as_deref().map(Settings::from_file).transpose();
    let settings = flags.over(from_file.map_err(|e| e.to_string())?.unwrap_or_default());
    let mut config = Config::from_settings(settings).map_err(|e| e.to_string())?;
    config.config_file = file.map(|f| std::path::absolute(&f).unwrap_or(f));
    Ok(config)
}

fn check_config(file: &Path) -> ExitCode {
    let checked = Settings::from_file(file)
        .map_err(|e| e.to_string())
        .and_then(|s| Config::from_settings(s).map_err(|e| e.to_string()));
    match checked {
        Ok(_) => {
            println!("{}: ok", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("{}: {e}", file.display())),
    }
}

fn reindex(file: Option<PathBuf>, flags: Settings) -> ExitCode {
    let config = match load_config(file, flags) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} channels, {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut messages = 0;
    let mut show = |p: FillProgress| {
        bar.set_length(p.channels_total);
        bar.set_position(p.channels_done);
        bar.set_message(format!("{} messages", p.messages));
        messages = p.messages;
    };
    let started = Instant::now();
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(concord_server::reindex(&config, &mut show))
                .map_err(|e| e.to_string())
        });
    bar.finish_and_clear();
    match result {
        Ok(()) => {
            let seconds = started.elapsed().as_secs_f64();
            println!("reindexed {messages} messages in {seconds:.1} s");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn serve(file: Option<PathBuf>, flags: Settings) -> ExitCode {
    let config = match load_config(file, flags) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    init_logging(&config.log);
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
        concord_server::run(config, listener, shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Logs to stderr as `filter` says, except that other crates never log at
/// trace: their trace output holds raw WebSocket frames (IDENTIFY and
/// RESUME carry tokens) and storage keys (registration tokens, invite
/// codes). Concord's own code never logs a secret at any level.
fn init_logging(filter: &str) {
    use tracing_subscriber::filter::{FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt};
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let log_level = log_records_kept(&filter);
    let no_foreign_trace = filter_fn(|meta| {
        *meta.level() <= tracing::Level::DEBUG || meta.target().starts_with("concord")
    });
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter.and(no_foreign_trace));
    tracing_subscriber::registry().with(layer).init();
    // The bridge from the `log` crate lets everything through by default,
    // and each record is then filtered one by one: dependencies' per-frame
    // trace records cost several percent of the fan-out's CPU.
    log::set_max_level(log_level);
}

/// The most detailed `log` records worth passing on under `filter`. Only
/// other crates use `log`, and they never log at trace (see
/// [`init_logging`]).
fn log_records_kept(filter: &EnvFilter) -> log::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match filter.max_level_hint() {
        Some(LevelFilter::OFF) => log::LevelFilter::Off,
        Some(LevelFilter::ERROR) => log::LevelFilter::Error,
        Some(LevelFilter::WARN) => log::LevelFilter::Warn,
        Some(LevelFilter::INFO) => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    }
}

/// Runs an admin command against the server `target` names.
fn administer<F, Fut>(target: &Target, command: F) -> ExitCode
where
    F: FnOnce(Control) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let result = Control::new(target).and_then(|control| {
        tokio::runtime::Runtime::new()
            .map_err(|e| e.to_string())?
            .block_on(command(control))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_are_cut_where_the_filter_cuts() {
        let kept = |f: &str| log_records_kept(&EnvFilter::new(f));
        assert_eq!(kept("info"), log::LevelFilter::Info);
        assert_eq!(kept("warn"), log::LevelFilter::Warn);
        assert_eq!(kept("off"), log::LevelFilter::Off);
        assert_eq!(
            kept("trace"),
            log::LevelFilter::Debug,
            "never other crates' trace"
        );
        assert_eq!(kept("info,tungstenite=debug"), log::LevelFilter::Debug);
    }
}
