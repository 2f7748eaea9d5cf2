//! N phones on one tokio runtime: identities, the DHCP lease read in
//! `DHCP_Option_To_Use` order (R-DHCP), one task per phone, one semaphore
//! bounding transfers in flight, the trigger listener, the stop rule, and
//! the report.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use phoneprov_phone::{ActivationSetup, Class, DeviceConfig, PhoneConfig};
use phoneprov_transport::{
    provisioning_target_dual, vendor_class, DhcpLease, DhcpTarget, DEFAULT_DHCPV6_OPTION_ORDER,
    DEFAULT_DHCP_OPTION_ORDER,
};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config::{RunMode, SimConfig};
use crate::dhcp_client::{DhcpReport, DhcpRun};
use crate::driver::{PhoneOutcome, PhoneTask};
use crate::exec::Net;
use crate::report::{FleetReport, FleetStats};
use crate::{triggers, SimError};

/// What the lease contributes to every phone's start (R-DHCP-2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseEffect {
    /// Server for rules without one (options 66, 150, 159).
    pub default_server: Option<String>,
    /// `Profile_Rule` from option 160 (unless `--param Profile_Rule` is given).
    pub profile_rule: Option<String>,
    /// Option 43/125 named a TR-069 ACS (the CPE agent uses it, R-TR69-1).
    pub acs_url: Option<String>,
    /// Option 6: DNS servers (the first one resolves host and SRV names
    /// when `--dns` is not given, R-DHCP-2).
    pub dns_servers: Vec<String>,
    /// Option 15: the domain name.
    pub domain: Option<String>,
    /// Option 42: NTP servers (shown in each phone's status).
    pub ntp_servers: Vec<String>,
    /// Option 56: the server's message (shown in each phone's status).
    pub message: Option<String>,
    /// Option 60 as the phone sends it (its vendor class, R-TR69-1).
    pub vendor_class_sent: Option<&'static str>,
    /// The DNS SRV step of the discovery chain, when it ran (R-FLOW-4).
    pub srv: Option<crate::discovery::SrvStep>,
}

impl LeaseEffect {
    /// The `dhcp` object of a phone's status page.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "dns_servers": self.dns_servers,
            "domain": self.domain,
            "ntp_servers": self.ntp_servers,
            "message": self.message,
            "vendor_class_sent": self.vendor_class_sent,
            "srv": self.srv.as_ref().map(|s| s.status()),
        })
    }
}

