//! How a driver paces one [`Device`]: the decisions of `phoneprov sim`'s
//! per-phone loop that are not I/O, here so they run on a virtual clock
//! (`tests/pacing.rs`).
//!
//! * **The phone's clock.** [`Pacer::now`] is the driver's wall clock plus
//!   a skew. Under `--once` every timer of the engine is fast-forwarded
//!   (the skew moves so the timer is due now), except the boot resync,
//!   which keeps its `Resync_Random_Delay` spread unless `--boot-storm`
//!   (or the phone does not resync on reset). With an activation retry
//!   wait (`--activation-retry-wait`), the clock jumps over the rest of a
//!   longer activation back-off. Nothing is fast-forwarded while a SIP
//!   REGISTER or a TR-069 session is in flight: their timers are the
//!   network's.
//! * **When the phone is done** ([`Step::Stop`]) under `--once`: a resync
//!   finished (and activation, the TR-069 agent and the SIP registrations
//!   are settled), or the
//!   engine is held off by a settled activation round, or nothing can
//!   happen any more (no timer, nobody can send an input), each only with
//!   no transfer in flight and no upgrade running.
//! * **Which timer fired**: [`Pacer::on_timer`] feeds the device at the
//!   phone's time and notes that the boot timer is past.
//!
//! The driver owns the sockets and futures; it tells the pacer what it
//! sees ([`Pacer::on_action`], [`Pacer::inputs_closed`],
//! [`Pacer::power_cut`]) and whether its transfers are idle.

use crate::types::{Action, Input, Purpose, Time};
use crate::Device;

/// How the driver runs the device (the simulator's flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunPolicy {
    /// `--once`: stop after the first resync (timers fast-forwarded).
    pub once: bool,
    /// `--boot-storm`: the boot resync is not spread either.
    pub boot_storm: bool,
    /// `--activation-retry-wait`: the most real time an activation
    /// back-off takes, ms.
    pub activation_retry_wait_ms: Option<u64>,
    /// Under `--once`, the TR-069 agent is settled after this many failed
    /// sessions (or one good one).
    pub inform_attempts: u32,
    /// Someone (the TR-069 agent) holds an input sender for the phone's
    /// whole life, so a closed input channel cannot say that nobody will
    /// send any more; a settled session does.
    pub inputs_held: bool,
}

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The phone is done (`--once`).
    Stop,
    /// Wait for an input, a transfer, or this many ms of real time for
    /// the next timer (`None`: no timer armed).
    Wait(Option<u64>),
}

/// The driver's decisions for one device; see the module docs.
#[derive(Debug, Clone)]
pub struct Pacer {
    policy: RunPolicy,
    /// Phone time minus wall time, ms.
    skew: u64,
    /// The next engine timer is the boot resync's.
    boot_timer: bool,
    /// A resync finished (under `--once`).
    resynced: bool,
    /// A firmware transfer or install is under way.
    upgrading: bool,
    inputs_open: bool,
    /// The engine timer the last [`Pacer::step`] waited for.
    armed: Option<Time>,
}

impl Pacer {
    pub fn new(policy: RunPolicy) -> Pacer {
        Pacer {
            policy,
            skew: 0,
            boot_timer: false,
            resynced: false,
            upgrading: false,
            inputs_open: true,
            armed: None,
        }
    }

    /// The phone's time at driver wall time `wall_ms`.
    pub fn now(&self, wall_ms: u64) -> Time {
        Time(wall_ms + self.skew)
    }

    /// How far the phone's clock is ahead of the wall clock, ms.
    pub fn skew_ms(&self) -> u64 {
        self.skew
    }

    /// Notes an action the device produced (before the driver carries it out).
    pub fn on_action(&mut self, action: &Action) {
        match action {
            Action::Fetch(r) if r.purpose == Purpose::Firmware => self.upgrading = true,
            Action::ResyncFinished { .. } if self.policy.once => self.resynced = true,
            Action::UpgradeFinished { .. } | Action::Reboot { .. } => self.upgrading = false,
            Action::PoweredOn => self.boot_timer = true,
            _ => {}
        }
    }

    /// Feeds `input` to the device at the phone's time. A reboot or
    /// factory reset cuts the power: the driver drops its operations in
    /// flight ([`Pacer::power_cut`] is implied here).
    pub fn input(&mut self, dev: &mut Device, input: Input, wall_ms: u64) {
        if matches!(input, Input::Reboot | Input::FactoryReset) {
            self.power_cut();
        }
        dev.handle_input(input, self.now(wall_ms));
    }

    /// The power went: no upgrade is under way any more.
    pub fn power_cut(&mut self) {
        self.upgrading = false;
    }

    /// Whether someone may still send the phone an input.
    pub fn inputs_open(&self) -> bool {
        self.inputs_open
    }

    /// Nobody can send the phone an input any more.
    pub fn inputs_closed(&mut self) {
        self.inputs_open = false;
    }

    /// The next step, at wall time `wall_ms`; `transfers_idle`: the driver
    /// has no transfer in flight or queued. May move the phone's clock.
    pub fn step(&mut self, dev: &Device, wall_ms: u64, transfers_idle: bool) -> Step {
        let once = self.policy.once;
        // --once with activation: one round (final, or a retry armed).
        // Under --once, the TR-069 agent and the SIP registrations over
        // TLS have had their first outcome too.
        let act_settled = dev.activation_settled()
            && (!once
                || (dev.inform_settled(self.policy.inform_attempts)
                    && dev.registrations_settled()));
        let held_done = once && dev.customization().is_some() && !dev.engine_on() && act_settled;
        if ((self.resynced && act_settled) || held_done) && transfers_idle && !self.upgrading {
            return Step::Stop;
        }
        let timeout = dev.engine_timeout();
        let nobody_sends = !self.inputs_open || self.policy.inputs_held;
        if once && transfers_idle && timeout.is_none() && nobody_sends && act_settled {
            // Nothing can happen any more (e.g. Provision_Enable = No):
            // the phone ends without a resync.
            return Step::Stop;
        }
        // A REGISTER or a TR-069 session in flight keeps real time: its
        // timers are the network's.
        let network = dev.sip_in_flight() || dev.inform_in_session();
        if let (true, false, Some(t)) = (transfers_idle, network, timeout) {
            let fast = if self.boot_timer {
                self.policy.boot_storm || (once && !dev.params().get_bool("Resync_On_Reset", true))
            } else {
                once
            };
            let n = self.now(wall_ms);
            if fast && t > n {
                self.skew += t.0 - n.0;
            }
        }
        if let (Some(at), Some(wait)) = (
            dev.activation_retry_at(),
            self.policy.activation_retry_wait_ms,
        ) {
            let n = self.now(wall_ms).0;
            if at.0 > n + wait {
                self.skew += at.0 - n - wait;
            }
        }
        self.armed = timeout;
        let n = self.now(wall_ms);
        Step::Wait(dev.poll_timeout().map(|t| t.0.saturating_sub(n.0)))
    }

    /// The wait of the last [`Pacer::step`] ended: runs the device's timers.
    pub fn on_timer(&mut self, dev: &mut Device, wall_ms: u64) {
        let n = self.now(wall_ms);
        if self.armed.is_some_and(|t| t <= n) {
            self.boot_timer = false;
        }
        dev.handle_timeout(n);
    }
}
