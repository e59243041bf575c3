"""Run queries in chDB as its `default` user and print each outcome as JSON (one process per
login: chDB cannot switch users, so every role gets its own process and users.xml).

    python chdb_probe.py <data_dir> <config.xml> <queries.json>
"""

from __future__ import annotations

import json
import re
import sys


def main() -> None:
    import chdb

    data_dir, config, queries = sys.argv[1:4]
    conn = chdb.connect(f"{data_dir}?config-file={config}")
    cursor = conn.cursor()
    results = []
    with open(queries) as handle:
        queue = json.load(handle)
    for query in queue:
        try:
            cursor.execute(query)
            cursor.fetchall()
            results.append({"query": query, "code": 0, "error": ""})
        except Exception as exc:  # the engine's error, reported not raised
            match = re.search(r"Code: (\d+)", str(exc))
            code = int(match[1]) if match else -1
            results.append({"query": query, "code": code, "error": str(exc)[:300]})
    conn.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