/// `a, b c` → `["a", "b", "c"]` (option lists are comma or space separated).
fn list(v: Option<&String>) -> Vec<String> {
    v.map(|v| {
        v.split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

impl LeaseEffect {
    /// DHCP handed out a provisioning server (a server for rules, a
    /// `Profile_Rule`, or an ACS): activation is not used (R-ACT-1, R-FLOW-4).
    pub fn gives_server(&self) -> bool {
        self.default_server.is_some() || self.profile_rule.is_some() || self.acs_url.is_some()
    }
}

/// Reads the lease in `DHCP_Option_To_Use` order (the `--param` value or
/// the default `66,160,159,150,60,43,125`), then its DHCPv6 options in
/// `DHCPv6_Option_To_Use` order (default `17,160,159`).
pub fn lease_effect(cfg: &SimConfig) -> LeaseEffect {
    lease_effect_of(cfg, &cfg.lease)
}

/// The phones' TR-069 client is on (`--acs` or `Enable_TR-069=Yes`), so
/// they send `dslforum.org` as option 60.
fn tr069_on(cfg: &SimConfig) -> bool {
    cfg.tr069.acs_url.is_some()
        || cfg
            .param("Enable_TR-069")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"))
}

/// [`lease_effect`] of another lease (one phone's, from its DHCP exchange).
pub fn lease_effect_of(cfg: &SimConfig, lease: &DhcpLease) -> LeaseEffect {
    let order = cfg
        .param("DHCP_Option_To_Use")
        .unwrap_or(DEFAULT_DHCP_OPTION_ORDER);
    let order_v6 = cfg
        .param("DHCPv6_Option_To_Use")
        .unwrap_or(DEFAULT_DHCPV6_OPTION_ORDER);
    let tr069 = tr069_on(cfg);
    let o = &lease.options;
    let o6 = &lease.options_v6;
    // DHCPv6's 23 (DNS servers), 24 (domain list: the first is the
    // domain) and 56/31 (NTP/SNTP) stand in when the v4 lease lacks 6, 15
    // and 42.
    let mut e = LeaseEffect {
        dns_servers: list(o.get(&6).or(o6.get(&23))),
        domain: o
            .get(&15)
            .or(o6.get(&24))
            .and_then(|d| d.split([',', ' ']).find(|d| !d.trim().is_empty()))
            .map(|d| d.trim().to_string()),
        ntp_servers: list(o.get(&42).or(o6.get(&56)).or(o6.get(&31))),
        message: o
            .get(&56)
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty()),
        vendor_class_sent: vendor_class(tr069),
        ..LeaseEffect::default()
    };
    match provisioning_target_dual(lease, order, order_v6) {
        Some(DhcpTarget::TftpServer(s)) | Some(DhcpTarget::ProvisioningServerIp(s)) => {
            e.default_server = Some(s)
        }
        Some(DhcpTarget::ProvisioningUrl(u)) if cfg.param("Profile_Rule").is_none() => {
            e.profile_rule = Some(u)
        }
        Some(DhcpTarget::ProvisioningUrl(_)) => {}
        Some(DhcpTarget::AcsUrl(u)) => e.acs_url = Some(u),
        None => {}
    }
    e
}

/// A running fleet.
pub struct Fleet {
    stats: Arc<FleetStats>,
    shutdown: Arc<watch::Sender<bool>>,
    phones: Vec<JoinHandle<PhoneOutcome>>,
    listener: Option<(SocketAddr, JoinHandle<()>)>,
    started: Instant,
    count: u64,
    lease: LeaseEffect,
    /// The TR-069 agents ([`crate::cpe`]), when an ACS is configured.
    cpe: Option<crate::cpe::CpeFleet>,
    /// The SIP listener (`--sip-listen`) and its tasks.
    sip: Option<(SocketAddr, Vec<JoinHandle<()>>)>,
    /// `--dhcp-interface`: how the phones' exchanges went.
    dhcp: Option<DhcpReport>,
}

/// Stops a fleet from elsewhere (Ctrl-C handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Every phone stops after its current step.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Fleet {
    /// Binds the trigger listener (if any) and powers the phones on. Must
    /// run inside a tokio runtime.
    pub async fn start(mut cfg: SimConfig) -> Result<Fleet, SimError> {
        cfg.validate()?;
        raise_fd_limit(cfg.concurrency);
        // R-DHCP: with --dhcp-interface every phone has its lease (or has
        // given up) before any phone provisions.
        let model = cfg.lease.clone();
        let dhcp = match cfg.dhcp_interface.clone() {
            Some(iface) => {
                let mode = crate::dhcp_client::IpMode::parse(cfg.param("IP_Mode"))?;
                let oro_extra = cfg
                    .param("DHCPv6_Option_To_Use")
                    .unwrap_or(DEFAULT_DHCPV6_OPTION_ORDER)
                    .split(',')
                    .filter_map(|n| n.trim().parse::<u16>().ok())
                    .collect();
                let run = crate::dhcp_client::acquire(
                    &iface,
                    dhcp_phones(&cfg)?,
                    cfg.dhcp_timeout,
                    mode,
                    oro_extra,
                )
                .await?;
                if let Some(l) = run.first_bound() {
                    cfg.lease = crate::dhcp_client::merge(&l, &model);
                }
                Some(run)
            }
            None => None,
        };
        let mut lease = lease_effect(&cfg);
        // `--dns`, which wins over every phone's own lease.
        let user_dns = cfg.dns;
        if cfg.dns.is_none() {
            // R-DHCP-2: option 6 names the DNS server the phone asks.
            cfg.dns = lease
                .dns_servers
                .iter()
                .find_map(|s| s.parse::<std::net::IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, cfg.dns_port.unwrap_or(53)));
        }
        let net = Arc::new(Net::new(&cfg));
        // R-FLOW-4: DHCP first; then DNS SRV for the domain of option 15.
        let factory = phoneprov_profile::schema::lookup("Profile_Rule")
            .map(|s| s.default)
            .unwrap_or("/$PN.cfg");
        let needs_srv = |e: &LeaseEffect| {
            !e.gives_server() && cfg.tr069.acs_url.is_none() && cfg.param("Profile_Rule").is_none()
        };
        // Each phone's SRV step with its own lease's DNS server and domain,
        // once per distinct pair.
        let mut srv_steps: HashMap<(Option<SocketAddr>, String), crate::discovery::SrvStep> =
            HashMap::new();
        if needs_srv(&lease) {
            if let Some(domain) = lease.domain.clone() {
                let step = crate::discovery::srv_step(&net.resolver, &domain, factory).await;
                srv_steps.insert((cfg.dns, domain), step.clone());
                match &step.outcome {
                    Ok(rule) => {
                        tracing::info!("DNS SRV discovery: {} gave the rule {rule}", step.query);
                        lease.profile_rule = Some(rule.clone());
                    }
                    Err(line) => tracing::warn!("{line}"),
                }
                lease.srv = Some(step);
            }
        }
        let lease_status = Arc::new(lease.status());
        let stats = Arc::new(FleetStats::default());
        // R-TR69-1 with --dhcp-interface: each phone informs the ACS its
        // own lease names (`--acs` wins); a phone whose lease names none
        // runs no TR-069 client.
        let own_acs: Option<Vec<Option<String>>> = dhcp.as_ref().map(|d| {
            (0..cfg.count as usize)
                .map(|i| cfg.tr069.acs_url(&own_lease(&model, d, i)))
                .collect()
        });
        let leased_acs = own_acs
            .as_ref()
            .and_then(|v| v.iter().flatten().next().cloned());
        let mut cpe = crate::cpe::CpeFleet::start(&cfg, stats.clone(), leased_acs).await?;
        let slots = Arc::new(Semaphore::new(cfg.concurrency));
        let (tx, rx) = watch::channel(false);
        let shutdown = Arc::new(tx);
        let keep_params = cfg.count == 1;
        let listener =
            match cfg.listen {
                Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    SimError::Listen {
                        addr: addr.to_string(),
                        err: e.to_string(),
                    }
                })?),
                None => None,
            };
        let sip = match cfg.sip_listen {
            Some(addr) => Some(crate::sip::SipListener::bind(addr).await?),
            None => None,
        };
        // The listener's port stands for every phone's SIP port (R-SEC-5).
        let sip_port = sip
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| a.port());
        let mut sip_phones = triggers::Registry::new();
        let activation = cfg.activation.as_deref().map(|url| {
            Arc::new(crate::activation::ActivationSettings {
                base_url: crate::activation::validate_base_url(url).unwrap_or_default(),
                gds_code: cfg.gds_code.clone(),
                retry_wait: cfg.activation_retry_wait,
            })
        });
        // An ACS given with --acs is a provisioning server too: the CPE
        // agent provisions the phone, activation is not used (R-ACT-1).
        let dhcp_server = lease.gives_server() || cfg.tr069.acs_url.is_some();
        let mut registry = triggers::Registry::new();
        let mut phones = Vec::with_capacity(cfg.count as usize);
        let mut dhcp_phones = Vec::new();
        for i in 0..cfg.count {
            let identity = cfg.identity(i)?;
            let mut pc = PhoneConfig::new(identity);
            pc.seed = cfg.seed.wrapping_add(i);
            // The phone's own lease (--dhcp-interface), else the fleet's.
            let mut own = None;
            if let Some(d) = &dhcp {
                let mut e = own_effect(&cfg, &model, d, i as usize);
                if d.lease_of(i as usize).is_some() && needs_srv(&e) {
                    if let Some(domain) = e.domain.clone() {
                        let dns = user_dns.or_else(|| {
                            e.dns_servers
                                .iter()
                                .find_map(|s| s.parse::<std::net::IpAddr>().ok())
                                .map(|ip| SocketAddr::new(ip, cfg.dns_port.unwrap_or(53)))
                        });
                        let key = (dns, domain);
                        if !srv_steps.contains_key(&key) {
                            let resolver = match dns {
                                Some(a) => phoneprov_transport::Resolver::with_server(a),
                                None => phoneprov_transport::Resolver::system(),
                            };
                            let step = crate::discovery::srv_step(&resolver, &key.1, factory).await;
                            srv_steps.insert(key.clone(), step);
                        }
                        let step = srv_steps[&key].clone();
                        if let Ok(rule) = &step.outcome {
                            e.profile_rule = Some(rule.clone());
                        }
                        e.srv = Some(step);
                    }
                }
                let st = phone_status(&e, d, i as usize);
                own = Some((e, st));
            }
            if let Some((_, st)) = &own {
                if dhcp_phones.len() < crate::dhcp_client::REPORT_PHONES {
                    dhcp_phones.push(serde_json::json!({"mac": pc.identity.mac, "dhcp": st}));
                }
            }
            let (effect, status) = match &own {
                Some((e, st)) => (e, Arc::new(st.clone())),
                None => (&lease, lease_status.clone()),
            };
            pc.default_server = effect.default_server.clone();
            pc.client_cert_installed = net.has_client_cert(&pc.identity.mac);
            pc.credentials = cfg.profile_account.clone();
            pc.initial_params = cfg.params.clone();
            if let Some(rule) = &effect.profile_rule {
                pc.initial_params
                    .push(("Profile_Rule".into(), rule.clone()));
            }
            let (ctx, crx) = mpsc::channel(8);
            let acs_here = own_acs.as_ref().map(|v| v[i as usize].clone());
            let cpe_events = cpe
                .as_mut()
                .filter(|_| !matches!(acs_here, Some(None)))
                .map(|c| c.add_phone(&pc, ctx.clone(), rx.clone(), acs_here.flatten()));
            if sip.is_some() {
                if let Some(mac) = triggers::mac_of(&pc.identity.mac) {
                    sip_phones.insert(mac, ctx.clone());
                }
            }
            if listener.is_some() {
                registry.insert(pc.identity.mac.clone(), ctx);
            }
            let activation_exec = activation.as_ref().map(|settings| {
                crate::activation::ActivationExec::new(
                    settings.clone(),
                    net.clone(),
                    slots.clone(),
                    &pc,
                )
            });
            let setup = activation.as_ref().map(|settings| ActivationSetup {
                server: settings.base_url.clone(),
                dhcp_server,
                gds_code: settings.gds_code.clone(),
                seed: cfg.seed.wrapping_add(i),
            });
            let task = PhoneTask {
                cfg: Some(DeviceConfig {
                    phone: pc,
                    activation: setup,
                    tr069: cpe
                        .as_ref()
                        .filter(|_| cpe_events.is_some())
                        .map(|c| c.setup()),
                    sip_port,
                }),
                net: net.clone(),
                stats: stats.clone(),
                slots: slots.clone(),
                mode: cfg.mode,
                boot_storm: cfg.boot_storm,
                control: crx,
                shutdown: rx.clone(),
                keep_params,
                activation: activation_exec,
                sip: sip.as_ref().map(|(l, _)| l.clone()),
                lease_status: status,
                cpe_events,
            };
            let stats2 = stats.clone();
            phones.push(tokio::spawn(async move {
                let out = task.run().await;
                stats2.phones_done.inc();
                out
            }));
        }
        let listener = match listener {
            Some(l) => {
                let addr = l.local_addr().map_err(|e| SimError::Listen {
                    addr: "listener".into(),
                    err: e.to_string(),
                })?;
                Some((addr, triggers::serve(l, registry)))
            }
            None => None,
        };
        if let Some(c) = cpe.as_mut() {
            c.serve();
        }
        let sip = match sip {
            Some((l, tcp)) => {
                let addr = l.local_addr().map_err(|e| SimError::Listen {
                    addr: "--sip-listen".into(),
                    err: e.to_string(),
                })?;
                Some((addr, l.serve(tcp, sip_phones)))
            }
            None => None,
        };
        if let RunMode::For(d) = cfg.mode {
            let s = shutdown.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                let _ = s.send(true);
            });
        }
        Ok(Fleet {
            stats,
            shutdown,
            phones,
            listener,
            started: Instant::now(),
            count: cfg.count,
            lease,
            cpe,
            sip,
            dhcp: dhcp.map(|d| dhcp_report(&d, dhcp_phones)),
        })
    }

    /// The connection-request listener's address (`--cr-listen`, TR-069).
    pub fn cr_addr(&self) -> Option<SocketAddr> {
        self.cpe.as_ref().and_then(|c| c.cr_addr())
    }

    /// The ACS the phones' TR-069 agents use, if any (R-TR69-1).
    pub fn acs_url(&self) -> Option<&str> {
        self.cpe.as_ref().map(|c| c.acs_url())
    }

    /// The SIP listener's address, UDP and TCP (`--sip-listen`, R-RULE-6).
    pub fn sip_addr(&self) -> Option<SocketAddr> {
        self.sip.as_ref().map(|(a, _)| *a)
    }

    /// The trigger listener's address (with the port the OS picked for `:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().map(|(a, _)| *a)
    }

    /// Live counters (for a progress bar).
    pub fn stats(&self) -> Arc<FleetStats> {
        self.stats.clone()
    }

    /// What the DHCP lease contributed.
    pub fn lease_effect(&self) -> &LeaseEffect {
        &self.lease
    }

    /// A handle that stops the fleet.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Waits for every phone (under `--once`, until each resynced once;
    /// otherwise until the duration ends or shutdown) and builds the report.
    pub async fn wait(self) -> FleetReport {
        let mut failed = 0;
        let mut without = 0;
        let mut single = None;
        let mut customization: BTreeMap<String, u64> = BTreeMap::new();
        for h in self.phones {
            match h.await {
                Ok(out) => {
                    if let Some(st) = out.customization {
                        *customization.entry(st.as_str().to_string()).or_default() += 1;
                    }
                    match out.last_class {
                        Some(Class::A) => {}
                        Some(_) => failed += 1,
                        None => without += 1,
                    }
                    if out.params.is_some() {
                        single = Some(out);
                    }
                }
                Err(e) => {
                    tracing::error!("a phone task failed: {e}");
                    failed += 1;
                }
            }
        }
        let tr069 = self.cpe.is_some();
        if let Some(c) = self.cpe {
            c.wait().await;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        if let Some((_, h)) = self.listener {
            h.abort();
        }
        for h in self.sip.into_iter().flat_map(|(_, hs)| hs) {
            h.abort();
        }
        let mut report = self.stats.report(self.count, elapsed);
        report.phones_failed = failed;
        report.phones_without_resync = without;
        if tr069 {
            report.cwmp = Some(self.stats.cwmp.report());
        }
        report.customization = customization;
        report.dhcp = self.dhcp;
        if let Some(out) = single {
            report.final_params = out
                .params
                .map(|p| p.into_iter().collect::<BTreeMap<_, _>>());
            report.status = out.status;
        }
        report
    }
}

