//! PAC evaluation (R-SEC-4, `Proxy_Mode=Auto`): `FindProxyForURL(url,
//! host)` of a proxy auto-config file run by boa, a JavaScript engine
//! written in Rust, with the standard PAC helper functions.
//!
//! The helpers that need no network (`isPlainHostName`, `dnsDomainIs`,
//! `localHostOrDomainIs`, `isInNet`, `shExpMatch`, `dnsDomainLevels`,
//! `weekdayRange`, `dateRange`, `timeRange`) are JavaScript in
//! [`PAC_HELPERS`] (each a few lines; boa has no PAC library); `dnsResolve`
//! and `myIpAddress` are native and answer through the phone's
//! [`Resolver`] (the DNS of option 6), `isResolvable` is `dnsResolve(h) !==
//! null`. Times are UTC (the simulated phone has no time zone).
//!
//! Bounds ([`PacLimits`]): the script runs on a blocking thread with an
//! instruction budget, a loop-iteration limit, a recursion limit, a cap on
//! `dnsResolve` lookups and a wall-clock limit, so a PAC that loops
//! forever, recurses without end or throws ends in a [`PacError`] and the
//! caller goes `DIRECT` with a status line. The result string is parsed by
//! `phoneprov_phone::proxy::parse_pac_result`.
//!
//! Why an instruction budget: boa counts loop iterations per call frame,
//! so `for (…999999…) g()` with a loop inside `g` runs 10^12 iterations
//! under a limit of 10^6, and a blocking thread cannot be stopped from
//! outside: the wall-clock limit only ends the caller's *wait*, the thread
//! would spin on (one more per transfer per phone). boa's only budget of
//! executed instructions (`ContextBuilder::instructions_remaining`, an
//! error JavaScript cannot catch) is behind its `fuzz` feature, which this
//! crate enables for that reason. What no budget covers: one builtin call
//! that runs long by itself (a regular expression with catastrophic
//! backtracking). For that, [`find_proxy`] remembers a script that ran
//! past its time limit and does not start it again in this process: at
//! most the evaluations already running spin, never one per transfer.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use boa_engine::error::EngineError;
use boa_engine::{js_string, Context, JsResult, JsString, JsValue, NativeFunction, Source};
use phoneprov_phone::proxy::{parse_pac_result, PacResultError, ProxyChoice};

use crate::Resolver;

/// Longest PAC file accepted.
pub const MAX_PAC_LEN: usize = 256 * 1024;

/// How long and how far a PAC script may run.
#[derive(Debug, Clone, Copy)]
pub struct PacLimits {
    /// Bytecode instructions for loading the helpers and the script and
    /// one `FindProxyForURL` call, all together.
    pub instructions: usize,
    /// Loop iterations (counted per call frame).
    pub loop_iterations: u64,
    /// Nested calls.
    pub recursion: usize,
    /// `dnsResolve`/`isResolvable`/`isInNet` lookups; later ones answer
    /// `null` without asking the DNS (each may wait up to 2 s).
    pub lookups: u32,
    /// Wall clock for loading the script and one `FindProxyForURL` call.
    pub time: Duration,
}

impl Default for PacLimits {
    /// 10 000 000 instructions, 1 000 000 loop iterations, 400 nested
    /// calls, 16 lookups, 2 s. A real PAC file needs a few thousand
    /// instructions and a few lookups.
    fn default() -> Self {
        PacLimits {
            instructions: 10_000_000,
            loop_iterations: 1_000_000,
            recursion: 400,
            lookups: 16,
            time: Duration::from_secs(2),
        }
    }
}

/// Why a PAC evaluation gave no proxy list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacError {
    /// The file is larger than [`MAX_PAC_LEN`].
    #[error("PAC file is larger than {MAX_PAC_LEN} bytes")]
    TooLarge,
    /// The script did not load (syntax error, a throw at top level).
    #[error("PAC file does not load: {0}")]
    Load(String),
    /// It has no `FindProxyForURL` function.
    #[error("PAC file defines no FindProxyForURL function")]
    NoFunction,
    /// `FindProxyForURL` threw (or ran into a loop or recursion limit).
    #[error("FindProxyForURL failed: {0}")]
    Threw(String),
    /// It ran past [`PacLimits::time`].
    #[error("FindProxyForURL ran past its time limit ({0:?})")]
    TimedOut(Duration),
    /// It ran past [`PacLimits::instructions`].
    #[error("the PAC file ran past its budget of {0} instructions (a loop that does not end?)")]
    Budget(usize),
    /// This script ran past its time limit before and is not run again.
    #[error(
        "the PAC file ran past its time limit before ({0:?}) and is not run again; fix the file"
    )]
    Stuck(Duration),
    /// It returned something that is not a proxy list.
    #[error("{0}")]
    Result(#[from] PacResultError),
}

