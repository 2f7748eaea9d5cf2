//! Test harness: one phone, a virtual clock and a scripted network.
//! Fetches are answered at the time they are made (or after `latency_ms`)
//! by a closure standing in for the servers.
#![allow(dead_code)]

use phoneprov_phone::*;
use std::collections::HashMap;

pub const DAY_MS: u64 = 86_400_000;

pub fn identity() -> PhoneIdentity {
    PhoneIdentity {
        mac: "00:0e:08:ab:cd:ef".into(),
        serial: "88012BA01234".into(),
        pn: "CP-8841-3PCC".into(),
        psn: "8841".into(),
        swver: "11.0.1".into(),
        hwver: "2".into(),
    }
}

pub fn http(status: u16, headers: &[(&str, &str)], body: &[u8]) -> FetchResult {
    FetchResult::Http {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

pub fn ok_xml(xml: &str) -> FetchResult {
    http(200, &[], xml.as_bytes())
}

pub fn profile(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("<flat-profile>\n");
    for (k, v) in pairs {
        s.push_str(&format!("  <{k}>{v}</{k}>\n"));
    }
    s.push_str("</flat-profile>\n");
    s
}

type Server = Box<dyn FnMut(&FetchRequest) -> FetchResult>;

/// A phone, its clock, its network and everything it did.
pub struct Harness {
    pub phone: Phone,
    pub now: Time,
    server: Server,
    /// Every action with the time it came out.
    pub log: Vec<(Time, Action)>,
}

impl Harness {
    pub fn new(
        params: &[(&str, &str)],
        server: impl FnMut(&FetchRequest) -> FetchResult + 'static,
    ) -> Self {
        Self::with_config(params, |_| {}, server)
    }

    pub fn with_config(
        params: &[(&str, &str)],
        tweak: impl FnOnce(&mut PhoneConfig),
        server: impl FnMut(&FetchRequest) -> FetchResult + 'static,
    ) -> Self {
        let mut cfg = PhoneConfig::new(identity());
        cfg.seed = 7;
        cfg.default_server = Some("192.168.1.200".into());
        cfg.initial_params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tweak(&mut cfg);
        Harness {
            phone: Phone::new(cfg),
            now: Time(0),
            server: Box::new(server),
            log: Vec::new(),
        }
    }

    /// Replaces the network.
    pub fn set_server(&mut self, server: impl FnMut(&FetchRequest) -> FetchResult + 'static) {
        self.server = Box::new(server);
    }

    pub fn input(&mut self, input: Input) {
        self.phone.handle_input(input, self.now);
        self.pump();
    }

    /// Powers on and runs the timers due at once (a boot resync with
    /// `Resync_Random_Delay = 0`).
    pub fn power_on(&mut self) {
        self.input(Input::PowerOn);
        self.run_until(self.now);
    }

    /// Answers every fetch at once until no action is left.
    pub fn pump(&mut self) {
        while let Some(a) = self.phone.poll_action() {
            self.log.push((self.now, a.clone()));
            if let Action::Fetch(req) = a {
                let result = (self.server)(&req);
                self.phone.handle_input(
                    Input::FetchDone {
                        id: req.id,
                        result,
                        server_ip: None,
                    },
                    self.now,
                );
            }
        }
    }

    /// Runs timers until virtual time `until` (inclusive).
    pub fn run_until(&mut self, until: Time) {
        self.pump();
        while let Some(t) = self.phone.poll_timeout() {
            if t > until {
                break;
            }
            self.now = t.max(self.now);
            self.phone.handle_timeout(self.now);
            self.pump();
        }
        self.now = self.now.max(until);
    }

    pub fn run_for_secs(&mut self, s: u64) {
        let t = self.now.plus_secs(s);
        self.run_until(t);
    }

    pub fn fetches(&self) -> Vec<(Time, FetchRequest)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Fetch(r) => Some((*t, r.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn fetch_urls(&self) -> Vec<String> {
        self.fetches()
            .iter()
            .map(|(_, r)| r.url.to_string())
            .collect()
    }

    pub fn syslogs(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Syslog { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// `(time, class, error)` of every finished resync.
    pub fn resyncs(&self) -> Vec<(Time, Class, Option<String>)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::ResyncFinished { class, error } => Some((*t, *class, error.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn classes(&self) -> Vec<Class> {
        self.resyncs().into_iter().map(|(_, c, _)| c).collect()
    }

    pub fn last_class(&self) -> Class {
        self.resyncs().last().expect("no resync finished").1
    }

    pub fn param(&self, name: &str) -> String {
        self.phone.params().get_or_empty(name).to_string()
    }

    pub fn clear_log(&mut self) {
        self.log.clear();
    }
}

/// A network of fixed answers by URL (`scheme://host[:port]/path`): each
/// URL's answers are used in order, the last one repeating; unknown URLs
/// get `TftpNotFound` / HTTP 404.
pub fn routes(routes: &[(&str, Vec<FetchResult>)]) -> impl FnMut(&FetchRequest) -> FetchResult {
    let mut map: HashMap<String, (Vec<FetchResult>, usize)> = routes
        .iter()
        .map(|(u, r)| (u.to_string(), (r.clone(), 0)))
        .collect();
    move |req: &FetchRequest| {
        let key = req.url.to_string();
        match map.get_mut(&key) {
            Some((answers, n)) => {
                let r = answers[(*n).min(answers.len() - 1)].clone();
                *n += 1;
                r
            }
            None if req.url.scheme == Scheme::Tftp => FetchResult::TftpNotFound,
            None => http(404, &[], b""),
        }
    }
}