/// What each phone sends in its DHCP exchange: its MAC, option 60
/// (`dslforum.org` with TR-069 on, else its product name), its seed.
fn dhcp_phones(cfg: &SimConfig) -> Result<Vec<crate::dhcp_client::DhcpPhone>, SimError> {
    let class = vendor_class(tr069_on(cfg))
        .map(str::to_string)
        .unwrap_or_else(|| cfg.pn.clone());
    (0..cfg.count)
        .map(|i| {
            let id = cfg.identity(i)?;
            let mac = phoneprov_types::Mac::parse(&id.mac)
                .map_err(|e| SimError::Config(format!("--mac-base: {e}")))?;
            let b = mac.to_u64().to_be_bytes();
            Ok(crate::dhcp_client::DhcpPhone {
                mac: [b[2], b[3], b[4], b[5], b[6], b[7]],
                vendor_class: class.clone(),
                // The MAC in the seed: two fleets (or two hosts) with the
                // same --seed still use different xids.
                seed: cfg.seed.wrapping_add(i) ^ mac.to_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15),
            })
        })
        .collect()
}

/// One phone's lease effect from its own exchanges: its options (with
/// `--dhcp-option` filling in); a phone whose exchanges all failed has
/// the `--dhcp-option` lease alone. The SRV step is the caller's (it asks
/// the phone's own DNS server).
fn own_effect(cfg: &SimConfig, model: &DhcpLease, run: &DhcpRun, i: usize) -> LeaseEffect {
    lease_effect_of(cfg, &own_lease(model, run, i))
}

