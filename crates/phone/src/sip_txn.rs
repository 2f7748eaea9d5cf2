//! The SIP non-INVITE client transaction (RFC 3261 §17.1.2), sans-IO, on
//! the phone's [`Time`]: the one transaction of both sides, the phone's
//! REGISTER ([`crate::register`]) and serve's NOTIFY sender
//! (`phoneprov_transport::send_notify`).
//!
//! * Over UDP (unreliable) the request is retransmitted on timer E: after
//!   T1, the interval doubling up to T2; after a provisional answer every
//!   T2 (the interval is restarted at the 1xx). Timer F ends the
//!   transaction without a final answer. After the final answer the
//!   transaction stays *completed* for timer K (T4) to absorb the
//!   answer's retransmissions.
//! * Over TCP and TLS (reliable) nothing is retransmitted, timer F is the
//!   limit, and timer K is zero.
//!
//! An answer belongs to the transaction when its top `Via` carries the
//! request's branch (when the answer has one) and its `CSeq` is the
//! request's (RFC 3261 §17.1.3). The caller sends the bytes the
//! transaction hands out and feeds it every answer and every due
//! [`ClientTransaction::poll_timeout`]; a Digest challenge is the caller's
//! business (a new transaction: new branch, next CSeq).

use crate::sip::{SipRequest, SipResponse};
use crate::types::Time;

/// RFC 3261's timers, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub t1: u64,
    pub t2: u64,
    pub t4: u64,
    /// Timer F (64·T1 by default).
    pub f: u64,
}

impl Timers {
    /// T1 = `t1`, T2 = 4 s (at least T1), T4 = 5 s, F = 64·T1.
    pub fn with_t1(t1: u64) -> Timers {
        Timers {
            t1,
            t2: 4000.max(t1),
            t4: 5000,
            f: 64 * t1,
        }
    }
}

impl Default for Timers {
    /// RFC 3261's defaults: T1 500 ms, T2 4 s, T4 5 s, F 32 s.
    fn default() -> Timers {
        Timers::with_t1(500)
    }
}

/// Where the transaction is (RFC 3261 Figure 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// What an answer was to the transaction ([`ClientTransaction::on_response`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A 1xx.
    Provisional,
    /// The final answer (once: its retransmissions are [`Answer::Absorbed`]).
    Final,
    /// A retransmitted final answer, or one after the end.
    Absorbed,
    /// Not this transaction's (another branch or CSeq).
    NotOurs,
}

/// What a due timer did ([`ClientTransaction::on_timer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// Timer E: send these bytes again.
    Retransmit(Vec<u8>),
    /// Timer F: no final answer in time; the transaction is over.
    TimedOut,
}

/// One non-INVITE client transaction; see the module docs.
#[derive(Debug, Clone)]
pub struct ClientTransaction {
    bytes: Vec<u8>,
    branch: Option<String>,
    cseq: String,
    reliable: bool,
    timers: Timers,
    state: State,
    /// Timer E's interval and when it fires (UDP only).
    interval: u64,
    resend_at: Option<Time>,
    timer_f: Time,
    timer_k: Option<Time>,
    transmissions: u32,
}

/// The `branch` parameter of a `Via` value.
fn branch_of(via: &str) -> Option<String> {
    via.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("branch")
            .then(|| v.trim().to_string())
    })
}

impl ClientTransaction {
    /// Starts the transaction of `req` at `now`; the caller puts
    /// [`ClientTransaction::request`] on the wire now (the first of
    /// [`ClientTransaction::transmissions`]).
    pub fn start(req: &SipRequest, reliable: bool, timers: Timers, now: Time) -> ClientTransaction {
        ClientTransaction {
            bytes: req.to_bytes(),
            branch: req.header("Via").and_then(branch_of),
            cseq: req.header("CSeq").unwrap_or_default().trim().to_string(),
            reliable,
            timers,
            state: State::Trying,
            interval: timers.t1,
            resend_at: (!reliable).then(|| now.plus_millis(timers.t1)),
            timer_f: now.plus_millis(timers.f),
            timer_k: None,
            transmissions: 1,
        }
    }

    /// The request's bytes.
    pub fn request(&self) -> &[u8] {
        &self.bytes
    }

    /// How many times the request went out, retransmissions included.
    pub fn transmissions(&self) -> u32 {
        self.transmissions
    }

    /// Waiting for the final answer (trying or proceeding).
    pub fn is_pending(&self) -> bool {
        matches!(self.state, State::Trying | State::Proceeding)
    }

    /// Over: timer F fired, or timer K after the final answer.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether `resp` answers this request.
    pub fn matches(&self, resp: &SipResponse) -> bool {
        let cseq_ok = resp.header("CSeq").map(str::trim) == Some(self.cseq.as_str());
        let branch_ok = match (resp.header("Via").and_then(branch_of), &self.branch) {
            (Some(got), Some(want)) => got == *want,
            _ => true,
        };
        cseq_ok && branch_ok
    }

