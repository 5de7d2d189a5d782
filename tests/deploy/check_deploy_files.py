#!/usr/bin/python3
"""Checks the files under deploy/ against the flags eprop-server really has.

Usage:
  check_deploy_files.py --server-binary build/bin/eprop-server --repo-root .
  check_deploy_files.py --flags-from saved-helpfull.txt --repo-root /tmp/copy

The server's flag names and defaults come from `eprop-server --helpfull`
(Abseil's usage text), never from a list kept here. The Dockerfile, the compose
file, the Kubernetes manifests and the systemd unit are then read and every
eprop-server invocation in them is checked: flags exist and parse, the port,
data directory and token path agree with what is published/mounted, probes are
native gRPC probes, stop timeouts exceed --shutdown_timeout_s, and nothing runs
as root. One line is printed per check; the exit status is 1 if any failed.

Only the Python standard library is needed. YAML is read by a small reader for
the block-style subset these files use; when PyYAML happens to be importable
its reading is compared with ours, so a file drifting outside the subset fails
loudly instead of being misread.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys

SERVER_NAME = "eprop-server"
# Flags whose meaning the checks below rely on. Their names and defaults are
# still taken from --helpfull; a missing one is reported as a failure.
REQUIRED_FLAGS = ("host", "port", "data_dir", "auth_token_file", "tls_cert", "tls_key",
                  "shutdown_timeout_s", "workers", "threads_per_job", "max_job_memory_mb")
ANY_ADDRESS = ("0.0.0.0", "::", "[::]")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class CheckError(Exception):
    """A file is malformed or missing something a check needs."""


# --------------------------------------------------------------------------
# Abseil --helpfull parsing

class Flag:
    def __init__(self, name, default, kind):
        self.name = name
        self.default = default  # as printed, without quotes ("" if none)
        self.kind = kind        # "string", "bool", "int", "float" or "other"


_FLAG_START = re.compile(r"^ {2,4}--([A-Za-z_][A-Za-z0-9_]*) ")
_FLAG_ENTRY = re.compile(r"^--(\w+) \((.*)\); default: (.*?);(?: currently: .*?;)?$")


def parse_helpfull(text):
    """Returns {name: Flag} from Abseil's usage output."""
    entries, current, in_flags = [], None, False
    for raw in text.splitlines():
        if re.match(r"^\s*Flags from .*:$", raw):
            in_flags, current = True, None  # the usage message above is free text
        elif in_flags and _FLAG_START.match(raw):
            current = [raw.strip()]
            entries.append(current)
        elif current is not None and raw.startswith("      ") and raw.strip():
            current.append(raw.strip())  # wrapped continuation line
        else:
            current = None
    flags = {}
    for parts in entries:
        entry = " ".join(parts)
        m = _FLAG_ENTRY.match(entry)
        if not m:
            raise CheckError("cannot read --helpfull entry: %r" % entry)
        name, default = m.group(1), m.group(3)
        if len(default) >= 2 and default[0] == default[-1] == '"':
            kind, default = "string", default[1:-1]
        elif default in ("true", "false"):
            kind = "bool"
        elif re.fullmatch(r"-?\d+", default):
            kind = "int"
        elif re.fullmatch(r"-?(\d+\.\d*|\.\d+|\d+)(e[-+]?\d+)?", default):
            kind = "float"
        else:
            kind = "other"
        flags[name] = Flag(name, default, kind)
    return flags


_BOOL_WORDS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
               "false": False, "f": False, "no": False, "n": False, "0": False}


def parse_server_args(args, flags):
    """Reads eprop-server arguments the way absl does.

    Returns ({name: value}, [problem]); the last occurrence of a flag wins.
    """
    values, problems = {}, []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            problems.append("unexpected positional argument %r" % arg)
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:]
        name, has_value, value = body.partition("=")
        if name not in flags and name.startswith("no") and name[2:] in flags \
                and flags[name[2:]].kind == "bool" and not has_value:
            values[name[2:]] = "false"
            continue
        if name not in flags:
            problems.append("--%s is not a flag of %s" % (name, SERVER_NAME))
            continue
        flag = flags[name]
        if not has_value:
            if flag.kind == "bool":
                value = "true"
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                problems.append("--%s needs a value" % name)
                continue
        if flag.kind == "int" and not re.fullmatch(r"[-+]?\d+", value):
            problems.append("--%s=%s is not an integer" % (name, value))
        elif flag.kind == "bool" and value.lower() not in _BOOL_WORDS:
            problems.append("--%s=%s is not a boolean" % (name, value))
        elif flag.kind == "float":
            try:
                float(value)
            except ValueError:
                problems.append("--%s=%s is not a number" % (name, value))
        values[name] = value
    return values, problems


class Invocation:
    """One way a deployment starts eprop-server."""

    def __init__(self, where, argv, flags):
        self.where = where
        idx = [k for k, a in enumerate(argv) if os.path.basename(a) == SERVER_NAME]
        if not idx:
            raise CheckError("%s does not run %s (argv: %s)" % (where, SERVER_NAME, argv))
        self.argv = argv
        self.program = argv[idx[0]]
        self.args = argv[idx[0] + 1:]
        self.flags = flags
        self.values, self.problems = parse_server_args(self.args, flags)

    def get(self, name):
        """The effective value of --name: as passed, else the server default."""
        if name in self.values:
            return self.values[name]
        if name not in self.flags:
            raise CheckError("%s has no --%s flag" % (SERVER_NAME, name))
        return self.flags[name].default

    def get_int(self, name):
        value = self.get(name)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise CheckError("--%s=%s is not an integer" % (name, value))


# --------------------------------------------------------------------------
# A small YAML reader: block mappings and sequences, flow collections on one
# line, plain and quoted scalars, comments and `---` document separators.
# Anchors, tags, block scalars and multi-line scalars are rejected.

