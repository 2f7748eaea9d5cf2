//! `phoneprov device resync MAC`: ask a phone to resync now (R-RULE-6);
//! `phoneprov device resync --group G --rate 50`: every phone of a
//! selection (issue 14, `crate::cmd_device_bulk`).
//!
//! Thin glue over `phoneprov_api::resync_device`: the phone is reached at
//! `--phone HOST[:PORT]`, else at the device's last seen IP from the
//! inventory (`--data`, or `--database-url` / `[database] url` on
//! PostgreSQL). `GET /admin/resync?RULE` by default, or the XML
//! Execute object POSTed to `/CGI/Execute` with `--execute`; a device with
//! the `sip_contact` variable (and no `--phone`) gets a SIP NOTIFY
//! check-sync there instead, as from the API and the console
//! (`phoneprov_api::push_target`). The push is recorded in the device's
//! timeline (`phoneprov device events MAC`).
//!
//! With `--sip CONTACT` the request is a SIP `NOTIFY` with
//! `Event: check-sync` (`;reboot=true` with `--reboot`; the Execute object
//! as its body with `--rule`) sent to the phone's SIP contact the way a
//! PBX does: UDP with RFC 3261 retransmission, TCP, or TLS (`sips:`,
//! trusting `--sip-ca`), answering a Digest challenge with `--sip-user` /
//! `--sip-password` (`phoneprov_transport::send_notify`).
//!
//! Exit codes: 0 the phone accepted (2xx); 1 the phone answered but refused
//! (non-2xx: it is up, the request was wrong or not allowed); 2 everything
//! else (bad MAC or address, no inventory, unreachable phone).

use anyhow::Context;
use clap::Args;
use phoneprov_api::{execute_xml, resync_device, PushError, PushMethod};
use phoneprov_httpauth::Credentials;
use phoneprov_store::Mac;
use phoneprov_transport::{send_notify, NotifyOptions, SipContact};

use crate::cmd_device::DataDir;
use crate::cmd_device_bulk::{run_bulk, SelectionArgs};

/// Arguments of `phoneprov device resync`.
#[derive(Args, Debug)]
pub struct ResyncArgs {
    /// The device's MAC (000e08abcdef, 00:0E:08:AB:CD:EF or 00-0e-08-ab-cd-ef);
    /// leave it out with a selection (--group, --model, --filter, --macs,
    /// --all) to resync many at --rate per second.
    pub mac: Option<String>,
    /// The phone's address: HOST, HOST:PORT or http(s)://HOST[:PORT].
    /// Default: the device's sip_contact variable (a SIP NOTIFY), else
    /// its last seen IP, port 80.
    #[arg(long, value_name = "HOST:PORT")]
    pub phone: Option<String>,
    /// A one-off profile rule, e.g. '[--key K] http://prov/$MA.xml'.
    /// Default: the phone runs its own Profile_Rule … Profile_Rule_D.
    #[arg(long)]
    pub rule: Option<String>,
    /// POST the XML Execute object to /CGI/Execute instead of
    /// GET /admin/resync?RULE.
    #[arg(long, conflicts_with = "sip")]
    pub execute: bool,
    /// Send a SIP NOTIFY (Event: check-sync) to this contact instead of an
    /// HTTP request: sip:USER@HOST[:PORT][;transport=udp|tcp|tls] or sips:.
    #[arg(long, value_name = "CONTACT", conflicts_with = "phone")]
    pub sip: Option<String>,
    /// With --sip: `check-sync;reboot=true` (the phone reboots, then resyncs).
    #[arg(long, requires = "sip")]
    pub reboot: bool,
    /// With --sip: the user for a Digest challenge (the phone's line 1 user).
    #[arg(long, requires = "sip", value_name = "USER")]
    pub sip_user: Option<String>,
    /// With --sip: the password for a Digest challenge.
    #[arg(
        long,
        requires = "sip_user",
        value_name = "PASSWORD",
        env = "PHONEPROV_SIP_PASSWORD"
    )]
    pub sip_password: Option<String>,
    /// With a sips: contact: the CA (PEM) that signed the phone's SIP certificate.
    #[arg(long, requires = "sip", value_name = "FILE")]
    pub sip_ca: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub sel: SelectionArgs,
    #[command(flatten)]
    pub data: DataDir,
}

