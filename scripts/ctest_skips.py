#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lists what a `ctest --output-junit FILE` run skipped, with each skip's reason.

Qt Test reports a skipped test function as a line "SKIP   : Class::function() reason" while the
test itself passes, so CTest's summary would not show it; a whole test skipped by its exit code
(SKIP_RETURN_CODE, e.g. check_exports without its Python environment) is listed with the last line
it printed. With --allow LABEL (repeatable), a skip in a test without that label makes the exit
status 1: CI allows only `cuda` (there is no GPU there).

  ctest --test-dir build --output-junit ctest-junit.xml
  scripts/ctest_skips.py build ctest-junit.xml --allow cuda
"""
import argparse
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def test_labels(build: Path) -> dict:
    """Test name -> labels, from `ctest --show-only=json-v1`."""
    out = subprocess.run(["ctest", "--test-dir", str(build), "--show-only=json-v1"], capture_output=True, text=True)
    labels = {}
    if out.returncode == 0:
        for t in json.loads(out.stdout).get("tests", []):
            for p in t.get("properties", []):
                if p.get("name") == "LABELS":
                    labels[t["name"]] = p.get("value", [])
    return labels


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("build", help="the build folder (for the tests' labels)")
    ap.add_argument("junit", help="the file ctest --output-junit wrote (relative paths: inside BUILD)")
    ap.add_argument("--allow", action="append", default=[], help="label whose skips are expected")
    args = ap.parse_args()
    build = Path(args.build)
    junit = Path(args.junit)
    if not junit.is_absolute() and not junit.exists():
        junit = build / junit
    if not junit.exists():
        print(f"ctest_skips: {junit} not found (run ctest --output-junit first)", file=sys.stderr)
        return 2
    labels = test_labels(build)
    skips = []  # (test, what, reason)
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        out = case.findtext("system-out") or ""
        if case.find("skipped") is not None:
            lines = [l for l in out.splitlines() if l.strip()]
            skips.append((name, "(whole test)", lines[-1].strip() if lines else case.find("skipped").get("message", "")))
        for m in re.finditer(r"^SKIP\s+: (\S+\(\)) (.*)$", out, re.M):
            skips.append((name, m.group(1), m.group(2).strip()))
    unexpected = [s for s in skips if args.allow and not set(labels.get(s[0], [])) & set(args.allow)]
    summary = f"ctest_skips: {len(skips)} skipped"
    if args.allow:
        summary += f", {len(unexpected)} outside the allowed label(s) {', '.join(args.allow)}"
    print(summary)
    for s in skips:
        test, what, reason = s
        print(f"{'! ' if s in unexpected else '  '}{test} [{','.join(labels.get(test, []))}] {what}: {reason}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