class YamlError(CheckError):
    pass


class _Line:
    __slots__ = ("indent", "text", "no")

    def __init__(self, indent, text, no):
        self.indent, self.text, self.no = indent, text, no


def _strip_comment(line):
    quote, i = None, 0
    while i < len(line):
        c = line[i]
        if quote == '"':
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quote = None
        elif quote == "'":
            if c == "'":
                if line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                quote = None
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
        elif c in "\"'" and (i == 0 or line[i - 1] in " \t[{,"):
            quote = c
        i += 1
    return line


_YAML_INT10 = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_YAML_INT8 = re.compile(r"[-+]?0[0-7_]+")
_YAML_INT16 = re.compile(r"[-+]?0x[0-9a-fA-F_]+")
_YAML_FLOAT = re.compile(r"[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?")
_YAML_TRUE = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}
_YAML_FALSE = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"}


def _plain(text):
    """Types a plain scalar roughly as PyYAML (YAML 1.1) does."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in _YAML_TRUE:
        return True
    if text in _YAML_FALSE:
        return False
    if _YAML_INT8.fullmatch(text):
        return int(text.replace("_", ""), 8)
    if _YAML_INT16.fullmatch(text):
        return int(text.replace("_", ""), 16)
    if _YAML_INT10.fullmatch(text):
        return int(text.replace("_", ""))
    if _YAML_FLOAT.fullmatch(text) and text not in (".", "+.", "-."):
        return float(text.replace("_", ""))
    if text[0] in "&*!|>%@`":
        raise YamlError("unsupported YAML syntax in %r" % text)
    return text


_DQ_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"',
               "/": "/", " ": " ", "e": "\x1b"}


def _quoted(text, i):
    """Reads a quoted scalar starting at text[i]; returns (value, next index)."""
    q = text[i]
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if q == "'" and c == "'":
            if text[i + 1:i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        if q == '"' and c == '"':
            return "".join(out), i + 1
        if q == '"' and c == "\\":
            e = text[i + 1:i + 2]
            if e in _DQ_ESCAPES:
                out.append(_DQ_ESCAPES[e])
                i += 2
                continue
            if e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6]):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            raise YamlError("unsupported escape in %r" % text)
        out.append(c)
        i += 1
    raise YamlError("unterminated quoted scalar in %r" % text)


def _flow(text, i):
    """Reads a flow value at text[i]; returns (value, next index)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        raise YamlError("truncated flow collection in %r" % text)
    c = text[i]
    if c in "\"'":
        return _quoted(text, i)
    if c in "[{":
        close = "]" if c == "[" else "}"
        result = [] if c == "[" else {}
        i += 1
        while True:
            while i < len(text) and text[i] == " ":
                i += 1
            if i < len(text) and text[i] == close:
                return result, i + 1
            if c == "[":
                value, i = _flow(text, i)
                result.append(value)
            else:
                key, i = _flow(text, i)
                while i < len(text) and text[i] == " ":
                    i += 1
                if i < len(text) and text[i] == ":":
                    value, i = _flow(text, i + 1)
                else:
                    value = None
                result[key] = value
            while i < len(text) and text[i] == " ":
                i += 1
            if i < len(text) and text[i] == ",":
                i += 1
            elif i < len(text) and text[i] == close:
                return result, i + 1
            else:
                raise YamlError("malformed flow collection %r" % text)
    j = i
    while j < len(text) and text[j] not in ",]}" and not (
            text[j] == ":" and (j + 1 == len(text) or text[j + 1] in " ,]}")):
        j += 1
    return _plain(text[i:j].strip()), j


def _inline(text, no):
    text = text.strip()
    if text[:1] in ("|", ">"):
        raise YamlError("line %d: block scalars are not supported" % no)
    if text[:1] in ("[", "{", '"', "'"):
        value, end = _flow(text, 0)
        if text[end:].strip():
            raise YamlError("line %d: trailing text after %r" % (no, text[:end]))
        return value
    return _plain(text)


def _split_key(text):
    """Splits 'key: value' (value may be ''); None if text is not a mapping entry."""
    if text[:1] in ("[", "{"):
        return None
    if text[:1] in ("\"", "'"):
        key, end = _quoted(text, 0)
        rest = text[end:]
        if rest == ":" or rest.startswith(": "):
            return key, rest[1:].strip()
        return None
    for m in re.finditer(r":( |$)", text):
        key = text[:m.start()].strip()
        if key:
            return key, text[m.end():].strip()
    return None


def _is_item(text):
    return text == "-" or text.startswith("- ")


def _node(lines, i, indent):
    if _is_item(lines[i].text):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _sequence(lines, i, indent):
    items = []
    while i < len(lines) and lines[i].indent == indent and _is_item(lines[i].text):
        line = lines[i]
        rest = line.text[1:]
        body = rest.lstrip(" ")
        if not body:
            if i + 1 < len(lines) and lines[i + 1].indent > indent:
                value, i = _node(lines, i + 1, lines[i + 1].indent)
            else:
                value, i = None, i + 1
        elif _is_item(body) or _split_key(body) is not None:
            inner = indent + 1 + len(rest) - len(body)
            lines[i] = _Line(inner, body, line.no)
            value, i = _node(lines, i, inner)
        else:
            value, i = _inline(body, line.no), i + 1
            if i < len(lines) and lines[i].indent > indent:
                raise YamlError("line %d: multi-line scalars are not supported" % lines[i].no)
        items.append(value)
    return items, i


