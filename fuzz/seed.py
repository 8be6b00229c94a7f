#!/usr/bin/env python3
"""Regenerates the seed corpora of the fuzz targets in fuzz/corpus/<target>/.

Seeds come from the project's own test data, so the fuzzer starts from
inputs that reach deep into each parser:

* the schema examples (schemas/*.schema.json) and the Copr conformance corpus
  (tests/conformance/corpus.jsonl), one seed per topic form;
* string literals of the unit and integration tests (src/**, tests/*.rs,
  crates/*/tests/*.rs): filters, pulp-admin flag arguments, query
  parameters, ISO 8601 text, subjects and headers.

Every seed file is named after the SHA-1 of its content (as libFuzzer names
corpus files), and each corpus directory is emptied first, so running this
again gives the same files. Usage: python3 fuzz/seed.py
"""

import hashlib
import json
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
CORPUS = FUZZ / "corpus"

# At most this many seeds per target (evenly picked from all there are):
# the committed corpus stays small.
LIMITS = {"decode": 130}
LIMIT = 80

TYPES = [
    "repo-sync-started",
    "repo-sync-finished",
    "repo-publish-started",
    "repo-publish-finished",
    "build-chroot-started",
    "build-chroot-ended",
]
PULP2 = {
    "repo-sync-started": "repo.sync.start",
    "repo-sync-finished": "repo.sync.finish",
    "repo-publish-started": "repo.publish.start",
    "repo-publish-finished": "repo.publish.finish",
}


# --- reading the sources -----------------------------------------------------


def rust_strings(text):
    """The string literals of Rust source text, unescaped: "..." and r#"..."#."""
    return [s for _, _, s in rust_literals(text)]


