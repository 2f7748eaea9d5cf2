"""Latency client of scripts/bench-console: signs in to the console of a
running `phoneprov serve`, then sends each case's requests one after the
other on one keep-alive connection and prints p50/p95/max per case against
the issue-14 targets. Every answer must be 200 with the expected content
(a device row, or the overview's heading), so a fast error page cannot pass
for a fast search.

With an API TOKEN (the user's `phoneprov user token`), the REST API's
device list is timed too: page 1 and page 200 of `GET /api/v1/devices`
(100 devices a page, following `x-next-after`), with and without a group
filter; each answer must be 200 with a full page of the expected order.
BENCH_CASES=REGEX (environment) runs only the cases whose name matches.

usage: client.py HOST:PORT USER PASSWORD SAMPLES_FILE REPEAT [TOKEN]
SAMPLES_FILE: one line per sampled device: mac|user_id|display_name|serial|model|firmware|group
"""
import json
import os
import html as htmlmod
import http.client
import random
import re
import sys
import time
import urllib.parse

host, port = sys.argv[1].rsplit(":", 1)
user, password, samples_file, repeat = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
token = sys.argv[6] if len(sys.argv) > 6 else None
only = re.compile(os.environ.get("BENCH_CASES", ""))
samples = [l.rstrip("\n").split("|") for l in open(samples_file) if l.strip()]
rnd = random.Random(14)
conn = http.client.HTTPConnection(host, int(port), timeout=120)
cookies = {}


def request(method, path, body=None):
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    global conn
    t = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        # The server closed an idle keep-alive connection (the API cases
        # ran on another one meanwhile): open a new one.
        conn.close()
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        t = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
    data = r.read().decode("utf-8", "replace")
    dt = (time.perf_counter() - t) * 1000
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            val = rest.split(";", 1)[0]
            if val:
                cookies[name] = val
            else:
                cookies.pop(name, None)
    return r.status, data, dt


status, page, _ = request("GET", "/ui/login")
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
form = urllib.parse.urlencode({"csrf": csrf, "next": "/ui/overview", "user": user, "password": password})
status, page, _ = request("POST", "/ui/login", form)
if status not in (302, 303) or "pp_session" not in cookies:
    sys.exit(f"sign-in failed: {status} {page[:300]}")

ROW = re.compile(r'<a href="/ui/devices/([0-9a-f]{12})">')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


def q(**kw):
    return "/ui/devices?" + urllib.parse.urlencode(kw)


def notations(mac, n):
    """A prefix of n hex digits written the ways operators type it."""
    p = mac[:n]
    pairs = [p[i:i + 2] for i in range(0, len(p), 2)]
    return [p, ":".join(pairs).upper(), "-".join(pairs), p.upper()]


def pick():
    return rnd.choice(samples)


cases = []  # (name, target ms or None, [paths], check(html, path) -> error or None)


def must_have_rows(html, path):
    return None if ROW.search(html) else "no device row"


def must_find(mac):
    return lambda html, path: None if f"/ui/devices/{mac}\"" in html else f"{mac} not in the answer"


def case(name, target, n, make):
    if not only.search(name):
        return
    paths = []
    for _ in range(n):
        paths.append(make())
    cases.append((name, target, paths))


def mac_prefix(digits):
    def make():
        s = pick()
        typed = rnd.choice(notations(s[0], digits))
        return (q(q=typed), must_find(s[0]) if digits == 12 else must_have_rows)
    return make


