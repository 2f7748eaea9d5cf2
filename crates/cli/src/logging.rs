//! The stderr log of long-running commands (`serve`): `RUST_LOG` when set,
//! else `[log] level`, else `warn` (issue 17 item 4); no colour codes when
//! stderr is a file or journald.

use anyhow::Context;

/// Installs the stderr subscriber; a filter that does not parse is an
/// error naming where it came from (nothing else has started yet).
pub fn init_stderr(level: Option<&str>) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(_) => tracing_subscriber::EnvFilter::try_from_default_env()
            .context("RUST_LOG is not a log filter (write e.g. RUST_LOG=info)")?,
        Err(_) => {
            let level = level.unwrap_or("warn");
            tracing_subscriber::EnvFilter::try_new(level).with_context(|| {
                format!("[log] level {level:?} is not a log filter: write error, warn, info, debug or trace (or e.g. \"info,phoneprov_acs=debug\")")
            })?
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    Ok(())
}
