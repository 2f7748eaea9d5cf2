//! `phoneprov ca ...`: the provisioning CA (`phoneprov-pki`, R-HTTPS-5).
//!
//! `init` creates `<data>/ca/{ca.pem,ca.key,server.pem,server.key}`; `issue`
//! and `issue-fleet` write phone client certificates whose subject is
//! `OU=<PN>, L=<SN>, S=<MAC>`; `show` prints the CA and server certificates.
//! Private keys are written with mode 0600 and never printed. MACs are parsed
//! by the command (not clap) so a bad one is a single error line.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use phoneprov_pki::{
    init_ca, init_ca_force, load_ca, summarize_pem, CaFiles, CertSummary, IssuedCert, PkiError,
    CA_CERT_FILE, DEFAULT_SERVER_NAMES, SERVER_CERT_FILE,
};
use phoneprov_store::Mac;

/// Where the CA lives: `<data>/ca/`, the data directory from `--data` or
/// `--config` (see [`crate::sysconf`]).
pub use crate::sysconf::DataArgs as CaDataDir;

impl CaDataDir {
    fn ca_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self.dir()?.join("ca"))
    }
}

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Create the provisioning CA and an HTTPS server certificate.
    ///
    /// Refuses to replace an existing CA (every phone certificate it issued
    /// would stop verifying) unless --force.
    Init {
        /// CA common name.
        #[arg(
            long = "name",
            value_name = "CN",
            default_value = "phoneprov provisioning CA"
        )]
        name: String,
        /// Server certificate name: DNS name, IP address, or `fqdn/more`
        /// (repeatable; default localhost, 127.0.0.1, ::1). The first DNS name
        /// becomes the CN.
        #[arg(long = "server-name", value_name = "NAME")]
        server_names: Vec<String>,
        /// Replace an existing CA.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        data: CaDataDir,
    },
    /// Issue one phone client certificate: OUTDIR/<mac>.pem and OUTDIR/<mac>.key.
    Issue {
        /// MAC as 00562b043615, 00:56:2B:04:36:15 or 00-56-2b-04-36-15.
        #[arg(long)]
        mac: String,
        /// Serial number (L=), e.g. CCQ2114A0B1.
        #[arg(long)]
        sn: String,
        /// Product name (OU=), e.g. CP-8841-3PCC.
        #[arg(long)]
        pn: String,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out", value_name = "OUTDIR")]
        out: PathBuf,
        /// Overwrite existing files for this MAC.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        data: CaDataDir,
    },
    /// Issue certificates for consecutive MACs (for the fleet simulator).
    ///
    /// Writes OUTDIR/<mac>.pem and .key per phone, OUTDIR/ca.pem (the CA to
    /// trust) and OUTDIR/fleet.csv (mac,serial,model,cert,key).
    IssueFleet {
        /// First MAC (12 hex digits); the others count up from it.
        #[arg(long, value_name = "HEX12")]
        mac_base: String,
        /// Number of phones (1 to 1000000).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        count: u64,
        /// Product name (OU=) for every phone.
        #[arg(long)]
        pn: String,
        /// First serial number; a trailing number counts up (SIM000000 by
        /// default), otherwise the index is appended.
        #[arg(long, value_name = "SN", default_value = "SIM000000")]
        sn_base: String,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out", value_name = "OUTDIR")]
        out: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        data: CaDataDir,
    },
    /// Show the CA and server certificates.
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: CaDataDir,
    },
}

/// Runs a CA subcommand; returns the process exit code.
pub fn run(cmd: CaCommand) -> anyhow::Result<i32> {
    match cmd {
        CaCommand::Init {
            name,
            server_names,
            force,
            data,
        } => init(&data.ca_dir()?, &name, &server_names, force),
        CaCommand::Issue {
            mac,
            sn,
            pn,
            out,
            force,
            data,
        } => issue(&data.ca_dir()?, &mac, &sn, &pn, &out, force),
        CaCommand::IssueFleet {
            mac_base,
            count,
            pn,
            sn_base,
            out,
            force,
            data,
        } => issue_fleet(
            &data.ca_dir()?,
            &mac_base,
            count,
            &pn,
            &sn_base,
            &out,
            force,
        ),
        CaCommand::Show { json, data } => show(&data.ca_dir()?, json),
    }
}

fn init(dir: &Path, name: &str, server_names: &[String], force: bool) -> anyhow::Result<i32> {
    let files = if force {
        init_ca_force(dir, name, server_names)?
    } else {
        init_ca(dir, name, server_names)?
    };
    let ca = summarize_file(&files.ca_cert())?;
    let names = if server_names.is_empty() {
        DEFAULT_SERVER_NAMES.join(", ")
    } else {
        server_names.join(", ")
    };
    println!("created CA in {}", files.dir.display());
    println!(
        "  ca.pem      {} (trust this on phones and in the simulator)",
        files.ca_cert().display()
    );
    println!(
        "  ca.key      {} (mode 0600, keep it secret)",
        files.ca_key().display()
    );
    println!(
        "  server.pem  {} for {names}",
        files.server_cert().display()
    );
    println!("  server.key  {} (mode 0600)", files.server_key().display());
    println!("  sha256      {}", ca.sha256_fingerprint);
    Ok(0)
}