case("search: MAC prefix, 6 digits (OUI, ~250k hits)", 100, repeat, mac_prefix(6))
case("search: MAC prefix, 8 digits", 100, repeat, mac_prefix(8))
case("search: MAC prefix, 10 digits", 100, repeat, mac_prefix(10))
case("search: whole MAC, any notation", 100, repeat, mac_prefix(12))
case("search: user id (exact value)", 100, repeat, lambda: (lambda s: (q(q=s[1]), must_find(s[0])))(pick()))
case("search: user id prefix, 4 digits (~1k hits)", 100, repeat, lambda: (q(q=pick()[1][:4]), must_have_rows))
case("search: user id prefix '1' (every device)", 100, repeat // 4 or 1, lambda: (q(q="1"), must_have_rows))
case("search: display name (whole, ~500 hits)", 100, repeat, lambda: (q(q=pick()[2]), must_have_rows))
case("search: display name prefix (first name)", 100, repeat, lambda: (q(q=pick()[2].split()[0].lower()), must_have_rows))
case("search: serial", 100, repeat, lambda: (lambda s: (q(q=s[3]), must_find(s[0])))(pick()))
case("search: no match", 100, repeat, lambda: (q(q="nobody-%d" % rnd.randrange(10**6)), lambda h, p: None if "no-match" in h else "rows for a no-match search"))
case("filter: model", 100, repeat, lambda: (q(model=pick()[4]), must_have_rows))
case("filter: outcome failed", 100, repeat, lambda: (q(outcome="failed"), must_have_rows))
case("filter: never seen", 100, repeat, lambda: (q(outcome="never"), must_have_rows))
case("filter: firmware", 100, repeat, lambda: (q(firmware=pick()[5] or "11.0.1"), must_have_rows))
case("filter: group", 100, repeat, lambda: (q(group=pick()[6]), must_have_rows))
case("filter: last seen > 7 days ago", 100, repeat, lambda: (q(older="7"), must_have_rows))
case("filter: last seen > 29 days ago + model", 100, repeat, lambda: (q(older="29", model=pick()[4]), must_have_rows))
case("filter: first name + model + outcome", 100, repeat, lambda: (q(q=pick()[2].split()[0], model=pick()[4], outcome="success"), must_have_rows))
case("sort: last seen, page 1", 100, repeat, lambda: (q(sort="seen"), must_have_rows))
case("sort: last seen + outcome failed", 100, repeat, lambda: (q(sort="seen", outcome="failed"), must_have_rows))

results = []


def measure(name, target, items):
    if not only.search(name):
        return
    times, errors = [], []
    for path, check in items:
        status, html, dt = request("GET", path)
        times.append(dt)
        why = f"HTTP {status}" if status != 200 else check(html, path)
        if why:
            errors.append(f"{path}: {why}")
    results.append((name, target, times, errors))


for name, target, items in cases:
    measure(name, target, items)

# Deep paging: follow the "Next page" links from page 1, as an operator
# (or a script) walking the list does.
for name, start in [("paging: MAC order, pages 1..N", q()),
                    ("paging: model filter, pages 1..N", q(model="CP-8841-3PCC")),
                    ("paging: last seen order, pages 1..N", q(sort="seen"))]:
    if not only.search(name):
        continue
    times, errors, path, pages = [], [], start, 0
    while path and pages < repeat * 5:
        status, html, dt = request("GET", path)
        times.append(dt)
        pages += 1
        if status != 200 or not ROW.search(html):
            errors.append(f"{path}: HTTP {status}")
            break
        m = NEXT.search(html)
        path = htmlmod.unescape(m.group(1)) if m else None
    results.append((name + f" (N={pages})", 100, times, errors))
    # The last page's latency alone, many times (the cost of being deep).
    if path:
        measure(name.replace("pages 1..N", f"page {pages + 1}"), 100,
                [(path, must_have_rows)] * repeat)

# The REST API's device list (GET /api/v1/devices?limit=&after=): page 1
# and page 200, reached by following x-next-after as a client does.
api = http.client.HTTPConnection(host, int(port), timeout=120) if token else None


def api_get(path):
    t = time.perf_counter()
    api.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    r = api.getresponse()
    data = r.read()
    dt = (time.perf_counter() - t) * 1000
    return r.status, data, r.getheader("x-next-after"), dt


def api_page_check(path, after):
    """(next cursor or None on a short page, ms, error or None): a page in
    MAC order after `after`, of 100 devices with x-next-after naming the
    last, or shorter without it."""
    status, data, nxt, dt = api_get(path)
    if status != 200:
        return None, dt, f"HTTP {status}: {data[:200]!r}", 0
    macs = [d["mac"] for d in json.loads(data)]
    full = len(macs) == 100
    if macs != sorted(macs) or (macs and after and macs[0] <= after) \
            or nxt != (macs[-1] if full else None):
        return None, dt, f"not a page in MAC order after {after}", len(macs)
    return nxt, dt, None, len(macs)


# A group holds about 2 000 of the million devices: its deep page is its
# last one.
for label, extra in [("", ""), (" + group filter", "&group=" + urllib.parse.quote(samples[0][6]))]:
    name = f"api: device list{label}, pages 1..N"
    if not api or not only.search(name):
        continue
    base = "/api/v1/devices?limit=100" + extra
    times, errors, cursors, after = [], [], [], None
    while len(times) < 200:
        path = base + (f"&after={after}" if after else "")
        nxt, dt, why, n = api_page_check(path, after)
        if n == 0 and not why and cursors:
            break  # the empty page after a last full one
        cursors.append(after)
        times.append(dt)
        if why or n == 0:
            errors.append(f"{path}: {why or 'no devices'}")
        after = nxt
        if not after:
            break
    results.append((name + f" (N={len(times)})", 100, times, errors))
    for page, cursor in [(1, None), (len(cursors), cursors[-1])]:
        path = base + (f"&after={cursor}" if cursor else "")
        ts, errs = [], []
        for _ in range(repeat):
            _, dt, why, n = api_page_check(path, cursor)
            ts.append(dt)
            if why or n == 0:
                why = why or "no devices"
                errs.append(f"{path}: {why}")
        results.append((f"api: device list{label}, page {page}", 100, ts, errs))

measure("overview page", 300, [("/ui/overview", lambda h, p: None if "<h1" in h else "no heading")] * repeat)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


print(f"{'case':58} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'target':>8}  ok")
failed = False
for name, target, times, errors in results:
    p95 = pct(times, 95)
    met = "-" if target is None else ("yes" if p95 <= target and not errors else "NO")
    failed |= bool(errors)
    print(f"{name:58} {len(times):5} {pct(times, 50):8.1f} {p95:8.1f} {max(times):8.1f} {('<= %d' % target) if target else '':>8}  {met}")
    for e in errors[:3]:
        print(f"    error: {e}")
sys.exit(1 if failed else 0)
