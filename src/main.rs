//! The `newshound` binary: parses arguments, sets up logging, the runtime
//! and signal handling, and hands over to `newshound::app` and
//! `newshound::commands`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use newshound::app;
use newshound::commands::{self, EvalOptions, Failure, Show};

#[derive(Debug, Parser)]
#[command(
    name = "newshound",
    version,
    about = "News-monitoring daemon: polls feeds, matches watchlists, stores and alerts"
)]
struct Cli {
    /// The daemon's config file.
    #[arg(
        long,
        short,
        global = true,
        env = "NEWSHOUND_CONFIG",
        default_value = "config/newshound.toml"
    )]
    config: PathBuf,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG also works, and
    /// without either the config's `[log] level` (default info) applies.
    #[arg(long, global = true)]
    log: Option<String>,
    /// How log lines are written.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon until SIGTERM or Ctrl-C.
    Run,
    /// Poll every due feed once, deliver alerts, exit.
    Once {
        /// Poll every feed, even those whose interval has not elapsed
        /// (server-requested waits and error backoff still hold).
        #[arg(long)]
        all: bool,
    },
    /// Validate the config, feed list and watchlists; print every problem.
    Check,
    /// Dry-run a watchlist over JSON Lines items (stdin or --input).
    Match {
        #[arg(long)]
        watchlist: PathBuf,
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Read the alerts raised, newest first, one block per story.
    Alerts {
        /// Only alerts raised within this long, e.g. 2h or 7d.
        #[arg(long)]
        since: Option<String>,
        /// Only alerts of this watchlist.
        #[arg(long)]
        watchlist: Option<String>,
        /// Only alerts routed to this sink.
        #[arg(long)]
        sink: Option<String>,
        /// Keep reading as alerts arrive.
        #[arg(long)]
        follow: bool,
        /// One JSON object a line: the alert records as the sinks get them.
        #[arg(long)]
        json: bool,
        /// Deliveries that failed: waiting for a retry, or dead.
        #[arg(long, conflicts_with_all = ["follow", "since", "sink", "watchlist"])]
        failed: bool,
        #[command(subcommand)]
        action: Option<AlertsAction>,
    },
    /// Score a watchlist against labelled JSON Lines items (label: yes/no/maybe).
    Eval {
        #[arg(long)]
        watchlist: PathBuf,
        #[arg(long)]
        labels: PathBuf,
        /// Hold out a validation part and score it apart: random:SHARE[:SEED]
        /// (random:0.5:7) or time:DATE (time:2025-12-01).
        #[arg(long)]
        holdout: Option<String>,
        /// Score K folds of the items (cut by a hash of their ids).
        #[arg(long)]
        folds: Option<usize>,
        /// Seed for --folds.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// What each rule alone brings, and terms of the misses no rule has.
        #[arg(long)]
        suggest: bool,
        /// Which errors to list.
        #[arg(long, value_enum, default_value_t = Show::Tuning)]
        show: Show,
        /// Precision and recall at each threshold an item's score can reach
        /// (scores add the weights of the rules an item matches).
        #[arg(long)]
        sweep: bool,
    },
    /// Show what the current watchlists would have alerted among stored items.
    Replay {
        /// How far back, e.g. 7d or 12h.
        #[arg(long)]
        since: String,
        /// Replay this watchlist file instead of the configured ones.
        #[arg(long)]
        watchlist: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List feeds with their health; import or export OPML.
    Feeds {
        /// Only feeds that are failing, backing off or gone.
        #[arg(long)]
        failing: bool,
        /// One JSON object per feed, one per line.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<FeedsAction>,
    },
    /// Write the man page and shell completions (bash, zsh, fish) into a
    /// folder, for packaging.
    #[command(hide = true)]
    Generate {
        /// The folder to write into (created).
        #[arg(long)]
        out: PathBuf,
    },
    /// Whether the daemon would group each pair of items into one story
    /// (one JSON line per pair, in order), or the stories of a stream
    Stories {
        /// Items as JSON Lines (the news-2025 format)
        #[arg(long)]
        items: PathBuf,
        /// Pairs of item ids as JSON Lines; without it, the stories of the
        /// whole stream, one line each
        #[arg(long)]
        pairs: Option<PathBuf>,
    },
    /// Copy the database consistently to a new FILE, also while the daemon
    /// runs (restore: stop the daemon, put the copy in place of the
    /// database, remove its -wal and -shm files, start)
    Backup { file: PathBuf },
    /// Full-text search over stored items.
    Search {
        /// Words, "phrases", prefix*, AND/OR/NOT (SQLite FTS5 syntax)
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only items first seen this recently ("2h", "7d")
        #[arg(long)]
        since: Option<String>,
        /// Only items that matched this watchlist
        #[arg(long)]
        watchlist: Option<String>,
        /// Only the items of this story (its alert id)
        #[arg(long)]
        story: Option<String>,
        /// One JSON object per hit
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AlertsAction {
    /// Send dead deliveries again (all of them, a sink's, or those of the
    /// alert ids given).
    Retry {
        /// Only deliveries to this sink.
        #[arg(long)]
        sink: Option<String>,
        /// Alert ids (as `alerts --failed` shows them).
        ids: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum FeedsAction {
    /// Add the feeds of an OPML file to the configured feed list.
    Import { file: PathBuf },
    /// Print the configured feeds as OPML.
    Export,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// journald fields when started by systemd (`JOURNAL_STREAM`), plain
    /// text otherwise.
    Auto,
    Text,
    /// One JSON object a line, for log shippers.
    Json,
    Journald,
}

/// Changes the log filter after start-up, when the config names a level.
type LevelHandle = tracing_subscriber::reload::Handle<EnvFilter, tracing_subscriber::Registry>;

use tracing_subscriber::EnvFilter;

/// Sets up logging; returns a handle that applies the config's `[log]
/// level` later, unless `RUST_LOG` or `--log` chose the level.
fn init_tracing(filter: Option<&str>, format: LogFormat) -> Option<LevelHandle> {
    use tracing_subscriber::prelude::*;
    let from_env = std::env::var_os("RUST_LOG").is_some();
    let filter_layer = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter_layer, handle) = tracing_subscriber::reload::Layer::new(filter_layer);
    let registry = tracing_subscriber::registry().with(filter_layer);
    let journald = match format {
        LogFormat::Journald => true,
        LogFormat::Auto => std::env::var_os("JOURNAL_STREAM").is_some(),
        _ => false,
    };
    let settable = (!from_env && filter.is_none()).then_some(handle);
    if journald {
        if let Ok(layer) = tracing_journald::layer() {
            registry.with(layer).init();
            return settable;
        }
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if format == LogFormat::Json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_current_span(true),
            )
            .init();
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi)
                    .with_target(false),
            )
            .init();
    }
    settable
}

/// Lets a reader that goes away (`newshound alerts | head`) end a
/// command quietly, as it does for other Unix tools. Not for the daemon,
/// whose sockets must never raise SIGPIPE.
fn default_sigpipe() {
    // SAFETY: called at start-up before any thread exists; restores the
    // default disposition of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Writes `newshound.1` and the completions of bash, zsh and fish into
/// `out`, from the command-line definitions themselves.
fn generate(out: &std::path::Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    std::fs::create_dir_all(out)?;
    let cmd = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(out.join("newshound.1"), page)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "newshound", out)?;
    }
    println!("wrote the man page and completions into {}", out.display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run | Command::Once { .. }) {
        default_sigpipe();
    }
    let level = init_tracing(cli.log.as_deref(), cli.log_format);
    let apply_level = move |wanted: &str| {
        if let Some(h) = &level {
            match EnvFilter::try_new(wanted) {
                Ok(f) => {
                    let _ = h.reload(f);
                }
                Err(e) => eprintln!("newshound: ignoring log level {wanted:?}: {e}"),
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("newshound: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run | Command::Once { .. } => {
                // The signal task is tracked like every other: it ends with
                // the command, signal or not.
                let token = CancellationToken::new();
                let signals = TaskTracker::new();
                app::cancel_on_signals(&signals, token.clone());
                let result = match cli.command {
                    Command::Once { all } => commands::once(&cli.config, all, token.clone(), &apply_level).await,
                    _ => commands::run(&cli.config, token.clone(), &apply_level).await,
                };
                token.cancel();
                signals.close();
                signals.wait().await;
                result
            }
            Command::Check => commands::check(&cli.config),
            Command::Match { watchlist, input } => commands::match_items(&watchlist, input.as_deref()),
            Command::Alerts {
                action: Some(AlertsAction::Retry { sink, ids }),
                ..
            } => commands::alerts_retry(&cli.config, sink.as_deref(), &ids).await,
            Command::Alerts {
                since,
                watchlist,
                sink,
                follow,
                json,
                failed,
                action: None,
            } => {
                commands::alerts(
                    &cli.config,
                    commands::AlertsOptions {
                        since,
                        watchlist,
                        sink,
                        follow,
                        json,
                        failed,
                    },
                )
                .await
            }
            Command::Eval {
                watchlist,
                labels,
                holdout,
                folds,
                seed,
                suggest,
                show,
                sweep,
            } => commands::eval(
                &watchlist,
                &labels,
                &EvalOptions {
                    holdout,
                    folds,
                    seed,
                    suggest,
                    show,
                    sweep,
                },
            ),
            Command::Replay { since, watchlist, json } => {
                commands::replay(&cli.config, &since, watchlist.as_deref(), json).await
            }
            Command::Feeds { failing, json, action } => match action {
                None => commands::feeds(&cli.config, failing, json).await,
                Some(FeedsAction::Import { file }) => commands::feeds_import(&cli.config, &file),
                Some(FeedsAction::Export) => commands::feeds_export(&cli.config),
            },
            Command::Generate { out } => generate(&out).map_err(|e| Failure::Other(e.into())),
            Command::Stories { items, pairs } => commands::stories(&items, pairs.as_deref()),
            Command::Backup { file } => commands::backup(&cli.config, &file).await,
            Command::Search {
                query,
                limit,
                since,
                watchlist,
                story,
                json,
            } => {
                let opts = commands::SearchOptions {
                    query,
                    limit,
                    since,
                    watchlist,
                    story,
                    json,
                };
                commands::search(&cli.config, &opts).await
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(errors)) => {
            eprintln!("{errors}");
            ExitCode::from(commands::EX_CONFIG)
        }
        Err(Failure::Problems(n)) => {
            eprintln!("{n} problem(s) found");
            ExitCode::from(1)
        }
        Err(Failure::Pending(n)) => {
            eprintln!(
                "newshound: {n} alert deliveries could not be made and stay queued; \
                 the next run or the daemon retries them (`newshound alerts --failed` shows why)"
            );
            ExitCode::from(commands::EX_TEMPFAIL)
        }
        Err(Failure::Other(e)) => {
            eprintln!("newshound: {e:#}");
            ExitCode::FAILURE
        }
    }
}