def _mapping(lines, i, indent):
    result = {}
    while i < len(lines) and lines[i].indent == indent and not _is_item(lines[i].text):
        line = lines[i]
        kv = _split_key(line.text)
        if kv is None:
            raise YamlError("line %d: expected 'key: value', got %r" % (line.no, line.text))
        key, rest = kv
        if key in result:
            raise YamlError("line %d: duplicate key %r" % (line.no, key))
        i += 1
        if rest == "":
            if i < len(lines) and lines[i].indent > indent:
                value, i = _node(lines, i, lines[i].indent)
            elif i < len(lines) and lines[i].indent == indent and _is_item(lines[i].text):
                value, i = _sequence(lines, i, indent)
            else:
                value = None
        else:
            value = _inline(rest, line.no)
            if i < len(lines) and lines[i].indent > indent:
                raise YamlError("line %d: unexpected indentation" % lines[i].no)
        result[key] = value
    return result, i


def load_yaml_documents(text):
    """Returns the list of documents (empty documents are dropped)."""
    docs, current = [], []
    for no, raw in enumerate(text.splitlines(), 1):
        if re.match(r"^---(\s|$)", raw):
            docs.append(current)
            current = []
            if raw[3:].strip() and not raw[3:].strip().startswith("#"):
                raise YamlError("line %d: content after '---' is not supported" % no)
            continue
        if raw.startswith("%") or raw.rstrip() == "...":
            raise YamlError("line %d: YAML directives are not supported" % no)
        body = _strip_comment(raw).rstrip()
        if not body.strip():
            continue
        stripped = body.lstrip(" ")
        if stripped.startswith("\t") or "\t" in body[:len(body) - len(stripped)]:
            raise YamlError("line %d: tab in indentation" % no)
        current.append(_Line(len(body) - len(stripped), stripped, no))
    docs.append(current)
    result = []
    for lines in docs:
        if not lines:
            continue
        value, i = _node(lines, 0, lines[0].indent)
        if i < len(lines):
            raise YamlError("line %d: unexpected %r (bad indentation?)" % (lines[i].no, lines[i].text))
        result.append(value)
    return result


def _pyyaml_documents(text):
    """PyYAML's reading of text, or None when PyYAML is not installed."""
    try:
        import yaml  # optional; only used to validate the reader above
    except ImportError:
        return None
    return [d for d in yaml.safe_load_all(text) if d is not None]


# --------------------------------------------------------------------------
# Small value parsers

def go_duration_seconds(text):
    """Compose durations: '45s', '1m30s', '1h', '500ms'."""
    text = str(text).strip()
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CheckError("cannot read duration %r (needs a unit, e.g. 45s)" % text)
    return sum(float(n) * units[u] for n, u in parts)


def systemd_seconds(text):
    """systemd time spans: '45', '45s', '1min 30s', 'infinity'."""
    text = text.strip()
    if text == "infinity":
        return float("inf")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    units = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1,
             "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
             "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400,
             "days": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text)
    if not parts or re.sub(r"\s+", "", text) != "".join(n + u for n, u in parts):
        raise CheckError("cannot read time span %r" % text)
    total = 0.0
    for n, u in parts:
        if u not in units:
            raise CheckError("unknown time unit %r in %r" % (u, text))
        total += float(n) * units[u]
    return total


def cpu_quantity(value):
    text = str(value)
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


def memory_bytes(value):
    text = str(value)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?", text)
    if not m:
        raise CheckError("cannot read memory quantity %r" % text)
    factor = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
              "Ei": 2**60, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
              "P": 10**15, "E": 10**18}[m.group(2)]
    return float(m.group(1)) * factor


def is_root_user(user):
    """True for 'root', '0' and 'root:x' / '0:x' user specifications."""
    name = str(user).split(":")[0].strip()
    return name in ("root", "0", "")


def path_under(path, directory):
    """The path of `path` relative to `directory`, or None if it is not inside."""
    path, directory = os.path.normpath(path), os.path.normpath(directory)
    if path == directory:
        return ""
    prefix = directory.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


# --------------------------------------------------------------------------
# Reporting

class Report:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def check(self, area, ok, what, why=""):
        if ok:
            self.passed += 1
            print("PASS  [%s] %s" % (area, what))
        else:
            message = "[%s] %s%s" % (area, what, (" -- " + why) if why else "")
            self.failures.append(message)
            print("FAIL  " + message)
        return ok

    def skip(self, area, what, why):
        print("SKIP  [%s] %s -- %s" % (area, what, why))

    def fail(self, area, what, why=""):
        return self.check(area, False, what, why)


def common_invocation_checks(report, area, inv, container):
    """Checks every deployment's eprop-server invocation gets."""
    report.check(area, not inv.problems,
                 "every flag passed to %s exists and parses: %s"
                 % (SERVER_NAME, " ".join(inv.args) or "(none)"),
                 "; ".join(inv.problems))
    cert, key = inv.get("tls_cert"), inv.get("tls_key")
    report.check(area, bool(cert) == bool(key), "--tls_cert and --tls_key given together",
                 "tls_cert=%r tls_key=%r" % (cert, key))
    if container:
        host = inv.get("host")
        report.check(area, host in ANY_ADDRESS,
                     "--host=%s listens on all interfaces of the container" % host,
                     "the server default %r is unreachable through a published port"
                     % inv.flags["host"].default if "host" not in inv.values else
                     "use --host=0.0.0.0")


def grace_check(report, area, inv, what, seconds):
    timeout = inv.get_int("shutdown_timeout_s")
    if "%g" % seconds not in what:
        what += " (%gs)" % seconds
    report.check(area, seconds > timeout,
                 "%s exceeds --shutdown_timeout_s (%ds)" % (what, timeout),
                 "running jobs could be killed before their checkpoint is written")


# --------------------------------------------------------------------------
# Dockerfile

