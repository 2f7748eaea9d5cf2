//! `phoneprov tftp ...` subcommands: `serve` a directory and `get` a file
//! (SPEC §5, R-TFTP-1). Thin glue over `phoneprov-tftp`; this module only
//! parses flags and URLs, runs a tokio runtime and maps errors to exit codes
//! (remote "not found" exits 1, everything else the user can fix exits 2).

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use phoneprov_tftp::{
    ClientConfig, ClientErrorKind, DirHandler, Mode, Server, ServerConfig, ServerLimits, TftpClient,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum TftpCommand {
    /// Serve a directory over TFTP (RFC 1350/2347/2348/2349/7440).
    ///
    /// Prints "phoneprov tftp: serving DIR on udp://ADDR" once listening.
    /// Ctrl-C or SIGTERM stops accepting requests and lets running transfers
    /// finish.
    Serve(ServeArgs),
    /// Fetch a file from a TFTP server, e.g. `tftp://192.168.1.200/basic.txt`.
    ///
    /// Writes to stdout unless -o is given. Exits 1 when the server says the
    /// file does not exist.
    Get(GetArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Directory whose files are served (paths are relative to it).
    #[arg(long)]
    root: PathBuf,
    /// UDP address to listen on (use 127.0.0.1:0 for a free port).
    #[arg(long, default_value = "0.0.0.0:6969")]
    listen: SocketAddr,
    /// Accept uploads (WRQ) into this directory; needs --max-upload.
    #[arg(long, requires = "max_upload")]
    upload_dir: Option<PathBuf>,
    /// Largest upload accepted, in bytes; needs --upload-dir.
    #[arg(long, requires = "upload_dir")]
    max_upload: Option<u64>,
    /// Largest windowsize granted to clients (RFC 7440).
    #[arg(long, default_value_t = 64)]
    max_windowsize: u16,
    /// Transfers running at once; more requests are told the server is busy.
    #[arg(long, default_value_t = 20_000)]
    max_transfers: usize,
    /// Requests per second accepted from one client address (no limit if unset).
    #[arg(long)]
    client_rate: Option<f64>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// tftp://HOST[:PORT]/PATH (port 69 if omitted).
    url: String,
    /// Write the file here instead of stdout.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Block size to ask for (8-65464, RFC 2348).
    #[arg(long, value_parser = clap::value_parser!(u16).range(8..=65464))]
    blksize: Option<u16>,
    /// Window size to ask for (1-65535, RFC 7440).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=65535))]
    windowsize: Option<u16>,
    /// Retransmission timeout in seconds (1-255), also negotiated (RFC 2349).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=255))]
    timeout: Option<u8>,
    /// Transfer in netascii mode (text) instead of octet.
    #[arg(long)]
    netascii: bool,
    /// Local UDP ports to use, e.g. 53240-53245 (R-TFTP-1); ephemeral if unset.
    #[arg(long)]
    local_ports: Option<String>,
}

/// Runs a TFTP subcommand; returns the process exit code.
pub fn run(cmd: TftpCommand) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cmd {
        TftpCommand::Serve(args) => rt.block_on(serve(args)),
        TftpCommand::Get(args) => rt.block_on(get(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let handler = DirHandler::new(&args.root).map_err(|e| anyhow!("{e}"))?;
    let root = handler.root().to_path_buf();
    let mut server = Server::bind(args.listen, handler)
        .await?
        .with_config(ServerConfig {
            max_windowsize: args.max_windowsize.max(1),
            ..ServerConfig::default()
        })
        .with_limits(ServerLimits {
            max_transfers: args.max_transfers.max(1),
            per_client_rate: args.client_rate,
        });
    if let (Some(dir), Some(max)) = (args.upload_dir, args.max_upload) {
        server = server.with_uploads(dir, max).map_err(|e| anyhow!("{e}"))?;
    }
    let addr = server.local_addr()?;
    println!("phoneprov tftp: serving {} on udp://{addr}", root.display());
    std::io::stdout().flush().ok();
    server.serve_until(shutdown_signal()).await?;
    Ok(0)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Splits `tftp://HOST[:PORT]/PATH` into the host:port to resolve and the path.
fn parse_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url
        .strip_prefix("tftp://")
        .ok_or_else(|| anyhow!("{url:?} is not a TFTP URL: write tftp://HOST[:PORT]/PATH"))?;
    let (authority, path) = rest
        .split_once('/')
        .ok_or_else(|| anyhow!("{url:?} has no file path: write tftp://HOST[:PORT]/PATH"))?;
    if authority.is_empty() || path.is_empty() {
        bail!("{url:?} needs a host and a file path: write tftp://HOST[:PORT]/PATH");
    }
    // A bare host (or [v6]) gets port 69 (R-RULE-1 default ports).
    let has_port = match authority.rfind(']') {
        Some(i) => authority[i..].contains(':'),
        None => authority.contains(':'),
    };
    let hostport = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:69")
    };
    Ok((hostport, path.to_string()))
}

fn parse_ports(s: &str) -> anyhow::Result<std::ops::RangeInclusive<u16>> {
    let bad = || anyhow!("--local-ports {s:?} is not a port or range: write e.g. 53240-53245");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

async fn get(args: GetArgs) -> anyhow::Result<i32> {
    let (hostport, path) = parse_url(&args.url)?;
    let server = tokio::net::lookup_host(&hostport)
        .await
        .with_context(|| format!("cannot resolve {hostport}: check the host name"))?
        .next()
        .ok_or_else(|| anyhow!("{hostport} resolves to no address: check the host name"))?;
    let config = ClientConfig {
        blksize: args.blksize,
        windowsize: args.windowsize,
        timeout: Duration::from_secs(args.timeout.unwrap_or(1).into()),
        send_timeout_option: args.timeout.is_some(),
        mode: if args.netascii {
            Mode::Netascii
        } else {
            Mode::Octet
        },
        local_ports: args.local_ports.as_deref().map(parse_ports).transpose()?,
        ..ClientConfig::default()
    };
    let client = TftpClient::new(config);
    let result = match &args.output {
        Some(file) => client.get_to_file(server, &path, file).await.map(|_| ()),
        None => match client.get(server, &path).await {
            Ok(data) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&data)
                    .and_then(|_| out.flush())
                    .context("cannot write to stdout")?;
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == ClientErrorKind::NotFound => {
            eprintln!("phoneprov: error: {e}");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_port() {
        assert_eq!(
            parse_url("tftp://192.168.1.200/basic.txt").unwrap(),
            ("192.168.1.200:69".into(), "basic.txt".into())
        );
        assert_eq!(
            parse_url("tftp://prov.telco.com:6900/cisco/config/x.cfg").unwrap(),
            ("prov.telco.com:6900".into(), "cisco/config/x.cfg".into())
        );
        assert_eq!(parse_url("tftp://[::1]/a").unwrap().0, "[::1]:69");
        assert!(parse_url("http://x/a").is_err());
        assert!(parse_url("tftp://host").is_err());
        assert_eq!(parse_ports("53240-53245").unwrap(), 53240..=53245);
        assert!(parse_ports("9-1").is_err());
    }
}
