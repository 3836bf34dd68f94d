#!/usr/bin/env python3
"""Execute notebooks on the tslab kernel through Jupyter's nbclient.

tslab reports a failing cell only through the execute reply's status (it sends no `error`
message, and silently aborts requests that follow an error), so a notebook fails here on the
first cell whose reply status is not "ok". Executed copies go to out/notebooks/ (with kvlab.run in
their metadata: fast or full mode, date, time, for the book), HTML exports to out/html/, a summary to out/notebooks/results.json. Ends with "N passed, M failed".

A notebook may declare required outputs in its metadata, checked after execution:
  "kvlab": {"expect_output_mimes": [["application/vnd.plotly.v1+json", "text/html"]]}
means some single output must carry all of those MIME types.
"""
import argparse
import json
import os
import re
import sys
import time
import traceback

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter


class CellFailed(Exception):
    def __init__(self, index, status, cell):
        super().__init__(f"cell {index} replied status={status!r}")
        self.index = index
        self.status = status
        self.cell = cell


def stream_text(cell, name):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == name)


def check_expected_outputs(nb):
    problems = []
    expected = nb.metadata.get("kvlab", {}).get("expect_output_mimes", [])
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    for mimes in expected:
        if not any(all(m in o.get("data", {}) for m in mimes) for o in outputs if o.get("output_type") in ("display_data", "execute_result")):
            problems.append(f"no output carries all of {mimes}")
    return problems


EXERCISE_LINE = re.compile(r"^(\s*).*//\s*EXERCISE\s+(\S+)\s*$", re.M)


def fill_solutions(nb, solutions):
    """Replace each `… // EXERCISE <id>` line with the reference solution of that exercise."""
    missing = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        def sub(m):
            ex = m.group(2)
            if ex not in solutions:
                missing.append(ex)
                return m.group(0)
            return m.group(1) + solutions[ex]
        cell.source = EXERCISE_LINE.sub(sub, cell.source)
    return missing


def run_one(path, out_dir, html_dir, timeout, kernel, solutions=None):
    name = os.path.splitext(os.path.basename(path))[0]
    nb = nbformat.read(path, as_version=4)
    if solutions is not None:
        missing = fill_solutions(nb, solutions)
        if missing:
            return {"notebook": os.path.basename(path), "status": "failed", "seconds": 0.0, "error": f"no reference solution for exercise(s) {missing}"}
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")

    def on_cell_executed(cell, cell_index, execute_reply):
        status = execute_reply.get("content", {}).get("status")
        done = sum(1 for c in nb.cells[: cell_index + 1] if c.cell_type == "code")
        print(f"  [{done}/{code_cells}] cell {cell_index}: {status}", flush=True)
        if status != "ok":
            raise CellFailed(cell_index, status, cell)

    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=timeout,
        startup_timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
        on_cell_executed=on_cell_executed,
    )
    started = time.time()
    result = {"notebook": os.path.basename(path), "status": "passed", "seconds": 0.0}
    try:
        client.execute()
        problems = check_expected_outputs(nb)
        if problems:
            result.update(status="failed", error="; ".join(problems))
    except CellFailed as e:
        result.update(status="failed", cell=e.index, reply_status=e.status, error=str(e))
        print(f"\n--- {name}: cell {e.index} failed (reply status {e.status!r}) ---", file=sys.stderr)
        print(e.cell.source, file=sys.stderr)
        err = stream_text(e.cell, "stderr")
        if err:
            print("--- its stderr ---", file=sys.stderr)
            print(err, file=sys.stderr)
        print("---", file=sys.stderr)
    except Exception as e:  # kernel died, timeout, …
        result.update(status="failed", error=f"{type(e).__name__}: {e}")
        traceback.print_exc()
    result["seconds"] = round(time.time() - started, 1)
    # How this copy was made, for the book (scripts/book.ts): fast or full sizes, when, how long.
    nb.metadata.setdefault("kvlab", {})["run"] = {
        "fast": os.environ.get("KVLAB_FAST", "") not in ("", "0", "false"),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": result["seconds"],
        "solutions": solutions is not None,
        "status": result["status"],
    }
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(html_dir, exist_ok=True)
    nbformat.write(nb, os.path.join(out_dir, os.path.basename(path)))
    try:
        body, _ = HTMLExporter().from_notebook_node(nb)
        with open(os.path.join(html_dir, name + ".html"), "w", encoding="utf-8") as f:
            f.write(body)
    except Exception as e:
        print(f"HTML export of {name} failed: {e}", file=sys.stderr)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--out", default="out")
    fast = os.environ.get("KVLAB_FAST", "") not in ("", "0", "false")
    # Full mode runs whole benchmarks in one cell (notebook 05): allow an hour per cell there.
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("KVLAB_CELL_TIMEOUT", "900" if fast else "3600")))
    ap.add_argument("--kernel", default="tslab")
    ap.add_argument("--solutions", help="reference solutions (a JSON file, or a folder of them, one per notebook): run with them filled in, checks strict")
    args = ap.parse_args()
    solutions = None
    if args.solutions:
        files = sorted(os.path.join(args.solutions, f) for f in os.listdir(args.solutions) if f.endswith(".json")) if os.path.isdir(args.solutions) else [args.solutions]
        solutions = {}
        for file in files:
            with open(file) as f:
                solutions.update(json.load(f))
        os.environ["KVLAB_EXERCISES_STRICT"] = "1"
    out_dir = os.path.join(args.out, "notebooks")
    html_dir = os.path.join(args.out, "html")
    results = []
    for path in args.notebooks:
        print(f"▶ {path}", flush=True)
        r = run_one(path, out_dir, html_dir, args.timeout, args.kernel, solutions)
        print(f"{'✓' if r['status'] == 'passed' else '✗'} {r['notebook']} {r['status']} in {r['seconds']} s" + (f": {r.get('error')}" if r["status"] != "passed" else ""), flush=True)
        results.append(r)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    passed = sum(r["status"] == "passed" for r in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