class Dockerfile:
    def __init__(self, path):
        self.path = path
        self.stages = []  # [{"from": image, "name": alias, "instrs": [(op, args, line)]}]
        logical, start = "", None
        with open(path, encoding="utf-8") as f:
            for no, raw in enumerate(f, 1):
                line = raw.rstrip("\n")
                if line.lstrip().startswith("#"):
                    continue  # comments, also inside continuations
                if start is None:
                    if not line.strip():
                        continue
                    start = no
                if line.rstrip().endswith("\\"):
                    logical += line.rstrip()[:-1] + " "
                    continue
                logical += line
                self._add(logical.strip(), start)
                logical, start = "", None
        if logical.strip():
            self._add(logical.strip(), start)
        if not self.stages:
            raise CheckError("%s has no FROM" % path)

    def _add(self, text, no):
        op, _, args = text.partition(" ")
        op, args = op.upper(), args.strip()
        if op == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            self.stages.append({"from": words[0], "name": name, "instrs": []})
        elif not self.stages:
            if op != "ARG":
                raise CheckError("%s:%d: %s before FROM" % (self.path, no, op))
        else:
            self.stages[-1]["instrs"].append((op, args, no))

    @property
    def final(self):
        return self.stages[-1]

    def last(self, op, stage=None):
        found = [a for o, a, _ in (stage or self.final)["instrs"] if o == op]
        return found[-1] if found else None

    def all(self, op, stage=None):
        return [a for o, a, _ in (stage or self.final)["instrs"] if o == op]

    @staticmethod
    def exec_form(args):
        """(argv, is_exec_form) for ENTRYPOINT/CMD/HEALTHCHECK CMD arguments."""
        if args.startswith("["):
            try:
                argv = json.loads(args)
            except ValueError:
                raise CheckError("malformed exec form %r" % args)
            return [str(a) for a in argv], True
        return ["/bin/sh", "-c", args], False

    def entrypoint(self):
        args = self.last("ENTRYPOINT")
        return self.exec_form(args) if args is not None else ([], True)

    def cmd(self):
        args = self.last("CMD")
        return self.exec_form(args)[0] if args is not None else []

    def user_uid(self):
        """(user spec, uid or None) of the final stage."""
        user = self.last("USER")
        if user is None:
            return None, 0
        name = user.split(":")[0]
        if re.fullmatch(r"\d+", name):
            return user, int(name)
        for run in self.all("RUN"):
            for command in re.split(r"&&|;|\|\|", run):
                words = shlex.split(command)
                if not words or words[0] not in ("useradd", "adduser") or words[-1] != name:
                    continue
                for k, w in enumerate(words):
                    if w in ("--uid", "-u") and k + 1 < len(words):
                        return user, int(words[k + 1])
                    if w.startswith("--uid="):
                        return user, int(w[6:])
        return user, None


def check_dockerfile(report, repo, flags):
    area = "docker"
    path = os.path.join(repo, "deploy", "Dockerfile")
    if not os.path.isfile(path):
        report.fail(area, "deploy/Dockerfile exists")
        return None
    df = Dockerfile(path)
    report.check(area, len(df.stages) >= 2, "multi-stage build (%d stages)" % len(df.stages))
    images = [s["from"] for s in df.stages]
    report.check(area, all(re.fullmatch(r"debian:bookworm(-slim)?(@.*)?", i) for i in images),
                 "every stage is Debian 12 (bookworm), matching install-deps.sh: %s"
                 % ", ".join(images))
    runs = " ".join(r for s in df.stages[:-1] for r in df.all("RUN", s))
    report.check(area, "deploy/install-deps.sh" in runs and "--preset release" in runs,
                 "build stage runs deploy/install-deps.sh and the release preset")
    report.check(area, "-DEPROP_BUILD_TESTS=OFF" in runs and "-DEPROP_BUILD_BENCH=OFF" in runs,
                 "build stage turns off tests and benchmarks")

    entry, exec_form = df.entrypoint()
    report.check(area, exec_form, "ENTRYPOINT uses the exec form, so SIGTERM reaches the server",
                 "shell form runs /bin/sh as PID 1")
    inv = Invocation("Dockerfile ENTRYPOINT+CMD", entry + df.cmd(), flags)
    common_invocation_checks(report, area, inv, container=True)
    port = inv.get("port")

    exposed = [p.split("/")[0] for e in df.all("EXPOSE") for p in e.split()]
    report.check(area, exposed == [port], "EXPOSE %s equals --port=%s" % (" ".join(exposed), port))

    volumes = []
    for v in df.all("VOLUME"):
        volumes += json.loads(v) if v.startswith("[") else v.split()
    data_dir = inv.get("data_dir")
    report.check(area, data_dir in volumes,
                 "VOLUME %s holds --data_dir=%s" % (" ".join(volumes), data_dir))

    user, uid = df.user_uid()
    report.check(area, user is not None and uid is not None and uid != 0,
                 "final stage runs as non-root (USER %s, uid %s)" % (user, uid),
                 "add USER with a fixed non-zero uid" if user is None else
                 "cannot resolve the uid, or it is 0")

    signal = df.last("STOPSIGNAL")
    report.check(area, signal in (None, "SIGTERM", "TERM", "15"),
                 "stop signal is SIGTERM (%s)" % (signal or "default"))

    health = df.last("HEALTHCHECK")
    if health is None or health.strip().upper() == "NONE":
        report.skip(area, "HEALTHCHECK targets --port", "no HEALTHCHECK")
    else:
        m = re.search(r"\bCMD\s+(.*)$", health)
        argv = df.exec_form(m.group(1).strip())[0] if m else []
        targets = re.findall(r"(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)", " ".join(argv))
        report.check(area, bool(targets) and all(t == port for t in targets),
                     "HEALTHCHECK (%s) probes loopback port %s" % (" ".join(argv), port),
                     "targets %s" % (targets or "no 127.0.0.1:PORT"))
    return {"df": df, "inv": inv, "uid": uid}


# --------------------------------------------------------------------------
# docker compose