/// The standard PAC helpers that need no network (see the module docs).
pub const PAC_HELPERS: &str = r#"
function isPlainHostName(host) { return String(host).indexOf('.') < 0; }
function dnsDomainIs(host, domain) {
  host = String(host).toLowerCase(); domain = String(domain).toLowerCase();
  return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}
function localHostOrDomainIs(host, hostdom) {
  host = String(host).toLowerCase(); hostdom = String(hostdom).toLowerCase();
  return host === hostdom || hostdom.lastIndexOf(host + '.', 0) === 0;
}
function dnsDomainLevels(host) { return String(host).split('.').length - 1; }
function isResolvable(host) { return dnsResolve(host) !== null; }
function __pacAddr(ip) {
  var b = String(ip).split('.'); if (b.length !== 4) return null;
  var r = 0;
  for (var i = 0; i < 4; i++) {
    if (!/^[0-9]{1,3}$/.test(b[i])) return null;
    var n = parseInt(b[i], 10); if (n > 255) return null;
    r = r * 256 + n;
  }
  return r;
}
function isInNet(host, pattern, mask) {
  var ip = __pacAddr(host) === null ? dnsResolve(host) : host;
  if (ip === null) return false;
  var h = __pacAddr(ip), p = __pacAddr(pattern), m = __pacAddr(mask);
  if (h === null || p === null || m === null) return false;
  return ((h & m) >>> 0) === ((p & m) >>> 0);
}
function shExpMatch(str, shexp) {
  var re = String(shexp).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp('^' + re + '$').test(String(str));
}
var __pacDays = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
var __pacMonths = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
function __pacArgs(args) {
  var a = Array.prototype.slice.call(args);
  if (a.length && String(a[a.length - 1]).toUpperCase() === 'GMT') a.pop();
  return a;
}
function __pacInRange(lo, v, hi) { return lo <= hi ? (lo <= v && v <= hi) : (v >= lo || v <= hi); }
function weekdayRange() {
  var a = __pacArgs(arguments); var today = new Date().getUTCDay();
  var w1 = __pacDays.indexOf(String(a[0]).toUpperCase());
  var w2 = a.length > 1 ? __pacDays.indexOf(String(a[1]).toUpperCase()) : w1;
  if (w1 < 0 || w2 < 0) return false;
  return __pacInRange(w1, today, w2);
}
function dateRange() {
  var a = __pacArgs(arguments); var d = new Date();
  var now = { d: d.getUTCDate(), m: d.getUTCMonth(), y: d.getUTCFullYear() };
  var parsed = [];
  for (var i = 0; i < a.length; i++) {
    var s = String(a[i]).toUpperCase(), mi = __pacMonths.indexOf(s);
    if (mi >= 0) parsed.push(['m', mi]);
    else if (/^[0-9]{4}$/.test(s)) parsed.push(['y', +s]);
    else if (/^[0-9]{1,2}$/.test(s) && +s >= 1 && +s <= 31) parsed.push(['d', +s]);
    else return false;
  }
  if (parsed.length === 1) return now[parsed[0][0]] === parsed[0][1];
  if (parsed.length === 0 || parsed.length % 2 !== 0) return false;
  var half = parsed.length / 2, lo = 0, hi = 0, v = 0, order = ['y', 'm', 'd'];
  for (var k = 0; k < order.length; k++) {
    var f = order[k], i1 = -1, i2 = -1;
    for (var j = 0; j < half; j++) { if (parsed[j][0] === f) i1 = j; if (parsed[half + j][0] === f) i2 = half + j; }
    if ((i1 < 0) !== (i2 < 0)) return false;
    if (i1 < 0) continue;
    lo = lo * 10000 + parsed[i1][1]; hi = hi * 10000 + parsed[i2][1]; v = v * 10000 + now[f];
  }
  return __pacInRange(lo, v, hi);
}
function timeRange() {
  var a = __pacArgs(arguments); var d = new Date();
  for (var i = 0; i < a.length; i++) { if (!/^[0-9]{1,2}$/.test(String(a[i]))) return false; a[i] = +a[i]; }
  var h = d.getUTCHours(), m = d.getUTCMinutes(), s = d.getUTCSeconds();
  if (a.length === 1) return h === a[0];
  var now = h * 3600 + m * 60 + s, lo, hi;
  if (a.length === 2) { lo = a[0] * 3600; hi = a[1] * 3600 - 1; }
  else if (a.length === 4) { lo = a[0] * 3600 + a[1] * 60; hi = a[2] * 3600 + a[3] * 60 - 1; }
  else if (a.length === 6) { lo = a[0] * 3600 + a[1] * 60 + a[2]; hi = a[3] * 3600 + a[4] * 60 + a[5]; }
  else return false;
  if (hi < 0) hi += 86400;
  return __pacInRange(lo, now, hi);
}
"#;

