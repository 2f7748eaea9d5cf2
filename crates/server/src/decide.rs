//! Step 3 of the identification pipeline ([`crate::pipeline`]), decide:
//! for a profile request and its device row, the certificate/MAC match,
//! unknown or pending device (auto-registration), redirect,
//! authentication, and which variant to serve. A refusal ([`Refusal`])
//! ends the request; an [`Admitted`] request goes on to produce and
//! record. Checks that refuse requests belong here.

use phoneprov_store::{Mac, NewDevice};

use crate::auth::AuthResult;
use crate::extract::Request;
use crate::metrics_setup::Proto;
use crate::policy::{is_pending, vars, Policy};
use crate::render::{DevEntry, Variant};
use crate::state::AppState;

/// Why a request is refused at the decide step.
#[derive(Debug)]
pub enum Refusal {
    /// The client certificate names another device (403).
    CertMismatch {
        /// The certificate's MAC.
        cert_mac: String,
    },
    /// Credentials missing or wrong (401 with these challenges, sent after
    /// holding the reply back this long: the throttle's per-user delay).
    Challenge(Vec<String>, std::time::Duration),
    /// This client address failed too often: 429 with `Retry-After`,
    /// credentials not checked (issue 12 item 3).
    Throttled(std::time::Duration),
    /// `[[auth]]` covers the device and the protocol (TFTP) cannot carry
    /// credentials: answered exactly like an unknown device, and nothing
    /// is recorded (issue 12 item 5: TFTP does not tell a known,
    /// credential-protected MAC from an unknown one).
    NoCredentials,
    /// The inventory could not be read (503).
    Unavailable,
}

/// Step 3's verdict for an admitted request.
#[derive(Debug)]
pub enum Decision {
    /// Serve this form of the profile.
    Serve(Variant),
    /// Redirect (`permanent`: 301) to the URL.
    Redirect(bool, String),
    /// Not in the inventory; `register`: the row auto-registration adds
    /// (as pending) when it is on.
    Unknown {
        /// The row to add.
        register: Option<NewDevice>,
    },
    /// Awaiting approval.
    Pending,
}

/// A request that passed the decide step, with the decision. Only this
/// module makes one ([`decide`], [`file`]); the record step
/// ([`crate::record`]) takes one, so nothing is recorded for a request
/// that was refused.
#[derive(Debug)]
pub struct Admitted<D = Decision> {
    decision: D,
    proof: Proof,
}

/// What proved that the request came from the device it names (the
/// access log's `proof` field, issue 17 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proof {
    /// Nothing: the MAC is only claimed (path or User-Agent).
    #[default]
    None,
    /// The source address is in `security.preprovision_networks`.
    Source,
    /// Credentials that `[[auth]]` checked (Basic or Digest).
    Password,
    /// A verified client certificate naming the device.
    Certificate,
}

impl Proof {
    /// The access log's word: `-`, `source`, `password`, `cert`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::None => "-",
            Proof::Source => "source",
            Proof::Password => "password",
            Proof::Certificate => "cert",
        }
    }
}

impl<D> Admitted<D> {
    /// The decision.
    pub fn decision(&self) -> &D {
        &self.decision
    }

    /// Whether the request proved which device sent it: credentials
    /// that `[[auth]]` checked, or a verified client certificate naming
    /// the device. Only such a request may set the device's recorded
    /// firmware (issue 12 item 2: a bare User-Agent is anyone's to write).
    pub fn identified(&self) -> bool {
        matches!(self.proof, Proof::Password | Proof::Certificate)
    }

    /// What proved the request's device.
    pub fn proof(&self) -> Proof {
        self.proof
    }
}

/// The decision for a static or firmware file.
#[derive(Debug)]
pub struct FileAccess;

/// Files (static and firmware) are served to anyone who names them: the
/// roots hold nothing per device. Identified when a verified client
/// certificate came with the request (files are never behind `[[auth]]`).
pub fn file(req: &Request<'_>) -> Admitted<FileAccess> {
    Admitted {
        decision: FileAccess,
        proof: if req.identity.is_some() {
            Proof::Certificate
        } else {
            Proof::None
        },
    }
}

/// Step 3, decide, for a profile request whose device row (step 2) is
/// `entry`. Writes nothing: what to write is the record step's.
pub fn decide(
    state: &AppState,
    policy: &Policy,
    req: &Request<'_>,
    mac: Mac,
    entry: &DevEntry,
) -> Result<Admitted, Refusal> {
    let mut proof = Proof::None;
    decide_inner(state, policy, req, mac, entry, &mut proof)
        .map(|decision| Admitted { decision, proof })
}