def _compose_argv(value):
    if value is None:
        return None
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _mounted(path, mounts):
    """The (target, source, read_only) mount holding path, deepest first."""
    best = None
    for target, source, ro in mounts:
        rel = path_under(path, target)
        if rel is not None and (best is None or len(target) > len(best[0])):
            best = (target, source, ro)
    return best


def read_yaml_file(report, area, repo, path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs = load_yaml_documents(text)
    name = os.path.relpath(path, repo)
    reference = None
    try:
        reference = _pyyaml_documents(text)
    except Exception as e:  # PyYAML rejects it: the file is not valid YAML
        report.fail(area, "%s is valid YAML" % name, str(e).replace("\n", " "))
        return docs
    if reference is None:
        report.skip(area, "%s read identically by PyYAML" % name, "PyYAML not installed")
    else:
        report.check(area, reference == docs, "%s read identically by PyYAML" % name,
                     "the file uses YAML outside what this checker reads")
    return docs


def check_compose(report, repo, flags, docker):
    area = "compose"
    path = os.path.join(repo, "deploy", "docker-compose.yml")
    if not os.path.isfile(path):
        report.fail(area, "deploy/docker-compose.yml exists")
        return None
    docs = read_yaml_file(report, area, repo, path)
    compose = docs[0] if docs else {}
    services = compose.get("services") or {}
    if not report.check(area, SERVER_NAME in services, "service %s is defined" % SERVER_NAME):
        return None
    svc = services[SERVER_NAME]

    build = svc.get("build")
    if isinstance(build, str):
        build = {"context": build}
    if report.check(area, isinstance(build, dict), "service is built from the repository"):
        context = os.path.normpath(os.path.join(os.path.dirname(path), build.get("context", ".")))
        dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
        report.check(area, os.path.samefile(context, repo) and os.path.isfile(dockerfile)
                     and os.path.samefile(dockerfile, os.path.join(repo, "deploy", "Dockerfile")),
                     "build context is the repo root and dockerfile is deploy/Dockerfile",
                     "context %s, dockerfile %s" % (context, dockerfile))

    entry = _compose_argv(svc.get("entrypoint"))
    command = _compose_argv(svc.get("command"))
    image_entry = docker["df"].entrypoint()[0] if docker else []
    image_cmd = docker["df"].cmd() if docker else []
    argv = (entry if entry is not None else image_entry) + (
        command if command is not None else ([] if entry is not None else image_cmd))
    inv = Invocation("compose service", argv, flags)
    common_invocation_checks(report, area, inv, container=True)
    port = inv.get("port")
    tls = bool(inv.get("tls_cert"))

    published = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            published.append((str(p.get("host_ip", "")), str(p.get("published", "")),
                              str(p.get("target"))))
        else:
            parts = str(p).split("/")[0].rsplit(":", 2)
            parts = [""] * (3 - len(parts)) + parts
            published.append(tuple(parts))
    report.check(area, bool(published) and all(t == port for _, _, t in published),
                 "published container port(s) %s equal --port=%s"
                 % (", ".join(t for _, _, t in published) or "none", port))
    report.check(area, tls or all(ip in LOOPBACK for ip, _, _ in published),
                 "without TLS the port is published on loopback only (%s)"
                 % ", ".join(ip or "all interfaces" for ip, _, _ in published),
                 "the bearer token would cross the network in clear text")

    top_volumes = compose.get("volumes") or {}
    mounts = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            mounts.append((v.get("target"), v.get("source"), bool(v.get("read_only"))))
        else:
            bits = str(v).split(":")
            if len(bits) == 1:
                mounts.append((bits[0], None, False))
            else:
                mounts.append((bits[1], bits[0], len(bits) > 2 and "ro" in bits[2].split(",")))
    data_dir = inv.get("data_dir")
    data = [m for m in mounts if m[0] == data_dir]
    ok = bool(data) and not data[0][2]
    named = ok and data[0][1] and not data[0][1].startswith(("/", ".", "~", "$"))
    report.check(area, ok and (not named or data[0][1] in top_volumes),
                 "volume mounted read-write at --data_dir=%s%s"
                 % (data_dir, " (named volume %s)" % data[0][1] if named else ""),
                 "mounts: %s" % ", ".join(str(m[0]) for m in mounts))

    token = inv.get("auth_token_file")
    if not token:
        report.skip(area, "token file is mounted", "no --auth_token_file")
    else:
        top_secrets = compose.get("secrets") or {}
        secret_mounts = []
        for s in svc.get("secrets") or []:
            source = s if isinstance(s, str) else s.get("source")
            target = source if isinstance(s, str) else s.get("target", source)
            target = target if str(target).startswith("/") else "/run/secrets/" + str(target)
            secret_mounts.append((target, source))
        match = [src for target, src in secret_mounts if target == token]
        report.check(area, bool(match) and match[0] in top_secrets,
                     "--auth_token_file=%s is a declared secret's mount path" % token,
                     "secret mounts: %s" % (", ".join(t for t, _ in secret_mounts) or "none"))

    grace = svc.get("stop_grace_period")
    seconds = go_duration_seconds(grace) if grace is not None else 10.0
    grace_check(report, area, inv, "stop_grace_period %s" % (grace or "unset (10s)"), seconds)
    signal = svc.get("stop_signal")
    report.check(area, signal in (None, "SIGTERM", "TERM"),
                 "stop signal is SIGTERM (%s)" % (signal or "image default"))

    user = svc.get("user")
    image_uid = docker["uid"] if docker else None
    if user is None:
        report.check(area, image_uid not in (None, 0),
                     "container runs as the image's non-root user (uid %s)" % image_uid)
    else:
        name = str(user).split(":")[0]
        uid = int(name) if name.isdigit() else None
        report.check(area, not is_root_user(user) and (uid is None or uid == image_uid),
                     "container runs as non-root user %s, owner of the image's data dir (uid %s)"
                     % (user, image_uid))
    return inv


# --------------------------------------------------------------------------
# Kubernetes

def _probe_checks(report, area, container, name, port, required):
    probe = container.get(name)
    if probe is None:
        if required:
            report.fail(area, "%s is defined" % name)
        else:
            report.skip(area, "%s is a native gRPC probe" % name, "not defined")
        return
    others = [k for k in ("exec", "tcpSocket", "httpGet") if k in probe]
    grpc = probe.get("grpc")
    report.check(area, isinstance(grpc, dict) and not others,
                 "%s is a native gRPC probe" % name,
                 "uses %s" % (", ".join(others) or "no grpc handler"))
    if not isinstance(grpc, dict):
        return
    report.check(area, str(grpc.get("port")) == port,
                 "%s grpc.port %s equals --port=%s" % (name, grpc.get("port"), port))
    report.check(area, grpc.get("service", "") == "",
                 "%s checks the server-wide health status (service \"\")" % name,
                 "service %r is not registered with the health service" % grpc.get("service"))
    period = probe.get("periodSeconds", 10)
    timeout = probe.get("timeoutSeconds", 1)
    failures = probe.get("failureThreshold", 3)
    successes = probe.get("successThreshold", 1)
    sane = (isinstance(period, int) and 1 <= period <= 300 and isinstance(timeout, int)
            and 1 <= timeout <= period and isinstance(failures, int) and failures >= 1
            and isinstance(successes, int) and successes >= 1)
    why = "period %s, timeout %s, failureThreshold %s, successThreshold %s" % (
        period, timeout, failures, successes)
    if sane and name != "readinessProbe" and successes != 1:
        sane, why = False, "Kubernetes requires successThreshold 1 for " + name
    if sane and name == "livenessProbe" and period * failures < 30:
        sane, why = False, "restarts after only %ds of failed checks (< 30s)" % (period * failures)
    report.check(area, sane, "%s timing is sane (%s)" % (
        name, "every %ss, timeout %ss, %s failures" % (period, timeout, failures)), why)


def _labels_match(selector, labels):
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def check_kubernetes(report, repo, flags, docker):
    area = "k8s"
    directory = os.path.join(repo, "deploy", "k8s")
    objects = []
    for name in ("statefulset.yaml", "service.yaml", "secret.example.yaml"):
        path = os.path.join(directory, name)
        if report.check(area, os.path.isfile(path), "deploy/k8s/%s exists" % name):
            objects += [d for d in read_yaml_file(report, area, repo, path) if isinstance(d, dict)]
    for obj in objects:
        meta = obj.get("metadata") or {}
        report.check(area, "namespace" not in meta,
                     "%s/%s is namespace-agnostic" % (obj.get("kind"), meta.get("name")))

    def find(kind, name=None):
        return [o for o in objects if o.get("kind") == kind and
                (name is None or (o.get("metadata") or {}).get("name") == name)]

    sts_list = find("StatefulSet", SERVER_NAME)
    if not report.check(area, len(sts_list) == 1, "StatefulSet %s is defined" % SERVER_NAME):
        return None
    sts = sts_list[0]["spec"]
    report.check(area, sts.get("replicas", 1) == 1,
                 "replicas is 1 (one server per data volume)", "replicas %s" % sts.get("replicas"))
    template = sts["template"]
    pod_labels = (template.get("metadata") or {}).get("labels") or {}
    report.check(area, _labels_match((sts.get("selector") or {}).get("matchLabels"), pod_labels),
                 "StatefulSet selector matches the pod labels")
    pod = template["spec"]

    # The server's container either names the binary in `command` or relies on
    # the image's ENTRYPOINT (then it is recognised by its name or image).
    containers = [c for c in pod.get("containers") or []
                  if any(os.path.basename(str(a)) == SERVER_NAME
                         for a in (c.get("command") or []))
                  or (not c.get("command") and docker and (
                      c.get("name") == SERVER_NAME or SERVER_NAME in str(c.get("image"))))]
    if not report.check(area, len(containers) == 1, "exactly one container runs %s" % SERVER_NAME):
        return None
    container = containers[0]
    if container.get("command"):
        argv = [str(a) for a in container["command"]] + [str(a) for a in container.get("args") or []]
    elif container.get("args") is not None:
        argv = docker["df"].entrypoint()[0] + [str(a) for a in container["args"]]
    else:
        argv = docker["df"].entrypoint()[0] + docker["df"].cmd()
    inv = Invocation("StatefulSet container", argv, flags)
    common_invocation_checks(report, area, inv, container=True)
    port = inv.get("port")
    report.check(area, not inv.get("tls_cert"),
                 "pod serves plaintext gRPC (native gRPC probes cannot use TLS)",
                 "terminate TLS in an ingress or mesh instead")

    ports = container.get("ports") or []
    report.check(area, bool(ports) and all(str(p.get("containerPort")) == port for p in ports),
                 "containerPort %s equals --port=%s"
                 % (", ".join(str(p.get("containerPort")) for p in ports) or "none", port))

    _probe_checks(report, area, container, "readinessProbe", port, True)
    _probe_checks(report, area, container, "livenessProbe", port, True)
    _probe_checks(report, area, container, "startupProbe", port, False)

    grace = pod.get("terminationGracePeriodSeconds")
    grace_check(report, area, inv, "terminationGracePeriodSeconds %s" % (
        "unset (30s)" if grace is None else grace), 30.0 if grace is None else float(grace))

    pod_sc = pod.get("securityContext") or {}
    ctr_sc = container.get("securityContext") or {}
    non_root = ctr_sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    uid = ctr_sc.get("runAsUser", pod_sc.get("runAsUser"))
    image_uid = docker["uid"] if docker else None
    effective_uid = uid if uid is not None else image_uid
    report.check(area, non_root is True and effective_uid not in (None, 0),
                 "runs as non-root (runAsNonRoot %s, uid %s)" % (non_root, effective_uid))
    report.check(area, effective_uid == image_uid,
                 "runAsUser matches the image's user (uid %s)" % image_uid,
                 "runAsUser %s" % effective_uid)
    report.check(area, pod_sc.get("fsGroup") not in (None, 0),
                 "fsGroup %s makes the data volume writable" % pod_sc.get("fsGroup"))
    report.check(area, ctr_sc.get("allowPrivilegeEscalation") is False,
                 "allowPrivilegeEscalation is false")

    mounts = {m.get("name"): m for m in container.get("volumeMounts") or []}
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    claims = {(t.get("metadata") or {}).get("name"): t for t in sts.get("volumeClaimTemplates") or []}
    data_dir = inv.get("data_dir")
    data = [m for m in mounts.values() if m.get("mountPath") == data_dir]
    ok = len(data) == 1 and not data[0].get("readOnly")
    claim = claims.get(data[0].get("name")) if ok else None
    if claim is None and ok:
        vol = volumes.get(data[0].get("name")) or {}
        ok = "persistentVolumeClaim" in vol
    report.check(area, ok, "persistent volume mounted read-write at --data_dir=%s%s"
                 % (data_dir, " (volumeClaimTemplate %s)" % data[0].get("name") if claim else ""),
                 "mountPaths: %s" % ", ".join(str(m.get("mountPath")) for m in mounts.values()))
    if claim is not None:
        storage = ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
        report.check(area, storage is not None, "data claim requests storage (%s)" % storage)

    token = inv.get("auth_token_file")
    if not token:
        report.skip(area, "token file is mounted", "no --auth_token_file")
    else:
        holder = _mounted(token, [(m.get("mountPath"), m.get("name"), bool(m.get("readOnly")))
                                  for m in mounts.values() if m.get("mountPath")])
        secret = ((volumes.get(holder[1]) or {}).get("secret") or {}) if holder else {}
        ok, why = bool(holder and secret), "no secret volume mounted above %s" % token
        key = None
        if ok:
            rel = path_under(token, holder[0])
            items = secret.get("items")
            if items:
                keys = [i.get("key") for i in items if i.get("path") == rel]
                key = keys[0] if keys else None
            else:
                key = rel
            secret_name = secret.get("secretName")
            objs = find("Secret", secret_name)
            known = set()
            for o in objs:
                known |= set((o.get("data") or {}).keys()) | set((o.get("stringData") or {}).keys())
            ok = bool(key) and bool(objs) and key in known
            why = "Secret %s (defined: %s) has keys %s; the mount gives %s" % (
                secret_name, bool(objs), sorted(known), key)
            ok = ok and holder[2]
            if not holder[2]:
                why = "the secret mount at %s is not readOnly" % holder[0]
        report.check(area, ok, "--auth_token_file=%s is key %s of a Secret mounted read-only%s"
                     % (token, repr(key) if key else "?", " at " + holder[0] if holder else ""), why)

    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    cpus = inv.get_int("workers") * inv.get_int("threads_per_job")
    ok = "cpu" in requests and cpu_quantity(requests["cpu"]) >= cpus
    report.check(area, ok, "cpu request %s covers --workers x --threads_per_job = %d"
                 % (requests.get("cpu"), cpus))
    report.check(area, "memory" in requests, "memory request is set (%s)" % requests.get("memory"))
    if "memory" in limits:
        need = inv.get_int("workers") * inv.get_int("max_job_memory_mb") * 2**20
        report.check(area, memory_bytes(limits["memory"]) >= need,
                     "memory limit %s covers --workers x --max_job_memory_mb = %d MiB"
                     % (limits["memory"], need // 2**20))

    service_name = sts.get("serviceName")
    services = find("Service", service_name)
    if report.check(area, len(services) == 1,
                    "Service %s named by the StatefulSet's serviceName exists" % service_name):
        svc = services[0]["spec"]
        report.check(area, svc.get("clusterIP") == "None", "Service is headless (clusterIP: None)")
        report.check(area, _labels_match(svc.get("selector"), pod_labels),
                     "Service selector matches the pod labels")
        by_name = {p.get("name"): str(p.get("containerPort")) for p in ports}
        svc_ports = svc.get("ports") or []
        ok = bool(svc_ports)
        for p in svc_ports:
            target = p.get("targetPort", p.get("port"))
            resolved = by_name.get(target) if isinstance(target, str) else str(target)
            ok = ok and str(p.get("port")) == port and resolved == port
        report.check(area, ok, "Service port(s) %s and targetPort resolve to --port=%s"
                     % (", ".join("%s->%s" % (p.get("port"), p.get("targetPort")) for p in svc_ports),
                        port))
        report.check(area, any(str(p.get("name", "")).startswith("grpc") for p in svc_ports),
                     "Service port is named grpc")
    return inv


# --------------------------------------------------------------------------
# systemd

def read_unit(path):
    """{section: {key: [values]}} of a unit file."""
    sections, section, pending = {}, None, ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and line.lstrip().startswith(("#", ";")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = (pending + line).strip(), ""
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = sections.setdefault(line[1:-1], {})
                continue
            key, sep, value = line.partition("=")
            if not sep or section is None:
                raise CheckError("%s: cannot read %r" % (path, line))
            section.setdefault(key.strip(), []).append(value.strip())
    return sections


def check_systemd(report, repo, flags):
    area = "systemd"
    path = os.path.join(repo, "deploy", "systemd", "eprop-server.service")
    if not os.path.isfile(path):
        report.fail(area, "deploy/systemd/eprop-server.service exists")
        return None
    service = read_unit(path).get("Service") or {}

    def last(key, default=None):
        values = service.get(key) or []
        return values[-1] if values else default

    starts = [v for v in service.get("ExecStart", []) if v] if service.get("ExecStart") else []
    if not report.check(area, len(starts) == 1, "exactly one ExecStart"):
        return None
    command = starts[0].lstrip("-@:+!")
    argv = shlex.split(command)
    report.check(area, argv[0].startswith("/") and os.path.basename(argv[0]) == SERVER_NAME,
                 "ExecStart runs %s" % argv[0])
    inv = Invocation("ExecStart", argv, flags)
    common_invocation_checks(report, area, inv, container=False)

    kind = last("Type", "simple")
    report.check(area, kind in ("simple", "exec"), "Type=%s needs no readiness notification" % kind,
                 "the server does not call sd_notify or fork")

    data_dir = inv.get("data_dir")
    state = [d for v in service.get("StateDirectory", []) for d in v.split()]
    writable = [d for v in service.get("ReadWritePaths", []) for d in v.split()]
    in_state = data_dir in ["/var/lib/" + d.split(":")[0] for d in state]
    report.check(area, in_state or (data_dir in writable and last("DynamicUser", "no") != "yes"),
                 "--data_dir=%s is the StateDirectory (%s)"
                 % (data_dir, " ".join("/var/lib/" + d for d in state) or "none"),
                 "ProtectSystem=strict would make it read-only / DynamicUser could not own it")

    token = inv.get("auth_token_file")
    if not token:
        report.skip(area, "token is a credential", "no --auth_token_file")
    else:
        m = re.fullmatch(r"\$\{?CREDENTIALS_DIRECTORY\}?/(.+)", token)
        creds = [v.split(":")[0] for key in ("LoadCredential", "LoadCredentialEncrypted",
                                             "SetCredential", "SetCredentialEncrypted")
                 for v in service.get(key, [])]
        report.check(area, bool(m) and m.group(1) in creds,
                     "--auth_token_file=%s is a loaded credential (%s)" % (token, ", ".join(creds)),
                     "use LoadCredential=NAME:/path and ${CREDENTIALS_DIRECTORY}/NAME")

    signal = last("KillSignal", "SIGTERM")
    report.check(area, signal in ("SIGTERM", "TERM", "15"), "KillSignal=%s" % signal)
    stop = last("TimeoutStopSec", last("TimeoutSec"))
    grace_check(report, area, inv, "TimeoutStopSec=%s" % (stop or "unset (90s)"),
                systemd_seconds(stop) if stop else 90.0)
    restart = last("Restart", "no")
    report.check(area, restart in ("on-failure", "on-abnormal", "always"),
                 "Restart=%s restarts a crashed server" % restart)

    user = last("User")
    dynamic = last("DynamicUser", "no") in ("yes", "true", "1", "on")
    report.check(area, dynamic or (user is not None and not is_root_user(user)),
                 "runs as non-root (%s)" % ("DynamicUser" if dynamic else "User=%s" % user))
    hardening = {"NoNewPrivileges": ("yes", "true", "1", "on"),
                 "ProtectSystem": ("strict",),
                 "ProtectHome": ("yes", "true", "1", "on", "read-only", "tmpfs"),
                 "PrivateTmp": ("yes", "true", "1", "on")}
    for key, good in hardening.items():
        report.check(area, last(key) in good, "%s=%s" % (key, last(key)))
    return inv


# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--server-binary", help="eprop-server to run with --helpfull")
    source.add_argument("--flags-from", help="saved `eprop-server --helpfull` output")
    parser.add_argument("--repo-root", default=".", help="tree holding deploy/ (default: .)")
    opts = parser.parse_args()
    repo = os.path.abspath(opts.repo_root)

    if opts.server_binary:
        try:
            # absl exits non-zero after printing --helpfull in some versions.
            run = subprocess.run([opts.server_binary, "--helpfull"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            print("error: cannot run %s --helpfull: %s" % (opts.server_binary, e), file=sys.stderr)
            return 2
        text = run.stdout.decode("utf-8", "replace")
        origin = "%s --helpfull" % opts.server_binary
    else:
        try:
            with open(opts.flags_from, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            print("error: cannot read --flags-from: %s" % e, file=sys.stderr)
            return 2
        origin = opts.flags_from

    report = Report()
    try:
        flags = parse_helpfull(text)
    except CheckError as e:
        flags = {}
        report.fail("flags", "read flags from %s" % origin, str(e))
    missing = [f for f in REQUIRED_FLAGS if f not in flags]
    report.check("flags", flags and not missing,
                 "%s lists %d flags, including the ones these checks use" % (origin, len(flags)),
                 "missing: --%s" % ", --".join(missing) if flags else "no flags found in the output")
    if missing:
        print("\n%s: cannot check deploy files without those flags" % SERVER_NAME, file=sys.stderr)
        return 1

    invocations = {}
    docker = None
    for area, fn in (("docker", lambda: check_dockerfile(report, repo, flags)),
                     ("compose", lambda: check_compose(report, repo, flags, docker)),
                     ("k8s", lambda: check_kubernetes(report, repo, flags, docker)),
                     ("systemd", lambda: check_systemd(report, repo, flags))):
        try:
            result = fn()
        except (CheckError, KeyError, TypeError, ValueError, AttributeError, OSError) as e:
            report.fail(area, "files can be read and checked", "%s: %s" % (type(e).__name__, e))
            continue
        if area == "docker":
            docker = result
            result = result["inv"] if result else None
        if result is not None:
            invocations[area] = result

    ports = {area: inv.get("port") for area, inv in invocations.items()}
    report.check("all", len(set(ports.values())) == 1,
                 "every deployment uses the same --port (%s)"
                 % ", ".join("%s=%s" % kv for kv in sorted(ports.items())))

    print()
    if report.failures:
        print("%d of %d checks FAILED:" % (len(report.failures),
                                          len(report.failures) + report.passed))
        for failure in report.failures:
            print("  - " + failure)
        return 1
    print("all %d checks passed" % report.passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