/// Runs `phoneprov device resync`; returns the process exit code.
pub fn run_resync(args: ResyncArgs) -> anyhow::Result<i32> {
    let mac = match (&args.mac, args.sel.given()) {
        (Some(m), false) => Mac::parse(m)?,
        (None, true) => {
            let one_only =
                args.phone.is_some() || args.rule.is_some() || args.execute || args.sip.is_some();
            if one_only {
                anyhow::bail!("--phone, --rule, --execute and --sip are for one device; a selection resyncs each phone at its own address with its own rules");
            }
            return run_bulk("resync", None, &args.sel, &args.data);
        }
        (Some(_), true) => anyhow::bail!(
            "give either a MAC or a selection (--group, --model, --filter, --macs, --all), not both"
        ),
        (None, false) => anyhow::bail!(
            "give the device's MAC, or a selection (--group, --model, --filter, --macs, --all)"
        ),
    };
    if let Some(contact) = &args.sip {
        return run_sip(&args, mac, contact);
    }
    let method = args.execute.then_some(PushMethod::ExecuteXml);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(resync_device(
        &args.data.database()?,
        mac,
        args.phone.as_deref(),
        args.rule.as_deref(),
        method,
    ));
    match result {
        Ok(out) => {
            let how = match out.method {
                PushMethod::Get => "GET",
                PushMethod::ExecuteXml => "POST",
                PushMethod::SipNotify => "SIP NOTIFY",
            };
            let proto = if out.method == PushMethod::SipNotify {
                ""
            } else {
                "HTTP "
            };
            println!(
                "resync requested from {mac}: {how} {} answered {proto}{}",
                out.url, out.status
            );
            Ok(0)
        }
        Err(e @ (PushError::Refused { .. } | PushError::SipRefused { .. })) => {
            eprintln!("phoneprov: error: {e}");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}

/// `--sip CONTACT`: one NOTIFY check-sync transaction.
fn run_sip(args: &ResyncArgs, mac: Mac, contact: &str) -> anyhow::Result<i32> {
    let contact = SipContact::parse(contact)?;
    let tls = match &args.sip_ca {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --sip-ca {}", path.display()))?;
            Some(phoneprov_pki::client_config(&phoneprov_pki::ClientTls {
                trust_pem: Some(pem),
                extra_trust_pem: None,
                client_cert_pem: None,
                client_key_pem: None,
                validate_name: true,
                cipher_list: None,
            })?)
        }
        None => None,
    };
    let opts = NotifyOptions {
        event: if args.reboot {
            "check-sync;reboot=true".into()
        } else {
            "check-sync".into()
        },
        body: args.rule.as_deref().map(|r| {
            (
                "application/xml".to_string(),
                execute_xml(Some(r)).into_bytes(),
            )
        }),
        credentials: args
            .sip_user
            .as_ref()
            .map(|u| Credentials::new(u, args.sip_password.clone().unwrap_or_default())),
        tls,
        t1: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let out = rt.block_on(send_notify(&contact, &opts))?;
    let uri = contact.uri();
    if (200..300).contains(&out.code) {
        println!(
            "resync requested from {mac}: SIP NOTIFY {uri} answered {} {} ({} sent)",
            out.code, out.reason, out.transmissions
        );
        return Ok(0);
    }
    let hint = match out.code {
        401 | 407 => "give the phone's line 1 credentials with --sip-user/--sip-password",
        403 => "the phone does not take resyncs from SIP (Resync_From_SIP is No)",
        489 => "the phone does not know the check-sync event",
        _ => "see the phone's log",
    };
    eprintln!(
        "phoneprov: error: the phone at {uri} refused the NOTIFY with {} {}; {hint}",
        out.code, out.reason
    );
    Ok(1)
}