fn decide_inner(
    state: &AppState,
    policy: &Policy,
    req: &Request<'_>,
    mac: Mac,
    entry: &DevEntry,
    proof: &mut Proof,
) -> Result<Decision, Refusal> {
    // A certificate for MAC X never gets MAC Y's profile.
    if let Some(id) = req.identity {
        if !id.authorizes_mac(&mac.to_string()) {
            return Err(Refusal::CertMismatch {
                cert_mac: id.mac.clone(),
            });
        }
        *proof = Proof::Certificate;
    }
    let preprov = policy
        .config
        .security
        .preprovision_networks
        .iter()
        .any(|n| n.contains(&req.peer.ip()));
    // `[[auth]]` over a protocol without credentials (TFTP): refused like
    // an unknown device, except from a pre-provisioning network (trusted
    // with the plaintext bootstrap profile anyway).
    let check = |rule, proof: &mut Proof| -> Result<(), Refusal> {
        match req.credentials {
            Some(c) => {
                let schemes = policy.schemes(rule, req.proto);
                authenticate(state, rule, &schemes, &c, req.peer.ip(), "profile")?;
                if *proof != Proof::Certificate {
                    *proof = Proof::Password;
                }
                Ok(())
            }
            None if preprov => Ok(()),
            None => Err(Refusal::NoCredentials),
        }
    };
    let Some(device) = entry.device.as_deref() else {
        // An unknown device that `[[auth]]` would cover (a MAC rule, or
        // `all = true`) gets the same challenge as a known one, so the
        // answer does not tell known from unknown MACs (issue 12 item 5).
        if let Some(rule) = policy.auth_for(mac, None) {
            check(rule, &mut Proof::None)?;
        }
        let register = policy.config.profiles.auto_register.then(|| {
            let mut nd = NewDevice::new(mac);
            nd.model = req
                .ua
                .model
                .clone()
                .or_else(|| req.identity.and_then(|i| i.model.clone()));
            nd.serial = req.identity.and_then(|i| i.serial.clone());
            nd.vars.insert(vars::STATUS.into(), "pending".into());
            nd
        });
        return Ok(Decision::Unknown { register });
    };
    // Authentication first: a pending or moved device that `[[auth]]`
    // covers answers an unauthenticated request like an unknown one.
    if let Some(rule) = policy.auth_for(mac, device.group.as_deref()) {
        check(rule, proof)?;
    }
    if preprov && *proof == Proof::None {
        *proof = Proof::Source;
    }
    if is_pending(&device.vars) {
        return Ok(Decision::Pending);
    }
    if req.can_redirect {
        let url = policy
            .redirects
            .get(&mac)
            .or_else(|| device.vars.get(vars::REDIRECT));
        // A URL that cannot be a header value is ignored (served as usual).
        if let Some(url) = url.filter(|u| http::HeaderValue::from_str(u).is_ok()) {
            let permanent = policy.config.redirect_status == Some(301);
            return Ok(Decision::Redirect(permanent, url.clone()));
        }
    }
    let https_bootstrap = req.proto == Proto::Https
        && (req.identity.is_some() || policy.config.security.bootstrap_without_client_cert);
    Ok(Decision::Serve(if preprov || https_bootstrap {
        Variant::Bootstrap
    } else {
        Variant::Encrypted
    }))
}

/// Checks the credentials of a request that `rule` covers, through the
/// throttle (issue 12 item 3): a client address past its free failures is
/// refused unchecked until its delay has passed; a failure is logged and
/// counted and its 401 held back by the user's delay; a success clears
/// the address's strikes.
///
/// `schemes`: the rule's schemes as offered on this protocol
/// ([`Policy::schemes`]: no Basic on plain HTTP unless allowed).
pub(crate) fn authenticate(
    state: &AppState,
    rule: &crate::config::AuthRule,
    schemes: &[crate::config::AuthScheme],
    c: &crate::extract::Credentials<'_>,
    ip: std::net::IpAddr,
    door: &'static str,
) -> Result<(), Refusal> {
    if c.authorization.is_some() {
        if let Some(wait) = state.auth_guard.gate(door, ip) {
            return Err(Refusal::Throttled(wait));
        }
    }
    match state
        .auth
        .check(c.method, c.uri, c.authorization, &rule.users, schemes)
    {
        AuthResult::Ok(_) => {
            state.auth_guard.succeeded(ip);
            Ok(())
        }
        AuthResult::Challenge { stale } => {
            // No credentials yet (the first leg of Digest) or an expired
            // nonce with the right password: not a failure.
            let hold = match (c.authorization, stale) {
                (Some(h), false) => state.auth_guard.failed(
                    door,
                    ip,
                    phoneprov_httpauth::throttle::claimed_user(h).as_deref(),
                ),
                _ => std::time::Duration::ZERO,
            };
            Err(Refusal::Challenge(
                state.auth.challenges(schemes, stale),
                hold,
            ))
        }
    }
}