fn issue(
    dir: &Path,
    mac: &str,
    sn: &str,
    pn: &str,
    out: &Path,
    force: bool,
) -> anyhow::Result<i32> {
    let mac = Mac::parse(mac)?;
    let ca = load_ca(dir)?;
    let issued = ca.issue_phone(&mac.to_string(), sn, pn)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let (cert, key) = (
        out.join(format!("{mac}.pem")),
        out.join(format!("{mac}.key")),
    );
    write_pair(&issued, &cert, &key, force)?;
    println!("issued {} (OU={pn}, L={sn}, S={mac})", cert.display());
    println!("key    {} (mode 0600)", key.display());
    Ok(0)
}

fn issue_fleet(
    dir: &Path,
    mac_base: &str,
    count: u64,
    pn: &str,
    sn_base: &str,
    out: &Path,
    force: bool,
) -> anyhow::Result<i32> {
    let first = Mac::parse(mac_base)?;
    let last = first.checked_add(count - 1).with_context(|| {
        format!("{count} MACs from {first} run past ffffffffffff: lower --count")
    })?;
    let ca = load_ca(dir)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(count);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} certificates ({eta} left)")
                .expect("static template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut csv = String::from("mac,serial,model,cert,key\n");
    for i in 0..count {
        let mac = first.checked_add(i).expect("range checked above");
        let sn = serial_for(sn_base, i);
        let issued = ca.issue_phone(&mac.to_string(), &sn, pn)?;
        let (cert, key) = (format!("{mac}.pem"), format!("{mac}.key"));
        write_pair(&issued, &out.join(&cert), &out.join(&key), force)?;
        writeln!(csv, "{mac},{sn},{pn},{cert},{key}").expect("writing to a String");
        bar.inc(1);
    }
    bar.finish_and_clear();
    let write = |name: &str, data: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))
    };
    write(CA_CERT_FILE, ca.cert_pem().as_bytes())?;
    write("fleet.csv", csv.as_bytes())?;
    println!(
        "issued {count} phone certificates for {first}..{last} into {} (see fleet.csv; trust ca.pem)",
        out.display()
    );
    Ok(0)
}

/// Writes a certificate and key; an existing file becomes an error that says
/// how to replace it.
fn write_pair(issued: &IssuedCert, cert: &Path, key: &Path, force: bool) -> anyhow::Result<()> {
    match issued.write(cert, key, force) {
        Err(PkiError::Io { path, source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            anyhow::bail!(
                "{} already exists: pass --force to replace it",
                path.display()
            )
        }
        other => Ok(other?),
    }
}

/// The serial number of phone `index`: a trailing decimal number in `base`
/// counts up keeping its width (`SIM000009` → `SIM000010`); without one the
/// index is appended.
fn serial_for(base: &str, index: u64) -> String {
    let digits = base.chars().rev().take_while(char::is_ascii_digit).count();
    let (prefix, number) = base.split_at(base.len() - digits);
    match number.parse::<u64>() {
        Ok(n) => format!("{prefix}{:0width$}", n + index, width = digits),
        Err(_) => format!("{base}{index}"),
    }
}

#[derive(serde::Serialize)]
struct ShowJson {
    dir: PathBuf,
    ca: CertSummary,
    server: Option<CertSummary>,
}

fn show(dir: &Path, json: bool) -> anyhow::Result<i32> {
    let files = CaFiles {
        dir: dir.to_path_buf(),
    };
    if !files.ca_cert().exists() {
        anyhow::bail!(
            "no CA found in {} (missing {CA_CERT_FILE}): run `phoneprov ca init` first",
            dir.display()
        );
    }
    let ca = summarize_file(&files.ca_cert())?;
    let server = if files.server_cert().exists() {
        Some(summarize_file(&files.server_cert())?)
    } else {
        None
    };
    if json {
        let doc = ShowJson {
            dir: files.dir.clone(),
            ca,
            server,
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    print_summary("CA", &files.ca_cert(), &ca);
    match &server {
        Some(s) => print_summary("server", &files.server_cert(), s),
        None => println!(
            "server: no {SERVER_CERT_FILE} (run `phoneprov ca init --force` to create one)"
        ),
    }
    Ok(0)
}

fn print_summary(label: &str, path: &Path, s: &CertSummary) {
    println!("{label}: {}", path.display());
    println!("  subject  {}", s.subject);
    println!("  issuer   {}", s.issuer);
    println!("  valid    {} .. {}", s.not_before, s.not_after);
    if !s.subject_alt_names.is_empty() {
        println!("  names    {}", s.subject_alt_names.join(", "));
    }
    println!("  serial   {}", s.serial);
    println!("  sha256   {}", s.sha256_fingerprint);
}

fn summarize_file(path: &Path) -> anyhow::Result<CertSummary> {
    let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    summarize_pem(&pem).with_context(|| format!("in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::serial_for;

    #[test]
    fn serials_count_up_keeping_width() {
        assert_eq!(serial_for("SIM000000", 0), "SIM000000");
        assert_eq!(serial_for("SIM000009", 1), "SIM000010");
        assert_eq!(serial_for("CCQ2114A0B1", 10), "CCQ2114A0B11");
        assert_eq!(serial_for("ABC", 7), "ABC7");
        assert_eq!(serial_for("99", 1), "100");
    }
}
