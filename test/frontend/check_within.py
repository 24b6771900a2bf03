#!/usr/bin/env python3
"""Checks one number of `strata-compile --stats=json` against a published one.

Usage: check_within.py FIELD PUBLISHED TOLERANCE [--exclude-group NAME]...

Reads the stats JSON on stdin and compares its top-level FIELD (for example
params_total or params_active) with PUBLISHED, which may carry a K/M/B/T
suffix ("671B", "12.9B") or be a plain number ("6.74e9"). TOLERANCE is the
allowed relative difference, as a fraction ("0.01") or a percentage ("1%").
--exclude-group subtracts that per-layer group's FIELD first, for published
figures that leave a part out (DeepSeek counts active parameters without
the input embedding).

Prints one line saying what was compared and whether it is within the
tolerance; exits 0 when it is, 1 when it is not, 2 on bad input.
"""

import json
import sys

SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
GROUP_FIELDS = {"params_total": "params"}


def parse_number(text):
    text = text.strip().replace(",", "").replace("_", "")
    scale = 1.0
    if text and text[-1].upper() in SUFFIXES:
        scale = SUFFIXES[text[-1].upper()]
        text = text[:-1]
    return float(text) * scale


def parse_tolerance(text):
    text = text.strip()
    if text.endswith("%"):
        return float(text[:-1]) / 100.0
    return float(text)


def fail(msg):
    print("check_within: error: " + msg)
    sys.exit(2)


def main(argv):
    args, excluded = [], []
    i = 0
    while i < len(argv):
        if argv[i] == "--exclude-group":
            if i + 1 >= len(argv):
                fail("--exclude-group needs a group name")
            excluded.append(argv[i + 1])
            i += 2
            continue
        args.append(argv[i])
        i += 1
    if len(args) != 3:
        fail("usage: check_within.py FIELD PUBLISHED TOLERANCE "
             "[--exclude-group NAME]...")
    field, published_text, tolerance_text = args
    try:
        published = parse_number(published_text)
        tolerance = parse_tolerance(tolerance_text)
    except ValueError as e:
        fail("bad number: %s" % e)
    if published <= 0 or tolerance < 0:
        fail("the published value must be > 0 and the tolerance >= 0")

    try:
        stats = json.load(sys.stdin)
    except ValueError as e:
        fail("stdin is not the JSON of --stats=json: %s" % e)
    if not isinstance(stats, dict) or field not in stats:
        fail("the stats JSON has no field '%s'" % field)
    computed = stats[field]
    if not isinstance(computed, (int, float)) or isinstance(computed, bool):
        fail("field '%s' is not a number" % field)
    what = field
    # A group names its total "params"; the other fields match the top level.
    group_field = GROUP_FIELDS.get(field, field)
    groups = {g.get("name"): g for g in stats.get("layers", [])}
    for name in excluded:
        if name not in groups or group_field not in groups[name]:
            fail("no layer group '%s' with a field '%s'" % (name, group_field))
        computed -= groups[name][group_field]
        what += " - %s.%s" % (name, group_field)

    diff = (computed - published) / published
    within = abs(diff) <= tolerance
    print("%s: %s: computed %d, published %s (%.6g), difference %+.3f%%, "
          "tolerance %g%%"
          % ("PASS" if within else "FAIL", what, computed, published_text,
             published, diff * 100.0, tolerance * 100.0))
    if not within:
        print("check_within: %s is outside the tolerance" % what)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