/// Phone `i`'s lease: its exchange's options over the `--dhcp-option`
/// ones, or those alone when its exchange failed.
fn own_lease(model: &DhcpLease, run: &DhcpRun, i: usize) -> DhcpLease {
    match run.lease_of(i) {
        Some(l) => crate::dhcp_client::merge(&l, model),
        None => model.clone(),
    }
}

/// One phone's status `dhcp` object: `e`'s, its addresses and servers;
/// each failed exchange is an `error` (`v6.error`).
fn phone_status(e: &LeaseEffect, run: &DhcpRun, i: usize) -> serde_json::Value {
    let mut st = e.status();
    if let Some(r) = run.phones.get(i) {
        match &r.outcome {
            Ok(b) => {
                st["address"] = b.address.to_string().into();
                st["server"] = b.server.to_string().into();
            }
            Err(line) => st["error"] = line.clone().into(),
        }
        st["vendor_class_sent"] = r.vendor_class.clone().into();
    }
    if let Some(r) = run.phones6.get(i) {
        st["v6"] = match &r.outcome {
            Ok(b) => serde_json::json!({
                "address": b.address.to_string(),
                "server_id": b.server_id,
                "options": b.lease.options_v6,
            }),
            Err(line) => serde_json::json!({ "error": line }),
        };
    }
    st
}