/// Answers `dnsResolve` and `myIpAddress` for one evaluation.
type Lookup = Arc<dyn Fn(&str) -> Option<IpAddr> + Send + Sync>;

thread_local! {
    /// The lookup and the phone's address of the evaluation running on
    /// this (blocking) thread: boa's native functions are plain `fn`s.
    static CURRENT: std::cell::RefCell<Option<(Lookup, IpAddr)>> = const { std::cell::RefCell::new(None) };
    /// Lookups left to the evaluation on this thread.
    static LOOKUPS_LEFT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn dns_resolve(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let host = match args.first() {
        Some(v) => v.to_string(ctx)?.to_std_string_escaped(),
        None => return Ok(JsValue::null()),
    };
    let left = LOOKUPS_LEFT.with(|l| {
        let n = l.get();
        l.set(n.saturating_sub(1));
        n
    });
    if left == 0 {
        return Ok(JsValue::null());
    }
    let lookup = CURRENT.with(|c| c.borrow().as_ref().map(|(l, _)| l.clone()));
    Ok(match lookup.and_then(|l| l(&host)) {
        Some(IpAddr::V4(ip)) => JsValue::from(JsString::from(ip.to_string().as_str())),
        _ => JsValue::null(),
    })
}

fn my_ip_address(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let ip = CURRENT.with(|c| c.borrow().as_ref().map(|(_, ip)| *ip));
    let ip = ip
        .map(|i| i.to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    Ok(JsValue::from(JsString::from(ip.as_str())))
}

/// Runs `FindProxyForURL(url, host)` of `script` on the current thread
/// (blocking; see [`find_proxy`] for the async, time-limited form).
/// `lookup` answers `dnsResolve`; `my_ip` is `myIpAddress()`.
pub fn evaluate_blocking(
    script: &str,
    url: &str,
    host: &str,
    lookup: Lookup,
    my_ip: IpAddr,
    limits: PacLimits,
) -> Result<Vec<ProxyChoice>, PacError> {
    if script.len() > MAX_PAC_LEN {
        return Err(PacError::TooLarge);
    }
    CURRENT.with(|c| *c.borrow_mut() = Some((lookup, my_ip)));
    LOOKUPS_LEFT.with(|l| l.set(limits.lookups));
    let out = run(script, url, host, limits);
    CURRENT.with(|c| *c.borrow_mut() = None);
    out
}

fn run(
    script: &str,
    url: &str,
    host: &str,
    limits: PacLimits,
) -> Result<Vec<ProxyChoice>, PacError> {
    let mut ctx = Context::builder()
        .instructions_remaining(limits.instructions)
        .build()
        .map_err(|e| PacError::Load(e.to_string()))?;
    ctx.runtime_limits_mut()
        .set_loop_iteration_limit(limits.loop_iterations);
    ctx.runtime_limits_mut()
        .set_recursion_limit(limits.recursion);
    let budget = |e: &boa_engine::JsError| {
        matches!(e.as_engine(), Some(EngineError::NoInstructionsRemain))
            .then_some(PacError::Budget(limits.instructions))
    };
    let load = |e: boa_engine::JsError| budget(&e).unwrap_or(PacError::Load(e.to_string()));
    ctx.register_global_builtin_callable(
        js_string!("dnsResolve"),
        1,
        NativeFunction::from_fn_ptr(dns_resolve),
    )
    .map_err(load)?;
    ctx.register_global_builtin_callable(
        js_string!("myIpAddress"),
        0,
        NativeFunction::from_fn_ptr(my_ip_address),
    )
    .map_err(load)?;
    ctx.eval(Source::from_bytes(PAC_HELPERS)).map_err(load)?;
    ctx.eval(Source::from_bytes(script)).map_err(load)?;
    let is_fn = ctx
        .eval(Source::from_bytes("typeof FindProxyForURL === 'function'"))
        .map_err(load)?;
    if !is_fn.to_boolean() {
        return Err(PacError::NoFunction);
    }
    // JSON string literals are JavaScript string literals.
    let call = format!(
        "FindProxyForURL({}, {})",
        js_string_literal(url),
        js_string_literal(host)
    );
    let threw = |e: boa_engine::JsError| budget(&e).unwrap_or(PacError::Threw(e.to_string()));
    let v = ctx.eval(Source::from_bytes(&call)).map_err(threw)?;
    if !v.is_string() {
        return Err(PacError::Result(PacResultError::Garbage(
            v.display().to_string(),
        )));
    }
    let s = v
        .to_string(&mut ctx)
        .map_err(threw)?
        .to_std_string_escaped();
    Ok(parse_pac_result(&s)?)
}

/// A JavaScript string literal for `s` (quotes, backslashes and control
/// characters escaped; U+2028/2029 too).
fn js_string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Scripts that ran past their time limit in this process (module docs).
static STUCK: std::sync::Mutex<Vec<Arc<str>>> = std::sync::Mutex::new(Vec::new());

/// How many stuck scripts are remembered (the oldest is forgotten).
const STUCK_MAX: usize = 16;

/// Evaluates `script` for `url`/`host` on a blocking thread, `dnsResolve`
/// through `resolver`, within `limits.time`. A script that ran past the
/// time limit once is answered [`PacError::Stuck`] at once afterwards,
/// without starting it again (module docs, "Bounds").
pub async fn find_proxy(
    script: Arc<str>,
    url: &str,
    host: &str,
    resolver: &Resolver,
    my_ip: IpAddr,
    limits: PacLimits,
) -> Result<Vec<ProxyChoice>, PacError> {
    if STUCK.lock().is_ok_and(|v| v.contains(&script)) {
        return Err(PacError::Stuck(limits.time));
    }
    let handle = tokio::runtime::Handle::current();
    let r = resolver.clone();
    let lookup: Lookup = Arc::new(move |name: &str| {
        let fut = r.lookup_host(name, 0);
        handle
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), fut).await })
            .ok()
            .and_then(Result::ok)
            .and_then(|addrs| addrs.iter().map(|a| a.ip()).find(IpAddr::is_ipv4))
    });
    let (url, host) = (url.to_string(), host.to_string());
    let run = script.clone();
    let task = tokio::task::spawn_blocking(move || {
        evaluate_blocking(&run, &url, &host, lookup, my_ip, limits)
    });
    match tokio::time::timeout(limits.time, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(PacError::Threw(format!("the evaluation thread ended: {e}"))),
        Err(_) => {
            if let Ok(mut v) = STUCK.lock() {
                if !v.contains(&script) {
                    if v.len() >= STUCK_MAX {
                        v.remove(0);
                    }
                    v.push(script);
                }
            }
            Err(PacError::TimedOut(limits.time))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(script: &str, url: &str, host: &str) -> Result<Vec<ProxyChoice>, PacError> {
        let lookup: Lookup = Arc::new(|h: &str| match h {
            "intranet.corp.test" => Some("10.1.2.3".parse().unwrap()),
            _ => None,
        });
        evaluate_blocking(
            script,
            url,
            host,
            lookup,
            "192.168.7.9".parse().unwrap(),
            PacLimits::default(),
        )
    }

    fn px(h: &str, p: u16) -> ProxyChoice {
        ProxyChoice::Proxy {
            host: h.into(),
            port: p,
        }
    }

    const PAC: &str = r#"
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || dnsDomainIs(host, ".local.test")) return "DIRECT";
  if (localHostOrDomainIs(host, "www.corp.test")) return "PROXY www-proxy:1";
  if (shExpMatch(url, "http://*.example.test/*.cfg")) return "PROXY cfg-proxy:3128; DIRECT";
  if (isInNet(host, "10.0.0.0", "255.0.0.0")) return "PROXY net10:2";
  if (isInNet(myIpAddress(), "192.168.7.0", "255.255.255.0") && !isResolvable(host)) return "PROXY lan:3";
  if (dnsDomainLevels(host) == 1 && weekdayRange("SUN", "SAT") && dateRange(1, 31)
      && dateRange("JAN", "DEC") && timeRange(0, 24) && !timeRange(25)) return "PROXY always:4";
  return "DIRECT";
}"#;

    #[test]
    fn r_sec_4_standard_helpers() {
        let e = |u: &str, h: &str| eval(PAC, u, h).unwrap();
        assert_eq!(e("http://pv/x", "pv"), [ProxyChoice::Direct]);
        assert_eq!(
            e("http://a.local.test/x", "a.local.test"),
            [ProxyChoice::Direct]
        );
        assert_eq!(e("http://www/x", "www"), [ProxyChoice::Direct]);
        assert_eq!(e("http://www/x", "www.corp.test"), [px("www-proxy", 1)]);
        assert_eq!(
            e("http://pv.example.test/a.cfg", "pv.example.test"),
            [px("cfg-proxy", 3128), ProxyChoice::Direct]
        );
        assert_eq!(e("http://x/", "intranet.corp.test"), [px("net10", 2)]);
        assert_eq!(e("http://x/", "10.9.9.9"), [px("net10", 2)]);
        assert_eq!(e("http://x/", "nowhere.no.test"), [px("lan", 3)]);
    }

    #[test]
    fn r_sec_4_date_helpers_on_utc_today() {
        let lookup: Lookup = Arc::new(|_: &str| None);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let hour = (now / 3600) % 24;
        let script = format!(
            "function FindProxyForURL(u, h) {{ return (timeRange({hour}) && !timeRange({other}) && weekdayRange('MON','SUN','GMT')) ? 'PROXY yes:1' : 'DIRECT'; }}",
            other = (hour + 12) % 24
        );
        // Asserted unless the hour turned between the two clocks.
        let r = evaluate_blocking(
            &script,
            "u",
            "h",
            lookup,
            "127.0.0.1".parse().unwrap(),
            PacLimits::default(),
        )
        .unwrap();
        let after = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 3600)
            % 24;
        if after == hour {
            assert_eq!(r, [px("yes", 1)]);
        }
    }

    #[test]
    fn r_sec_4_bad_pac_files() {
        assert!(matches!(
            eval("function FindProxyForURL(u, h) { throw new Error('boom'); }", "u", "h"),
            Err(PacError::Threw(e)) if e.contains("boom")
        ));
        assert!(matches!(
            eval(
                "function FindProxyForURL(u, h) { while (true) {} }",
                "u",
                "h"
            ),
            Err(PacError::Threw(_))
        ));
        assert!(matches!(
            eval("function f(n) { return f(n + 1); } function FindProxyForURL(u, h) { return f(0); }", "u", "h"),
            Err(PacError::Threw(_))
        ));
        assert!(matches!(
            eval("function FindProxyForURL(u, h) { return 42; }", "u", "h"),
            Err(PacError::Result(PacResultError::Garbage(_)))
        ));
        assert!(matches!(
            eval(
                "function FindProxyForURL(u, h) { return 'GO AWAY'; }",
                "u",
                "h"
            ),
            Err(PacError::Result(PacResultError::Garbage(_)))
        ));
        assert!(matches!(
            eval("this is not javascript (", "u", "h"),
            Err(PacError::Load(_))
        ));
        assert_eq!(eval("var x = 1;", "u", "h"), Err(PacError::NoFunction));
        assert_eq!(
            eval(&" ".repeat(MAX_PAC_LEN + 1), "u", "h"),
            Err(PacError::TooLarge)
        );
        // Quotes in the URL cannot break out of the call.
        assert_eq!(
            eval(
                "function FindProxyForURL(u, h) { return u.length > 0 ? 'DIRECT' : 'x'; }",
                "http://x/\"); throw 1; (\"",
                "h"
            ),
            Ok(vec![ProxyChoice::Direct])
        );
    }

    /// boa counts loop iterations per call frame: a loop that calls a
    /// function with a loop runs 10^12 iterations under a 10^6 limit. The
    /// instruction budget ends it (before the fix this call did not return
    /// for hours); a call that fits the budget still works.
    #[test]
    fn r_sec_4_instruction_budget_ends_loops_across_frames() {
        let nested = "function g() { for (var j = 0; j < 999999; j++) {} }
            function FindProxyForURL(u, h) { for (var i = 0; i < 999999; i++) g(); return 'DIRECT'; }";
        let limits = PacLimits {
            instructions: 2_000_000,
            ..PacLimits::default()
        };
        let lookup: Lookup = Arc::new(|_: &str| None);
        let r = evaluate_blocking(
            nested,
            "u",
            "h",
            lookup,
            "127.0.0.1".parse().unwrap(),
            limits,
        );
        assert_eq!(r, Err(PacError::Budget(2_000_000)));
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("budget of 2000000 instructions"));
        // At load time too (a top-level loop across frames).
        let lookup: Lookup = Arc::new(|_: &str| None);
        let top = "function g() { for (var j = 0; j < 999999; j++) {} } for (var i = 0; i < 999999; i++) g();";
        let r = evaluate_blocking(top, "u", "h", lookup, "127.0.0.1".parse().unwrap(), limits);
        assert_eq!(r, Err(PacError::Budget(2_000_000)));
        // A PAC with the standard helpers fits the default budget.
        assert_eq!(
            eval(PAC, "http://pv/x", "pv"),
            Ok(vec![ProxyChoice::Direct])
        );
    }

    /// `dnsResolve` asks the DNS at most `lookups` times per evaluation.
    #[test]
    fn r_sec_4_lookups_are_capped() {
        let asked = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let a = asked.clone();
        let lookup: Lookup = Arc::new(move |_: &str| {
            a.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some("10.0.0.1".parse().unwrap())
        });
        let script = "function FindProxyForURL(u, h) { var n = 0; for (var i = 0; i < 100; i++) { if (dnsResolve('x' + i) !== null) n++; } return 'PROXY p:' + n; }";
        let limits = PacLimits {
            lookups: 5,
            ..PacLimits::default()
        };
        let r = evaluate_blocking(
            script,
            "u",
            "h",
            lookup,
            "127.0.0.1".parse().unwrap(),
            limits,
        );
        assert_eq!(r, Ok(vec![px("p", 5)]));
        assert_eq!(asked.load(std::sync::atomic::Ordering::Relaxed), 5);
    }

    /// A script that ran past its time limit is not started again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn r_sec_4_a_stuck_script_is_not_run_again() {
        let script: Arc<str> = Arc::from(
            "function FindProxyForURL(u, h) { var s = 0; for (var i = 0; i < 900000; i++) { s += i; } return 'DIRECT'; } // stuck-test",
        );
        let limits = PacLimits {
            time: Duration::from_millis(1),
            ..PacLimits::default()
        };
        let me = "127.0.0.1".parse().unwrap();
        let r = find_proxy(script.clone(), "u", "h", &Resolver::system(), me, limits).await;
        assert_eq!(r, Err(PacError::TimedOut(Duration::from_millis(1))));
        let again = PacLimits::default();
        let r = find_proxy(script, "u", "h", &Resolver::system(), me, again).await;
        assert_eq!(r, Err(PacError::Stuck(Duration::from_secs(2))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn r_sec_4_time_limit_bounds_a_slow_pac() {
        // A loop under the iteration limit that still takes long: the wall
        // clock limit ends the wait.
        let script: Arc<str> = Arc::from(
            "function FindProxyForURL(u, h) { var s = 0; for (var i = 0; i < 900000; i++) { for (var j = 0; j < 5; j++) { s += i * j; } } return 'DIRECT'; }",
        );
        let limits = PacLimits {
            time: Duration::from_millis(1),
            ..PacLimits::default()
        };
        let r = find_proxy(
            script,
            "u",
            "h",
            &Resolver::system(),
            "127.0.0.1".parse().unwrap(),
            limits,
        )
        .await;
        assert_eq!(r, Err(PacError::TimedOut(Duration::from_millis(1))));
    }
}