    /// An answer arrived at `now`.
    pub fn on_response(&mut self, resp: &SipResponse, now: Time) -> Answer {
        if !self.matches(resp) {
            return Answer::NotOurs;
        }
        match self.state {
            State::Completed | State::Terminated => Answer::Absorbed,
            State::Trying | State::Proceeding if resp.code < 200 => {
                self.state = State::Proceeding;
                if !self.reliable {
                    // From now on every T2 (RFC 3261 §17.1.2.2).
                    self.interval = self.timers.t2;
                    self.resend_at = Some(now.plus_millis(self.timers.t2));
                }
                Answer::Provisional
            }
            State::Trying | State::Proceeding => {
                self.resend_at = None;
                if self.reliable {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Completed;
                    self.timer_k = Some(now.plus_millis(self.timers.t4));
                }
                Answer::Final
            }
        }
    }

    /// The next time [`ClientTransaction::on_timer`] has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        match self.state {
            State::Trying | State::Proceeding => Some(match self.resend_at {
                Some(e) => e.min(self.timer_f),
                None => self.timer_f,
            }),
            State::Completed => self.timer_k,
            State::Terminated => None,
        }
    }

    /// Runs the timers due at `now`.
    pub fn on_timer(&mut self, now: Time) -> Option<Fired> {
        match self.state {
            State::Trying | State::Proceeding => {
                if self.timer_f <= now {
                    self.state = State::Terminated;
                    self.resend_at = None;
                    return Some(Fired::TimedOut);
                }
                if self.resend_at.is_some_and(|at| at <= now) {
                    // Timer E: the same bytes, the interval doubled up to T2.
                    self.interval = (self.interval * 2).min(self.timers.t2);
                    self.resend_at = Some(now.plus_millis(self.interval));
                    self.transmissions += 1;
                    return Some(Fired::Retransmit(self.bytes.clone()));
                }
                None
            }
            State::Completed => {
                if self.timer_k.is_some_and(|k| k <= now) {
                    self.state = State::Terminated;
                }
                None
            }
            State::Terminated => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(branch: &str, cseq: u32) -> SipRequest {
        SipRequest {
            method: "OPTIONS".into(),
            uri: "sip:h".into(),
            headers: vec![
                (
                    "Via".into(),
                    format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch};rport"),
                ),
                ("From".into(), "<sip:a@h>;tag=1".into()),
                ("To".into(), "<sip:h>".into()),
                ("Call-ID".into(), "c".into()),
                ("CSeq".into(), format!("{cseq} OPTIONS")),
            ],
            body: Vec::new(),
        }
    }

    fn resp(code: u16, branch: &str, cseq: u32) -> SipResponse {
        let text = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.1;branch={branch};rport=5060\r\nCSeq: {cseq} OPTIONS\r\n\r\n"
        );
        SipResponse::parse(text.as_bytes()).unwrap()
    }

    /// Drives the transaction to `until` ms: the send times.
    fn run(t: &mut ClientTransaction, from: u64, until: u64) -> (Vec<u64>, Option<u64>) {
        let mut sent = Vec::new();
        let mut timed_out = None;
        while let Some(at) = t.poll_timeout().filter(|at| at.0 <= until && at.0 >= from) {
            match t.on_timer(at) {
                Some(Fired::Retransmit(_)) => sent.push(at.0),
                Some(Fired::TimedOut) => timed_out = Some(at.0),
                None => {}
            }
        }
        (sent, timed_out)
    }

    #[test]
    fn udp_timer_e_doubles_to_t2_and_timer_f_ends_it() {
        let mut t =
            ClientTransaction::start(&req("z9hG4bKa", 1), false, Timers::default(), Time(0));
        let (sent, out) = run(&mut t, 0, 60_000);
        assert_eq!(
            sent,
            [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
        );
        assert_eq!(out, Some(32_000));
        assert_eq!(t.transmissions(), 11);
        assert!(t.is_terminated());
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn final_answer_once_then_timer_k_absorbs_retransmissions() {
        let mut t =
            ClientTransaction::start(&req("z9hG4bKa", 1), false, Timers::default(), Time(0));
        assert_eq!(
            t.on_response(&resp(200, "z9hG4bKb", 1), Time(10)),
            Answer::NotOurs
        );
        assert_eq!(
            t.on_response(&resp(200, "z9hG4bKa", 2), Time(10)),
            Answer::NotOurs
        );
        assert_eq!(
            t.on_response(&resp(200, "z9hG4bKa", 1), Time(10)),
            Answer::Final
        );
        assert_eq!(
            t.on_response(&resp(200, "z9hG4bKa", 1), Time(20)),
            Answer::Absorbed
        );
        assert!(!t.is_pending());
        assert_eq!(t.poll_timeout(), Some(Time(5010)));
        assert_eq!(t.on_timer(Time(5010)), None);
        assert!(t.is_terminated());
    }

    #[test]
    fn reliable_sends_once_and_terminates_at_once() {
        let mut t = ClientTransaction::start(&req("z9hG4bKa", 1), true, Timers::default(), Time(0));
        assert_eq!(t.poll_timeout(), Some(Time(32_000)));
        assert_eq!(
            t.on_response(&resp(100, "z9hG4bKa", 1), Time(5)),
            Answer::Provisional
        );
        assert_eq!(t.poll_timeout(), Some(Time(32_000)), "no timer E over TCP");
        assert_eq!(
            t.on_response(&resp(200, "z9hG4bKa", 1), Time(9)),
            Answer::Final
        );
        assert!(t.is_terminated(), "timer K is zero over TCP");
    }
}
