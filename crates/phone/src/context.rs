//! What the engine derives from its identity and parameters for each
//! request: the macro context (R-MACRO), the `User-Agent` (R-HTTP-3), the
//! `Restricted_Access_Domains` check (R-SEC-1) and syslog lines (R-LOG).

use crate::engine::Phone;
use crate::security::{default_user_agent, domain_allowed, ProfileAuth};
use crate::types::{Action, Credentials, Time};
use phoneprov_rule::{expand, MacroContext, ResolvedUrl};

impl Phone {
    /// The macro values of this phone now (R-MACRO).
    pub(crate) fn macro_context(&self) -> MacroContext {
        let mut ctx = self.id.base_ctx.clone();
        ctx.set("SN", self.id.identity.serial.clone());
        ctx.set("PN", self.id.identity.pn.clone());
        ctx.set("PSN", self.id.identity.psn.clone());
        ctx.set("SWVER", self.id.identity.swver.clone());
        ctx.set("HWVER", self.id.identity.hwver.clone());
        ctx.set(
            "CCERT",
            if self.setup.client_cert {
                "Installed"
            } else {
                "Not Installed"
            },
        );
        // GPPs and line names default to empty: read explicit values only
        // (no schema lookups; this runs several times per resync).
        for (name, e) in self.params.iter() {
            if let Some(rest) = name.strip_prefix("GPP_") {
                ctx.set(&format!("GPP_{rest}"), e.value.clone());
            } else if let Some(n) = name
                .strip_prefix("User_ID_")
                .and_then(|r| r.strip_suffix('_'))
            {
                ctx.set(&format!("UID{n}"), e.value.clone());
            } else if let Some(n) = name
                .strip_prefix("Display_Name_")
                .and_then(|r| r.strip_suffix('_'))
            {
                ctx.set(&format!("DISPLAYNAME{n}"), e.value.clone());
            }
        }
        let s = &self.stats;
        ctx.set("PRVST", s.prvst().to_string());
        ctx.set("UPGST", s.upgst().to_string());
        ctx.set("UPGERR", s.last_upgrade_error.clone().unwrap_or_default());
        let since = |t: Option<Time>| {
            t.map(|t| (self.now.0.saturating_sub(t.0) / 1000).to_string())
                .unwrap_or_default()
        };
        ctx.set("PRVTMR", since(s.last_resync_at));
        ctx.set("UPGTMR", since(s.last_upgrade_at));
        if let Some(d) = &self.setup.default_server {
            ctx.set_default_server(d);
        }
        ctx
    }

    /// `User_Agent` (macro-expanded) or `Cisco-<PN>/<SWVER> (<MA>)`.
    pub fn user_agent(&self) -> String {
        let custom = self.params.get_or_empty("User_Agent").trim();
        if custom.is_empty() {
            default_user_agent(
                &self.id.identity.pn,
                &self.id.identity.swver,
                &self.id.mac12,
            )
        } else {
            expand(custom, &self.macro_context())
        }
    }

    /// The credentials that answer a 401 for a rule without `--uid`
    /// (`Profile_Authentication_Type`, R-HTTP-4; see [`ProfileAuth`]).
    pub(crate) fn profile_account(&self) -> Option<Credentials> {
        let p = &self.params;
        match ProfileAuth::parse(p.get_or_empty("Profile_Authentication_Type")) {
            ProfileAuth::Disabled => None,
            ProfileAuth::Basic => self.setup.credentials.clone(),
            ProfileAuth::Xsi => {
                let sip = p
                    .get_or_empty("XSI_Authentication_Type")
                    .trim()
                    .eq_ignore_ascii_case("SIP Credentials");
                if sip {
                    self.line1_credentials()
                } else {
                    let user = p.get_or_empty("Login_User_ID").trim();
                    (!user.is_empty())
                        .then(|| Credentials::new(user, p.get_or_empty("Login_Password")))
                }
            }
        }
    }

    /// Line 1's SIP credentials: `Auth_ID_1_` (else `User_ID_1_`) and
    /// `Password_1_`; `None` without a password.
    pub(crate) fn line1_credentials(&self) -> Option<Credentials> {
        let p = &self.params;
        let password = p.get_or_empty("Password_1_");
        if password.is_empty() {
            return None;
        }
        let user = match p.get_or_empty("Auth_ID_1_").trim() {
            "" => p.get_or_empty("User_ID_1_").trim(),
            a => a,
        };
        Some(Credentials::new(user, password))
    }

    /// Checks `Restricted_Access_Domains` (R-SEC-1); `Err($ERR text)`.
    pub(crate) fn check_domain(&self, url: &ResolvedUrl) -> Result<(), String> {
        let list = self.params.get_or_empty("Restricted_Access_Domains");
        if domain_allowed(list, &url.host) {
            Ok(())
        } else {
            Err(format!(
                "{} refused: host `{}` is not in Restricted_Access_Domains ({})",
                url,
                url.host,
                list.trim()
            ))
        }
    }

    /// Sends the `template` syslog message (R-LOG) if a server and a
    /// non-empty template are configured. `$SCHEME $SERV $SERVIP $PORT
    /// $PATH` describe `url`; `$ERR` is `err`.
    pub(crate) fn syslog(
        &mut self,
        template: &str,
        url: Option<&ResolvedUrl>,
        server_ip: Option<&str>,
        err: Option<&str>,
    ) {
        let server = [
            self.params.get_or_empty("Syslog_Server"),
            self.params.get_or_empty("Syslog_Server_IP"),
        ]
        .into_iter()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string);
        let Some(server) = server else { return };
        let tpl = self.params.get_or_empty(template).trim().to_string();
        if tpl.is_empty() {
            return;
        }
        let mut ctx = self.macro_context();
        if let Some(u) = url {
            ctx.set_request_url(u);
            ctx.set("SERVIP", server_ip.unwrap_or(&u.host).to_string());
        }
        ctx.set("ERR", err.unwrap_or("").to_string());
        let message = expand(&tpl, &ctx);
        self.stats.syslog_messages += 1;
        self.out
            .actions
            .push_back(Action::Syslog { server, message });
    }
}
