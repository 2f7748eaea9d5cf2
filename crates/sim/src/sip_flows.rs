//! The SIP flows of one phone's line registrations (R-SEC-3): the I/O of
//! [`phoneprov_phone::register`]'s machine, which builds every message and
//! owns every timer (RFC 3261 timers E and F run on the phone's clock).
//!
//! [`SipFlows::open`] starts one task per flow: it opens the socket,
//! connection or TLS session ([`crate::exec::Net::sip_open`]), answers
//! `SipOpened` or `SipFlowFailed`, then sends what the machine gives it
//! and feeds every message that arrives back as `SipReceived` (answers,
//! and the registrar's requests on a kept flow: the machine keeps a
//! registered line's flow open). Closing a flow (or dropping [`SipFlows`]
//! at a power cut) ends its task.

use std::collections::HashMap;
use std::sync::Arc;

use phoneprov_phone::register::SipFlow;
use phoneprov_phone::{Input, ParamStore};
use tokio::sync::mpsc;

use crate::exec::{flow_error, Net};

/// The open flows of one phone and the channel their inputs come on.
pub(crate) struct SipFlows {
    flows: HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>,
    tx: mpsc::UnboundedSender<Input>,
    rx: mpsc::UnboundedReceiver<Input>,
}

impl Default for SipFlows {
    fn default() -> SipFlows {
        let (tx, rx) = mpsc::unbounded_channel();
        SipFlows {
            flows: HashMap::new(),
            tx,
            rx,
        }
    }
}

impl SipFlows {
    /// Opens `flow` with the phone's parameters and custom CA as of now.
    pub(crate) fn open(
        &mut self,
        net: Arc<Net>,
        mac: String,
        params: ParamStore,
        custom_ca: Option<Vec<u8>>,
        flow: SipFlow,
    ) {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        self.flows.insert(flow.id, out_tx);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let id = flow.id;
            let fail = |error| Input::SipFlowFailed { flow: id, error };
            let mut conn = match net
                .sip_open(&mac, &params, custom_ca.as_deref(), &flow)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(fail(e));
                    return;
                }
            };
            let local = conn.local().to_string();
            if tx.send(Input::SipOpened { flow: id, local }).is_err() {
                return; // the phone is gone
            }
            loop {
                tokio::select! {
                    bytes = out_rx.recv() => match bytes {
                        Some(b) => {
                            if let Err(e) = conn.send(&b).await {
                                let _ = tx.send(fail(flow_error(e)));
                                return;
                            }
                        }
                        None => return, // closed
                    },
                    msg = conn.recv() => {
                        let input = match msg {
                            Ok(bytes) => Input::SipReceived { flow: id, bytes },
                            Err(e) => fail(flow_error(e)),
                        };
                        let broken = matches!(input, Input::SipFlowFailed { .. });
                        if tx.send(input).is_err() || broken {
                            return;
                        }
                    }
                }
            }
        });
    }

    /// Sends on an open flow (a closed one drops the bytes).
    pub(crate) fn send(&self, flow: u64, bytes: Vec<u8>) {
        if let Some(f) = self.flows.get(&flow) {
            let _ = f.send(bytes);
        }
    }

    /// Closes the flow: its task ends.
    pub(crate) fn close(&mut self, flow: u64) {
        self.flows.remove(&flow);
    }

    /// The next input of any flow.
    pub(crate) async fn next(&mut self) -> Option<Input> {
        self.rx.recv().await
    }
}