def rust_literals(text):
    """(start, end, unescaped text) of every string literal of Rust source."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            # Doc comments hold examples too: keep scanning inside them, but
            # skip plain comments' apostrophes by moving to the next line
            # only for non-doc comments.
            if not (text.startswith("///", i) or text.startswith("//!", i)):
                i = text.find("\n", i)
                if i < 0:
                    break
                continue
            i += 3
            continue
        if c == "r" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            if m:
                hashes = m.group(1)
                start = i + len(m.group(0))
                end = text.find('"' + hashes, start)
                if end < 0:
                    break
                out.append((i, end + 1 + len(hashes), text[start:end]))
                i = end + 1 + len(hashes)
                continue
        if c == "'" :
            # A char literal such as '"' must not open a string.
            m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|[^\\'])'", text[i:])
            i += len(m.group(0)) if m else 1
            continue
        if c == '"':
            j = i + 1
            buf = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    e = text[j + 1]
                    if e == "n":
                        buf.append("\n")
                    elif e == "r":
                        buf.append("\r")
                    elif e == "t":
                        buf.append("\t")
                    elif e == "0":
                        buf.append("\0")
                    elif e == "u":
                        m = re.match(r"\\u\{([0-9a-fA-F]+)\}", text[j:])
                        if m:
                            buf.append(chr(int(m.group(1), 16)))
                            j += len(m.group(0))
                            continue
                    elif e == "x":
                        buf.append(chr(int(text[j + 2 : j + 4], 16)))
                        j += 4
                        continue
                    elif e == "\n":
                        # A line continuation skips the newline and indentation.
                        j += 2
                        while j < n and text[j] in " \t\n":
                            j += 1
                        continue
                    else:
                        buf.append(e)
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            out.append((i, j + 1, "".join(buf)))
            i = j + 1
            continue
        i += 1
    return out


def sources(*patterns):
    files = []
    for pattern in patterns:
        files.extend(sorted(ROOT.glob(pattern)))
    return [f for f in files if f.is_file()]


def strings_of(*patterns):
    out = []
    for f in sources(*patterns):
        out.extend(rust_strings(f.read_text(encoding="utf-8")))
    return out


def json_objects(strings):
    out = []
    for s in strings:
        if not s.lstrip().startswith("{"):
            continue
        try:
            value = json.loads(s)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(s)
    return out


def topics_of_decode_target():
    """The TOPICS list of fuzz_targets/decode.rs, in order: the first byte
    of a decode seed is an index into it."""
    text = (FUZZ / "fuzz_targets" / "decode.rs").read_text(encoding="utf-8")
    block = re.search(r"const TOPICS: &\[&str\] = &\[(.*?)\];", text, re.S).group(1)
    return re.findall(r'"([^"]*)"', block)


def schema_examples():
    out = {}
    for t in TYPES:
        doc = json.loads((ROOT / "schemas" / f"{t}.schema.json").read_text(encoding="utf-8"))
        out[t] = doc.get("examples", [])
    return out


def conformance_corpus():
    path = ROOT / "tests" / "conformance" / "corpus.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            out.append((record["topic"], record["body"]))
    return out


def schema_id(t):
    doc = json.loads((ROOT / "schemas" / f"{t}.schema.json").read_text(encoding="utf-8"))
    return doc["$id"]


def dumps(value):
    return json.dumps(value, ensure_ascii=False)


# --- the seeds of each target ------------------------------------------------


def decode_seeds():
    topics = topics_of_decode_target()
    seeds = []

    def add(topic, body):
        body = body.encode() if isinstance(body, str) else body
        if topic in topics:
            seeds.append(bytes([topics.index(topic)]) + body)
        else:
            seeds.append(b"\xf0" + topic.encode() + b"\n" + body)

    examples = schema_examples()
    for t, bodies in examples.items():
        for body in bodies:
            add(t, dumps(body))
            if t in PULP2:
                add(PULP2[t], dumps(body))
                document = {"event_type": PULP2[t], "payload": body, "call_report": None}
                add("pulp.server." + PULP2[t], dumps(document))
                add("pulp.server." + PULP2[t], dumps(dumps(document)))
            else:
                end = t == "build-chroot-ended"
                add("copr.build.end" if end else "copr.build.start", dumps({"msg": body}))
                add("org.fedoraproject.prod.copr.build.end" if end else "copr.chroot.start", dumps(body))
    for topic, body in conformance_corpus():
        add(topic, dumps(body))
    # Bodies written in the tests, on the topics their keys suggest.
    for s in json_objects(strings_of("tests/*.rs", "src/events/**/*.rs", "src/*.rs")):
        keys = set(json.loads(s))
        if "event_type" in keys:
            add("pulp.server.repo.sync.finish", s)
        elif "status_int" in keys:
            add("build.end", s)
        elif "build" in keys or "chroot" in keys:
            add("copr.build.start", s)
        elif "distributor_id" in keys:
            add("repo-publish-started", s)
        elif "repo_id" in keys:
            add("repo-sync-started", s)
    # The raw-topic form, once with a topic no form knows.
    seeds.append(b"\xf0copr.build.ended\n{}")
    return seeds


def pulp2_notification_seeds():
    seeds = []
    examples = schema_examples()
    for t, name in PULP2.items():
        for body in examples[t]:
            for report in (None, {"task_id": "7d1b6a", "state": "finished"}, "absent"):
                document = {"event_type": name, "payload": body}
                if report != "absent":
                    document["call_report"] = report
                seeds.append(dumps(document).encode())
                seeds.append(dumps(dumps(document)).encode())
    for s in json_objects(strings_of("src/events/**/*.rs", "tests/*.rs", "crates/*/tests/*.rs")):
        if "event_type" in json.loads(s):
            seeds.append(s.encode())
    for s in strings_of("src/events/wire.rs"):
        if s.startswith('"{') or s.startswith('"not'):
            seeds.append(s.encode())
    return seeds


CRITERIA_SOURCES = ("src/criteria.rs", "src/criteria/**/*.rs", "src/history.rs", "tests/*.rs",
                    "crates/*/tests/*.rs", "crates/*/src/**/*.rs")


def criteria_filter_seeds():
    seeds = []
    strings = strings_of(*CRITERIA_SOURCES)
    for s in json_objects(strings):
        seeds.append(s.encode())
    # json!({...}) documents of the criteria tests, where they are plain JSON.
    for f in sources("src/criteria.rs", "src/criteria/**/*.rs"):
        text = f.read_text(encoding="utf-8")
        for m in re.finditer(r"json!\((\{[^()]*?\})\)", text, re.S):
            candidate = re.sub(r",(\s*[}\]])", r"\1", m.group(1))
            try:
                value = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(value, dict) and any(k.startswith("$") or True for k in value):
                seeds.append(dumps(value).encode())
    # Sort keys after the filter, NUL-separated.
    sorts = [s for s in strings if re.fullmatch(r"[a-z_]+,(ascending|descending)", s)]
    for i, key in enumerate(sorted(set(sorts))):
        seeds.append(b'{"type": {"$exists": true}}\0' + key.encode())
    seeds.append(b"{}\0time,descending\0repo_id")
    return seeds


FLAG_NAMES = ["StrEq", "IntEq", "Match", "In", "Not", "Gt", "Gte", "Lt", "Lte"]
FLAG_FIELDS = ["str_eq", "int_eq", "match_", "in_", "not", "gt", "gte", "lt", "lte"]
QUERY_KEYS = ["filters", "sort", "limit", "skip", "fields", "after", "before", "since"]


def criteria_flags_seeds():
    seeds = []
    # Flag arguments: each literal FIELD=VALUE after a FilterFlag::X or an
    # `x: vec![` of FlagFilters is an argument of that flag.
    marker = re.compile(
        r"FilterFlag::(" + "|".join(FLAG_NAMES) + r")\b|\b(" + "|".join(FLAG_FIELDS) + r"): vec!"
    )
    for f in sources("src/criteria.rs", "src/criteria/**/*.rs", "crates/*/src/**/*.rs"):
        text = f.read_text(encoding="utf-8")
        events = [(m.start(), "flag", m) for m in marker.finditer(text)]
        events += [(start, "str", s) for start, _, s in rust_literals(text)]
        current = None
        for _, kind, item in sorted(events, key=lambda e: e[0]):
            if kind == "flag":
                current = (
                    FLAG_NAMES.index(item.group(1)) if item.group(1) else FLAG_FIELDS.index(item.group(2))
                )
            elif current is not None and "=" in item and len(item) < 80 and not item.startswith("{"):
                seeds.append(bytes([current]) + item.encode())
    # Query parameters: ("key", "value") pairs.
    for f in sources("src/history.rs", "src/criteria/**/*.rs", "crates/*/tests/*.rs"):
        text = f.read_text(encoding="utf-8")
        literals = rust_literals(text)
        for (_, end, key), (start, _, value) in zip(literals, literals[1:]):
            if text[start - 1 : start] == "(" or not re.fullmatch(r",\s*", text[end:start]):
                continue
            if not re.search(r"\(\s*$", text[:end - len(key) - 2][-8:]):
                continue
            if key in QUERY_KEYS:
                seeds.append(bytes([QUERY_KEYS.index(key)]) + value.encode())
            elif re.fullmatch(r"[a-z_]+", key):
                seeds.append(bytes([8]) + (key + "=" + value).encode())
    # A whole query, several flags at once.
    seeds.append(b'\x00{"result": "failed"}\x00\x01time,descending\x00\x0210\x00\x07P1D')
    seeds.append(b'\x00type=build-chroot-ended\x00\x01build_id=945012\x00\x03usernames=a,"b,c"')
    return seeds


def iso8601_seeds():
    seeds = []
    shapes = re.compile(r"(R[0-9]*/)?([0-9]{2}[0-9T:Z.+\-/]*)?(P[0-9A-Z.,\-]*)?")
    for s in strings_of("src/iso8601.rs", "src/iso8601/**/*.rs", "src/time.rs", "src/history.rs",
                        "src/id.rs", "crates/repobus-cli/src/**/*.rs"):
        if 0 < len(s) <= 64 and " " not in s and (
            s[0] in "PR" and shapes.fullmatch(s) or re.match(r"[0-9]{2}", s) or re.fullmatch(r"[A-Za-z0-9_.\-]+", s)
        ):
            seeds.append(s.encode())
    seeds.append(b"R5/2007-07-05T23:16Z/P1D\n2007-07-07T00:00Z")
    return seeds


def escape_token(raw):
    if raw == "":
        return "%"
    keep = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@-")
    return "".join(chr(b) if b in keep else "%%%02X" % b for b in raw.encode())


def subject_seeds():
    seeds = []
    for s in strings_of("src/subject.rs", "src/history.rs", "src/criteria/**/*.rs", "tests/bus.rs"):
        if re.match(r"(repobus|acme|other)\.", s) and len(s) < 120:
            prefix = "acme.events" if s.startswith("acme.events.") else None
            seeds.append(((prefix + "\n") if prefix else "").encode() + s.encode())
    examples = schema_examples()
    for t, bodies in examples.items():
        for body in bodies:
            tokens = t.split("-")
            head = ".".join(tokens)
            if "repo_id" in body:
                seeds.append(f"repobus.{head}.{escape_token(body['repo_id'])}".encode())
            else:
                ids = ".".join(escape_token(body[k]) for k in ("owner", "copr", "chroot"))
                seeds.append(f"repobus.{head}.{ids}".encode())
                seeds.append(f"acme.events\nacme.events.{head}.{ids}".encode())
    return seeds


HEADER_NAMES = [
    "ce-specversion", "ce-type", "ce-time", "ce-id", "ce-source", "ce-subject",
    "ce-dataschema", "ce-pulptaskid", "Nats-Msg-Id", "ce-datacontenttype", "Content-Type",
]


def envelope_headers_seeds():
    def message(fallback, headers):
        out = bytes([fallback])
        for name, value in headers:
            if name in HEADER_NAMES:
                out += b"\n" + bytes([HEADER_NAMES.index(name)]) + value.encode()
            else:
                out += b"\n\xe0" + (name + ":" + value).encode()
        return out

    seeds = []
    for i, t in enumerate(TYPES):
        full = [
            ("ce-specversion", "1.0"),
            ("ce-id", "0190b6c2-7c4e-7d2a-9f1e-3b5c8a1d2e4f"),
            ("ce-source", "urn:repobus:host:repobus"),
            ("ce-type", t),
            ("ce-time", "2026-11-23T18:00:00.123Z"),
            ("ce-subject", "pulp-f17" if i < 4 else "945012"),
            ("ce-dataschema", schema_id(t)),
            ("ce-datacontenttype", "application/json"),
            ("Nats-Msg-Id", "0190b6c2-7c4e-7d2a-9f1e-3b5c8a1d2e4f"),
        ]
        if i < 4:
            full.append(("ce-pulptaskid", "7d1b6a"))
        seeds.append(message(i, full))
    seeds.append(message(6, []))
    seeds.append(message(0, [("Nats-Msg-Id", "order-42")]))
    seeds.append(message(6, [("ce-specversion", "0.3"), ("ce-type", "repo-sync-started")]))
    seeds.append(message(1, [("ce-time", "2012-07-06T15:49:11+02:00")]))
    # Headers that the sources set on messages.
    pair = re.compile(r'\.(?:insert|append)\(\s*"([^"]+)",\s*"([^"]*)"\s*\)')
    for f in sources("src/envelope.rs", "src/bus/**/*.rs", "tests/*.rs", "crates/*/tests/*.rs"):
        for name, value in pair.findall(f.read_text(encoding="utf-8")):
            seeds.append(message(0, [(name, value)]))
    return seeds


TARGETS = {
    "decode": decode_seeds,
    "pulp2_notification": pulp2_notification_seeds,
    "criteria_filter": criteria_filter_seeds,
    "criteria_flags": criteria_flags_seeds,
    "iso8601": iso8601_seeds,
    "subject": subject_seeds,
    "envelope_headers": envelope_headers_seeds,
}


def main():
    for target, make in TARGETS.items():
        seeds = []
        for seed in make():
            if seed and seed not in seeds:
                seeds.append(seed)
        limit = LIMITS.get(target, LIMIT)
        if len(seeds) > limit:
            seeds = [seeds[i * len(seeds) // limit] for i in range(limit)]
        directory = CORPUS / target
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for seed in seeds:
            (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
