-- expects temp table p(n, now) set by the caller
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
CREATE TEMP TABLE names AS SELECT
  '["Alice","Bob","Carol","Dave","Erin","Frank","Grace","Heidi","Ivan","Judy","Mallory","Niaj","Olivia","Peggy","Rupert","Sybil","Trent","Victor","Walter","Zoe","Anna","Ben","Chloe","Dmitri","Elena","Farid","Greta","Hugo","Ines","Jonas","Kenji","Lena"]' AS first,
  '["Smith","Jones","Taylor","Brown","Williams","Wilson","Johnson","Davies","Robinson","Wright","Thompson","Evans","Walker","White","Roberts","Green","Hall","Wood","Jackson","Clarke","Muller","Schmidt","Schneider","Fischer","Weber","Meyer","Wagner","Becker","Rossi","Russo","Ferrari","Esposito","Bianchi","Romano","Colombo","Garcia","Martinez","Lopez","Gonzalez","Perez","Sanchez","Ramirez","Torres","Flores","Rivera","Gomez","Diaz","Cruz","Morales","Ortiz","Nguyen","Tran","Le","Pham","Kim","Lee","Park","Choi","Chen","Wang","Li","Zhang","Liu","Yang"]' AS last;
-- four vendor OUIs; within each, MACs scattered (odd multiplier mod 2^24)
-- so rows do not arrive in key order
INSERT INTO devices (mac, serial, model, grp, vars, secret_key, created_ms, updated_ms,
                     last_seen_ms, last_ip, firmware, last_outcome)
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < (SELECT n FROM p)),
r AS (SELECT i,
        (i * 2654435761) % 1000003 AS h1,
        (i * 40503 + 12345) % 999983 AS h2,
        (i * 69069 + 1) % 1000033 AS h3
      FROM seq)
SELECT
  printf('%06x%06x', json_extract('[3592, 8220504, 15441, 5181]', '$[' || (i % 4) || ']'),
         ((i / 4) * 2654435761 + 977) % 16777216),
  printf('SN%010d', i),
  CASE WHEN h1 % 100 < 40 THEN 'CP-8841-3PCC' WHEN h1 % 100 < 65 THEN 'CP-7841-3PCC'
       WHEN h1 % 100 < 80 THEN 'CP-8851-3PCC' WHEN h1 % 100 < 90 THEN 'CP-6841-3PCC'
       WHEN h1 % 100 < 97 THEN 'CP-8861-3PCC' ELSE 'SPA525G2' END,
  'site' || (i % 500),
  json_object('user_id', CAST(1000000 + i AS TEXT),
              'display_name', json_extract(names.first, '$[' || (h2 % 32) || ']') || ' ' ||
                              json_extract(names.last, '$[' || (h3 % 64) || ']'),
              'sip_password', printf('pw%08x', h1 * 7919)),
  lower(hex(randomblob(16))),
  (SELECT now FROM p) - 90 * 86400000, (SELECT now FROM p) - 90 * 86400000,
  CASE WHEN h2 % 100 < 8 THEN NULL ELSE (SELECT now FROM p) - (h3 * 2593) % (30 * 86400000) END,
  CASE WHEN h2 % 100 < 8 THEN NULL ELSE '10.' || (i / 65536 % 256) || '.' || (i / 256 % 256) || '.' || (i % 256) END,
  CASE WHEN h2 % 100 < 8 THEN NULL WHEN h1 % 1000 < 600 THEN '12.0.1' WHEN h1 % 1000 < 850 THEN '11.3.7'
       WHEN h1 % 1000 < 950 THEN '11.2.3' ELSE '11.0.1' END,
  CASE WHEN h2 % 100 < 8 THEN NULL WHEN h3 % 100 < 85 THEN 'success' WHEN h3 % 100 < 90 THEN 'not-found'
       WHEN h3 % 100 < 93 THEN 'corrupt' ELSE 'failed' END
FROM r, names;
COMMIT;
BEGIN;
-- timeline: resync events over the last 48 hours (about one per seen device
-- per day), syslog and failures
INSERT INTO events (mac, at_ms, kind, outcome, source_ip, message)
SELECT mac, (SELECT now FROM p) - ((last_seen_ms * 7 + k * 13) % (48 * 3600000)),
       CASE WHEN k = 2 THEN 'syslog' ELSE 'resync' END,
       CASE WHEN k = 2 THEN NULL ELSE last_outcome END,
       last_ip,
       CASE WHEN k = 2 THEN 'SIP registration ok'
            WHEN last_outcome = 'success' THEN 'profile served'
            WHEN last_outcome = 'failed' THEN 'render failed: template error'
            ELSE 'profile ' || last_outcome END
FROM devices, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2)
WHERE last_seen_ms IS NOT NULL AND (k < 2 OR last_seen_ms % 10 = 0)
ORDER BY 2;
COMMIT;