fn dhcp_report(d: &DhcpRun, phones: Vec<serde_json::Value>) -> DhcpReport {
    let mut r = DhcpReport {
        interface: d.interface.clone(),
        ip_mode: match d.mode {
            Some(crate::dhcp_client::IpMode::V6) => "IPv6 Only",
            Some(crate::dhcp_client::IpMode::Dual) => "Dual Mode",
            _ => "IPv4 Only",
        }
        .into(),
        ignored: d.unmatched,
        phones,
        ..DhcpReport::default()
    };
    for p in &d.phones {
        let c = p.counters;
        r.ignored += c.garbage + c.not_a_reply + c.wrong_xid + c.wrong_chaddr + c.unexpected;
        r.naks += c.naks;
        match &p.outcome {
            Ok(_) => r.bound += 1,
            Err(line) => {
                r.failed += 1;
                *r.failures.entry(line.clone()).or_default() += 1;
            }
        }
    }
    for p in &d.phones6 {
        r.ignored += p.counters.ignored();
        r.no_addrs += p.counters.no_addrs;
        match &p.outcome {
            Ok(_) => r.bound6 += 1,
            Err(line) => {
                r.failed6 += 1;
                *r.failures.entry(line.clone()).or_default() += 1;
            }
        }
    }
    r
}

