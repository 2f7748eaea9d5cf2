//! The embedded templates and assets, and the small pieces of view logic
//! (times, the resync chart) the templates call.

use std::time::{Duration, UNIX_EPOCH};

use minijinja::{Environment, Value};
use serde::Serialize;

/// Embedded templates: (name, source).
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    ("devices.html", include_str!("../templates/devices.html")),
    ("device.html", include_str!("../templates/device.html")),
    ("live.html", include_str!("../templates/live.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("bulk.html", include_str!("../templates/bulk.html")),
    (
        "templates.html",
        include_str!("../templates/templates.html"),
    ),
    ("template.html", include_str!("../templates/template.html")),
    ("rollouts.html", include_str!("../templates/rollouts.html")),
    ("rollout.html", include_str!("../templates/rollout.html")),
    ("groups.html", include_str!("../templates/groups.html")),
    ("group.html", include_str!("../templates/group.html")),
    (
        "activation.html",
        include_str!("../templates/activation.html"),
    ),
    (
        "activation_print.html",
        include_str!("../templates/activation_print.html"),
    ),
];

/// Embedded assets: (file name, content type, bytes).
pub(crate) const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../assets/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/console.js"),
    ),
];

/// RFC 3339 (UTC, seconds) of a Unix-ms time; empty for `None`.
pub(crate) fn rfc3339(ms: Option<i64>) -> String {
    match ms {
        Some(ms) if ms >= 0 => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms as u64))
                .to_string()
        }
        _ => String::new(),
    }
}

/// The template environment (auto-escaping HTML for `.html` names).
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, src) in TEMPLATES {
        env.add_template(name, src)
            .expect("the embedded templates parse (checked by the tests)");
    }
    env.add_filter("time", |ms: Option<i64>| rfc3339(ms));
    // Path and query parts (group and model names in links).
    env.add_filter("urlencode", |s: String| crate::pages::url_escape(&s));
    env
}

/// One bar of the resyncs-per-hour chart.
#[derive(Debug, Serialize)]
pub(crate) struct Bar {
    pub x: u32,
    pub y: u32,
    pub h: u32,
    pub count: u64,
    pub hour: String,
}

/// Chart geometry.
pub(crate) const CHART_W: u32 = 480;
pub(crate) const CHART_H: u32 = 120;

/// The 24 bars ending with the hour of `now_ms`, from (hour start, count)
/// pairs; heights scaled to the largest.
pub(crate) fn bars(now_ms: i64, per_hour: &[(i64, u64)]) -> Vec<Bar> {
    let this_hour = now_ms.div_euclid(3_600_000) * 3_600_000;
    let counts: Vec<(i64, u64)> = (0..24)
        .map(|i| {
            let start = this_hour - (23 - i) * 3_600_000;
            let count = per_hour.iter().find(|p| p.0 == start).map_or(0, |p| p.1);
            (start, count)
        })
        .collect();
    let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1);
    let w = CHART_W / 24;
    counts
        .into_iter()
        .zip(0u32..)
        .map(|((start, count), i)| {
            let h = ((count as f64 / max as f64) * f64::from(CHART_H - 10)).round() as u32;
            Bar {
                x: i * w,
                y: CHART_H - h,
                h,
                count,
                hour: rfc3339(Some(start)),
            }
        })
        .collect()
}

/// One reason on a bulk job's page: how many of the kept failures gave
/// it, and their MACs (the first [`FAILURE_MACS_SHOWN`] as links, the rest
/// counted).
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct FailureGroup {
    pub error: String,
    pub count: usize,
    pub macs: Vec<String>,
    pub more: usize,
}

/// MACs listed per reason on a bulk job's page.
pub(crate) const FAILURE_MACS_SHOWN: usize = 5;

/// A bulk job's kept failures (`[{"mac":…,"error":…}]`, up to the
/// store's 100) grouped by reason, the most frequent first (ties in the
/// order they first appeared): a job that failed on 100 phones for one
/// reason is one line, not 100.
pub(crate) fn failure_groups(failures: &serde_json::Value) -> Vec<FailureGroup> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    for f in failures.as_array().into_iter().flatten() {
        let error = f["error"].as_str().unwrap_or("").to_string();
        let mac = f["mac"].as_str().unwrap_or("").to_string();
        let g = match groups.iter_mut().position(|g| g.error == error) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(FailureGroup {
                    error,
                    count: 0,
                    macs: Vec::new(),
                    more: 0,
                });
                groups.last_mut().expect("just pushed")
            }
        };
        g.count += 1;
        if g.macs.len() < FAILURE_MACS_SHOWN {
            g.macs.push(mac);
        } else {
            g.more += 1;
        }
    }
    // Stable: equal counts keep their first-seen order.
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    groups
}

/// Renders a template with a context.
pub(crate) fn render(env: &Environment<'static>, name: &str, ctx: Value) -> Result<String, String> {
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| format!("template {name}: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_times_are_rfc3339() {
        let env = environment();
        assert_eq!(env.templates().count(), TEMPLATES.len());
        assert_eq!(rfc3339(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(None), "");
    }

    #[test]
    fn failures_are_grouped_by_reason_most_frequent_first() {
        let mut list: Vec<serde_json::Value> = (0..7)
            .map(|i| serde_json::json!({"mac": format!("00000000000{i}"), "error": "refused"}))
            .collect();
        list.insert(
            2,
            serde_json::json!({"mac": "0000000000aa", "error": "timed out"}),
        );
        let g = failure_groups(&serde_json::Value::Array(list));
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].error.as_str(), g[0].count), ("refused", 7));
        assert_eq!(g[0].macs.len(), FAILURE_MACS_SHOWN);
        assert_eq!(g[0].macs[0], "000000000000");
        assert_eq!(g[0].more, 7 - FAILURE_MACS_SHOWN);
        assert_eq!(
            g[1],
            FailureGroup {
                error: "timed out".into(),
                count: 1,
                macs: vec!["0000000000aa".into()],
                more: 0
            }
        );
        assert!(failure_groups(&serde_json::json!([])).is_empty());
        assert!(failure_groups(&serde_json::Value::Null).is_empty());
    }

    #[test]
    fn bars_cover_24_hours_scaled_to_the_largest() {
        let now = 100 * 3_600_000 + 5;
        let b = bars(now, &[(100 * 3_600_000, 10), (90 * 3_600_000, 5), (50, 99)]);
        assert_eq!(b.len(), 24);
        assert_eq!(b[23].count, 10);
        assert_eq!(b[23].h, CHART_H - 10);
        assert_eq!(b[13].count, 5);
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 15);
    }
}
