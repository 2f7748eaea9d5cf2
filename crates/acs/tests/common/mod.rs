//! Shared helpers: an ACS on a loopback port over a temporary data
//! directory, a phone-like data model, and an HTTP CPE that drives
//! `phoneprov_cwmp::CpeSession` over a real hyper client connection
//! (keeping cookies, answering 401 with Digest like a CPE shell does).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE, WWW_AUTHENTICATE};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use phoneprov_acs::{Acs, AcsSettings};
use phoneprov_cwmp::*;
use phoneprov_httpauth::{authorization, best_challenge, parse_challenges, Challenge, Credentials};
use phoneprov_store::{Mac, NewDevice, Store};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub const MAC: &str = "000e08abcdef";
pub const SERIAL: &str = "FCH2231A7QX";
pub const SW: &str = "Device.DeviceInfo.SoftwareVersion";
pub const CR_URL: &str = "Device.ManagementServer.ConnectionRequestURL";
pub const PKEY: &str = "Device.ManagementServer.ParameterKey";
pub const INTERVAL: &str = "Device.ManagementServer.PeriodicInformInterval";
pub const CIPHERS: &str = "Device.X_CISCO_SecuritySettings.TLSCipherList";
pub const LINES: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";

pub fn mac() -> Mac {
    Mac::parse(MAC).unwrap()
}

/// A running ACS.
pub struct Running {
    pub acs: Acs,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }
}

/// Adds the test phone to the inventory of `dir` (known by serial).
pub fn add_phone(dir: &Path) {
    let mut store = Store::open(dir).unwrap();
    let mut dev = NewDevice::new(mac());
    dev.serial = Some(SERIAL.into());
    dev.model = Some("CP-8841-3PCC".into());
    store.add_device(&dev).unwrap();
}

pub async fn start(dir: &Path, settings: AcsSettings) -> Running {
    let acs = Acs::open(dir, settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = acs.clone();
    let task = tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = rx.await;
            })
            .await
    });
    Running {
        acs,
        addr,
        stop: Some(tx),
        task: Some(task),
    }
}

/// No authentication (most session tests).
pub fn open_settings() -> AcsSettings {
    AcsSettings {
        auth: phoneprov_acs::AcsAuth::None,
        ..AcsSettings::default()
    }
}

/// A Cisco 3PCC-like data model.
pub fn phone_model() -> MemoryDataModel {
    let mut m = MemoryDataModel::new();
    m.insert(
        "Device.DeviceInfo.Manufacturer",
        "Cisco",
        ValueType::String,
        false,
    )
    .insert(SW, "sip88xx.12-0-1MPP-407", ValueType::String, false)
    .insert(CR_URL, "http://127.0.0.1:9/cr", ValueType::String, false)
    .insert(PKEY, "", ValueType::String, false)
    .insert(INTERVAL, "3600", ValueType::UnsignedInt, true)
    .insert(CIPHERS, "", ValueType::String, true)
    .add_table(
        LINES,
        &[
            ("Enable", "0", ValueType::Boolean, true),
            ("DirectoryNumber", "", ValueType::String, true),
        ],
    );
    m
}

pub fn device_id(serial: &str) -> DeviceId {
    DeviceId {
        manufacturer: "Cisco".into(),
        oui: "000E08".into(),
        product_class: "CP-8841-3PCC".into(),
        serial_number: serial.into(),
    }
}

/// An Inform with `events` and the forced parameters of `model`.
pub fn inform(model: &MemoryDataModel, serial: &str, events: Vec<EventCode>) -> Inform {
    Inform {
        device_id: device_id(serial),
        events: events.into_iter().map(Event::new).collect(),
        max_envelopes: 1,
        current_time: "2026-11-21T20:00:00Z".into(),
        retry_count: 0,
        parameters: model.inform_parameters(),
    }
}

/// An HTTP CPE: one keep-alive connection, cookies, Digest on 401.
pub struct HttpCpe {
    pub addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    pub cookie: Option<String>,
    creds: Option<Credentials>,
    challenge: Option<Challenge>,
    nc: u32,
    /// Statuses seen, 401s included.
    pub statuses: Vec<u16>,
    /// Connections opened.
    pub connects: u32,
}

impl HttpCpe {
    pub fn new(addr: SocketAddr, creds: Option<Credentials>) -> HttpCpe {
        HttpCpe {
            addr,
            sender: None,
            cookie: None,
            creds,
            challenge: None,
            nc: 0,
            statuses: Vec::new(),
            connects: 0,
        }
    }

    async fn connect(&mut self) {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        self.sender = Some(sender);
        self.connects += 1;
        self.challenge = None;
    }

    /// Closes the connection (a CPE dropping mid-session).
    pub fn drop_connection(&mut self) {
        self.sender = None;
    }

    /// POSTs `body`; answers one 401 with credentials. Returns status and body.
    pub async fn post(&mut self, body: &[u8]) -> (u16, Vec<u8>) {
        for _ in 0..3 {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                self.connect().await;
            }
            let mut req = Request::post("/").header(HOST, self.addr.to_string());
            if !body.is_empty() {
                req = req.header(CONTENT_TYPE, "text/xml; charset=\"utf-8\"");
            }
            if let Some(c) = &self.cookie {
                req = req.header(COOKIE, format!("{}={c}", session::COOKIE_NAME));
            }
            if let (Some(ch), Some(creds)) = (&self.challenge, &self.creds) {
                self.nc += 1;
                let a = authorization(ch, creds, "POST", "/", body, "0a4f113b", self.nc);
                req = req.header(AUTHORIZATION, a);
            }
            let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
            let sender = self.sender.as_mut().unwrap();
            if sender.ready().await.is_err() {
                self.sender = None;
                continue;
            }
            let resp = match sender.send_request(req).await {
                Ok(r) => r,
                Err(_) => {
                    self.sender = None;
                    continue;
                }
            };
            let status = resp.status().as_u16();
            self.statuses.push(status);
            if let Some(c) = resp
                .headers()
                .get(SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(session::cookie_from_header)
            {
                self.cookie = Some(c.to_string());
            }
            let challenges: Vec<String> = resp
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec();
            if status == 401 && self.creds.is_some() && self.challenge.is_none() {
                let parsed: Vec<Challenge> = challenges
                    .iter()
                    .flat_map(|c| parse_challenges(c).unwrap())
                    .collect();
                let best = best_challenge(&parsed).expect("a usable challenge").clone();
                // The server may close after a 401 whose body it did not read.
                self.sender = None;
                self.connect().await;
                self.challenge = Some(best);
                self.nc = 0;
                continue;
            }
            return (status, bytes);
        }
        panic!("POST to the ACS failed three times");
    }
}

/// Runs one whole session; returns the finished CPE machine.
pub async fn run_session(
    cpe: &mut HttpCpe,
    mut session: CpeSession,
    model: &mut MemoryDataModel,
) -> Result<CpeSession, CpeError> {
    let mut body = session.start();
    loop {
        let (status, resp) = cpe.post(&body).await;
        match session.handle_response(status, &resp, model)? {
            CpeStep::Post(next) => body = next,
            CpeStep::Done => return Ok(session),
        }
    }
}