/// Raises the soft open-file limit to the hard limit: each transfer in
/// flight holds a socket, and the usual soft limit (1024) is below the
/// default `--concurrency` (2000). Warns when even the hard limit is lower.
fn raise_fd_limit(concurrency: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    if lim.rlim_cur < concurrency as libc::rlim_t + 64 {
        tracing::warn!(
            "open-file limit {} is below --concurrency {concurrency}: transfers may fail with \"too many open files\"; lower --concurrency or raise `ulimit -n`",
            lim.rlim_cur
        );
    }
}

/// Runs `cfg` to the end and returns the report.
pub async fn run_fleet(cfg: SimConfig) -> Result<FleetReport, SimError> {
    Ok(Fleet::start(cfg).await?.wait().await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_transport::DhcpLease;

    #[test]
    fn r_dhcp_lease_in_option_order() {
        let mut cfg = SimConfig::new(1);
        cfg.lease = DhcpLease::parse(["160=http://pv/$MA.xml", "150=10.0.0.9"]).unwrap();
        let e = lease_effect(&cfg);
        assert_eq!(e.profile_rule.as_deref(), Some("http://pv/$MA.xml"));
        assert_eq!(e.default_server, None);
        cfg.params
            .push(("DHCP_Option_To_Use".into(), "150,160".into()));
        let e = lease_effect(&cfg);
        assert_eq!(e.default_server.as_deref(), Some("10.0.0.9"));
        assert_eq!(e.profile_rule, None);
        cfg.params.push(("Profile_Rule".into(), "/x.cfg".into()));
        cfg.params.push(("DHCP_Option_To_Use".into(), "160".into()));
        assert_eq!(lease_effect(&cfg).profile_rule, None);
    }

    /// R-FMT-7 / issue 16: the `--count 1` report (`--json` and text)
    /// shows a secret's parameter as set, never its value.
    #[tokio::test]
    async fn r_fmt_7_the_fleet_report_never_holds_secrets() {
        let mut cfg = SimConfig::new(1);
        cfg.params = [
            ("Profile_Rule", "http://127.0.0.1:1/p.xml"),
            ("IKM_HTTP_Encrypt_Content", "ikm-Secret-42"),
            ("Password_1_", "line-Secret-7"),
            ("GPP_A", "visible"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let r = run_fleet(cfg).await.unwrap();
        let p = r
            .final_params
            .as_ref()
            .expect("--count 1 keeps the parameters");
        assert_eq!(p["IKM_HTTP_Encrypt_Content"], "********");
        assert_eq!(p["Password_1_"], "********");
        assert_eq!(p["GPP_A"], "visible");
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("Secret"), "{json}");
        assert!(!r.to_text().contains("Secret"), "{}", r.to_text());
    }

    #[test]
    fn r_dhcp_2_options_6_15_42_56() {
        let mut cfg = SimConfig::new(1);
        cfg.lease = DhcpLease::parse([
            "6=10.0.0.53, 10.0.0.54",
            "15=example.test",
            "42=10.0.0.123 10.0.0.124",
            "56=Welcome to the lab",
        ])
        .unwrap();
        let e = lease_effect(&cfg);
        assert_eq!(e.dns_servers, ["10.0.0.53", "10.0.0.54"]);
        assert_eq!(e.domain.as_deref(), Some("example.test"));
        assert_eq!(e.ntp_servers, ["10.0.0.123", "10.0.0.124"]);
        let s = e.status();
        assert_eq!(s["message"], "Welcome to the lab");
        assert_eq!(s["ntp_servers"][1], "10.0.0.124");
        assert!(!e.gives_server(), "6/15/42/56 name no provisioning server");
    }

    #[test]
    fn r_dhcp_2_v6_23_24_56_stand_in_for_6_15_42() {
        let mut cfg = SimConfig::new(1);
        cfg.lease = DhcpLease::parse([
            "v6:23=fd00::53,fd00::54",
            "v6:24=lab6.example,corp.example",
            "v6:56=fd00::123",
            "v6:31=fd00::124",
        ])
        .unwrap();
        let e = lease_effect(&cfg);
        assert_eq!(e.dns_servers, ["fd00::53", "fd00::54"]);
        assert_eq!(e.domain.as_deref(), Some("lab6.example"));
        assert_eq!(e.ntp_servers, ["fd00::123"]);
        // The v4 options win where both are given.
        cfg.lease = DhcpLease::parse([
            "6=10.0.0.53",
            "15=example.test",
            "v6:23=fd00::53",
            "v6:24=lab6.example",
            "v6:31=fd00::124",
        ])
        .unwrap();
        let e = lease_effect(&cfg);
        assert_eq!(e.dns_servers, ["10.0.0.53"]);
        assert_eq!(e.domain.as_deref(), Some("example.test"));
        assert_eq!(e.ntp_servers, ["fd00::124"], "SNTP when no NTP");
    }

    #[test]
    fn ip_mode_is_the_phones_ip_mode_and_v4_without_it() {
        use crate::dhcp_client::IpMode;
        assert_eq!(IpMode::parse(None).unwrap(), IpMode::V4);
        assert_eq!(IpMode::parse(Some("IPv4 Only")).unwrap(), IpMode::V4);
        assert_eq!(IpMode::parse(Some("ipv6 only")).unwrap(), IpMode::V6);
        assert_eq!(IpMode::parse(Some(" Dual Mode ")).unwrap(), IpMode::Dual);
        let e = IpMode::parse(Some("IPv5")).unwrap_err().to_string();
        assert!(e.contains("IP_Mode") && e.contains("Dual Mode"), "{e}");
        assert!(IpMode::Dual.v4() && IpMode::Dual.v6());
        assert!(!IpMode::V6.v4() && !IpMode::V4.v6());
    }
}
