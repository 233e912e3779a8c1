"""Times idgraph ingest and a DuckDB connected-components peer over the same events.

Usage: ingest_bench.py IDGRAPH_BINARY EVENTS_FILE OUT_DIR
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import duckdb


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def run_idgraph(binary, events, out):
    store = os.path.join(out, "store")
    shutil.rmtree(store, ignore_errors=True)
    config = os.path.join(out, "sources.toml")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [binary, "--store", store, "--config", config, "ingest", "--json", events],
        capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads(result.stdout)
    return {
        "seconds": seconds,
        "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "stored": summary["stored"],
        "events_per_second": summary["stored"] / seconds,
        "peak_rss_mb": after.ru_maxrss / 1024,
        "store_bytes": dir_bytes(store),
    }


LINKS_SQL = """
CREATE OR REPLACE TABLE ev AS
SELECT json_extract_string(json, '$.messageId') AS m,
       json_extract_string(json, '$.userId') AS user_id,
       json_extract_string(json, '$.anonymousId') AS anonymous_id,
       coalesce(json_extract_string(json, '$.traits.email'),
                json_extract_string(json, '$.context.traits.email')) AS email,
       json_extract_string(json, '$.context.device.id') AS device
FROM read_json_objects('{events}', format = 'newline_delimited');
CREATE OR REPLACE TABLE ids AS
WITH raw AS (
  SELECT m, 'user_id:' || trim(user_id) AS id FROM ev WHERE user_id IS NOT NULL
  UNION ALL SELECT m, 'anonymous_id:' || trim(anonymous_id) FROM ev WHERE anonymous_id IS NOT NULL
  UNION ALL SELECT m, 'email:' || lower(trim(email)) FROM ev WHERE email IS NOT NULL
  UNION ALL SELECT m, 'device:' || device FROM ev WHERE device IS NOT NULL
)
SELECT DISTINCT m, id FROM raw
WHERE lower(split_part(id, ':', 2)) NOT IN ('', 'null', 'undefined', '[object object]', 'none', '0', '-1');
CREATE OR REPLACE TABLE edges AS
WITH anchor AS (SELECT m, min(id) AS a FROM ids GROUP BY m)
SELECT DISTINCT anchor.a AS x, ids.id AS y FROM ids JOIN anchor USING (m) WHERE ids.id <> anchor.a;
CREATE OR REPLACE TABLE links AS SELECT x, y FROM edges UNION SELECT y, x FROM edges;
"""

COMPONENTS_SQL = """
WITH RECURSIVE cc(node, comp) AS (
  SELECT DISTINCT x, x FROM links
  UNION
  SELECT links.y, cc.comp FROM cc JOIN links ON cc.node = links.x
)
SELECT count(DISTINCT comp) FROM (SELECT node, min(comp) AS comp FROM cc GROUP BY node)
"""


def run_duckdb(events):
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(LINKS_SQL.format(events=events.replace("'", "''")))
    links = con.execute("SELECT count(*) FROM links").fetchone()[0] // 2
    started = time.perf_counter()
    components = con.execute(COMPONENTS_SQL).fetchone()[0]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "links": links, "components": components, "version": duckdb.__version__}


def main():
    binary, events, out = sys.argv[1:4]
    input_bytes = os.path.getsize(events)
    idgraph = run_idgraph(binary, events, out)
    print(f"idgraph: {json.dumps(idgraph)}", file=sys.stderr)
    peer = run_duckdb(events)
    report = {
        "input_bytes": input_bytes,
        "idgraph": idgraph,
        "store_to_input": idgraph["store_bytes"] / input_bytes,
        "duckdb": peer,
        "idgraph_over_duckdb": idgraph["seconds"] / peer["seconds"],
    }
    print(json.dumps(report, indent=2))
    print(
        f"idgraph: {idgraph['stored']} events in {idgraph['seconds']:.1f}s "
        f"({idgraph['events_per_second']:.0f} events/s, {idgraph['cpu_seconds']:.1f}s CPU), "
        f"peak RSS {idgraph['peak_rss_mb']:.0f} MB, store {report['store_to_input']:.2f}x input; "
        f"DuckDB {peer['version']} components over {peer['links']} links: {peer['seconds']:.1f}s; "
        f"ratio idgraph/DuckDB {report['idgraph_over_duckdb']:.2f}"
    )


if __name__ == "__main__":
    main()
