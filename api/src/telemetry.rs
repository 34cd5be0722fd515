//! Logging: JSON in production, readable elsewhere; set up once per process.

use crate::config::{AppEnv, LogFormat, LogSettings};
use std::sync::OnceLock;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

static INIT: OnceLock<()> = OnceLock::new();

/// Installs the global subscriber. `RUST_LOG` overrides the configured filter.
/// Later calls do nothing, so tests that start many servers can all call it.
pub fn init(settings: &LogSettings, env: AppEnv) {
    INIT.get_or_init(|| {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
        let json = match settings.format {
            LogFormat::Json => true,
            LogFormat::Pretty => false,
            LogFormat::Auto => env == AppEnv::Production,
        };
        let registry = tracing_subscriber::registry().with(filter);
        let result = if json {
            registry
                .with(
                    fmt::layer()
                        .json()
                        .flatten_event(true)
                        .with_current_span(true)
                        .with_span_list(false),
                )
                .try_init()
        } else {
            registry.with(fmt::layer().compact()).try_init()
        };
        // Someone (a test harness) installed a subscriber first: theirs wins.
        let _ = result;
    });
}
