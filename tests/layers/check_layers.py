#!/usr/bin/env python3
"""Fails when an include breaks the layering of the two programs.

Rules (each violation is printed with the include chain that causes it):
  1. probes/ is pure shared code: it includes nothing from src/ or reflector/
     and no Boost.Asio.
  2. reflector/ includes nothing from src/ (what both programs share lives in
     probes/).
  3. The client's core library (plan, results, verdicts, translation,
     reports) reaches no Boost.Asio header and no header of the client's I/O
     library, directly or through the project headers it includes.

Usage: check_layers.py ROOT --core SRC... --io SRC...
The --core and --io lists are the libraries' source files, absolute or
relative to ROOT (CMake passes the targets' SOURCES); the header next to each
.cpp counts as part of the same library.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.MULTILINE)
SOURCE_EXTENSIONS = (".h", ".hpp", ".cpp")


def includes(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    return [(kind == "<", name) for kind, name in INCLUDE.findall(text)]


def is_asio(system, name):
    return name.startswith("boost/asio")


def files_under(root, directory):
    out = []
    for base, _, names in os.walk(os.path.join(root, directory)):
        for n in names:
            if n.endswith(SOURCE_EXTENSIONS):
                out.append(os.path.relpath(os.path.join(base, n), root))
    return sorted(out)


def direct_rule(root, directory, forbidden_prefixes, forbid_asio):
    problems = []
    for rel in files_under(root, directory):
        for system, name in includes(os.path.join(root, rel)):
            if not system and name.startswith(forbidden_prefixes):
                problems.append(f"{rel}: includes \"{name}\" ({directory}/ must not depend on "
                                f"{' or '.join(p.rstrip('/') + '/' for p in forbidden_prefixes)})")
            if forbid_asio and is_asio(system, name):
                problems.append(f"{rel}: includes <{name}> ({directory}/ is pure: no Asio)")
    return problems


def with_headers(root, sources):
    """The sources and the header next to each .cpp (foo.cpp -> foo.h)."""
    out = set()
    for s in sources:
        rel = os.path.relpath(os.path.join(root, s), root)
        out.add(rel)
        header = os.path.splitext(rel)[0] + ".h"
        if os.path.exists(os.path.join(root, header)):
            out.add(header)
    return out


def core_rule(root, core, io):
    io_headers = {f for f in io if f.endswith((".h", ".hpp"))} - core
    problems = []
    for start in sorted(f for f in core if f.endswith(".cpp") or f.endswith(".h")):
        seen = {start}
        stack = [(start, [start])]
        while stack:
            path, chain = stack.pop()
            for system, name in includes(os.path.join(root, path)):
                via = " -> ".join(chain)
                if is_asio(system, name):
                    problems.append(f"{start}: reaches <{name}> via {via} (the core library has no Asio)")
                    continue
                if system or name in seen or not os.path.exists(os.path.join(root, name)):
                    continue
                if name in io_headers:
                    problems.append(f"{start}: reaches the I/O header \"{name}\" via {via}")
                    continue
                seen.add(name)
                stack.append((name, chain + [name]))
    return sorted(set(problems))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--core", nargs="*", default=[])
    parser.add_argument("--io", nargs="*", default=[])
    args = parser.parse_args()
    root = os.path.abspath(args.root)

    problems = []
    problems += direct_rule(root, "probes", ("src/", "reflector/"), forbid_asio=True)
    problems += direct_rule(root, "reflector", ("src/",), forbid_asio=False)
    core = with_headers(root, args.core)
    io = with_headers(root, args.io)
    problems += core_rule(root, core, io)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering violation(s)")
        return 1
    print(f"layers ok: probes/, reflector/ and {len(core)} core files checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
