#!/usr/bin/env python3
"""Lists pairs of sibling modules (files or subfolders of one folder) that use each other.

Issue 14's rule: no two files of one folder import each other. For each crate source tree
given (default: liblxcrs/src storage/src network/src config/src), every `crate::`,
`super::` and `self::` path (in `use` trees, braces expanded, and in code) is resolved to a
module path; a use from a file inside sibling A of a folder to something inside sibling B of
the same folder is an edge A -> B. Prints each 2-cycle with one example use per direction;
exits 1 when there is any.
"""
import os
import re
import sys

ROOTS = sys.argv[1:] or ["liblxcrs/src", "storage/src", "network/src", "config/src"]
PATH = re.compile(r"\b(crate|super|self)((?:::(?:\w+|\{))+)")


def module_path(root, file):
    rel = os.path.relpath(file, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


def expand(tree):
    """`a::{b, c::{d}}` -> ['a::b', 'a::c::d']."""
    depth, start, out = 0, None, []
    i = tree.find("{")
    if i < 0:
        return [tree.strip()]
    prefix = tree[:i]
    body = tree[i + 1 : tree.rfind("}")]
    parts, cur = [], ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        for e in expand(p):
            out.append(prefix + e if e != "self" else prefix.rstrip(":"))
    return out


def strip_comments_strings(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def paths_in(text):
    """(path string, inline-module depth) for each path in `text`."""
    out = []
    # inline modules: track nesting to resolve `super` inside `mod tests { ... }`.
    depth = 0
    stack = []  # brace depth at which each inline mod opened
    tokens = re.finditer(r"\bmod\s+\w+\s*\{|\{|\}|\buse\s+[^;]*;|" + PATH.pattern, text)
    for m in tokens:
        s = m.group(0)
        if s.startswith("mod"):
            depth += 1
            stack.append(depth)
        elif s == "{":
            depth += 1
        elif s == "}":
            if stack and stack[-1] == depth:
                stack.pop()
            depth -= 1
        elif s.startswith("use"):
            tree = re.sub(r"\s+", "", s[3:-1]).replace("pub(crate)", "")
            for p in expand(tree):
                if re.match(r"(crate|super|self)\b", p):
                    out.append((p, len(stack)))
        else:
            out.append((s.rstrip(":{"), len(stack)))
    return out


def resolve(p, here, inline):
    segs = [s for s in p.split("::") if s]
    cur = list(here) + ["<inline>"] * inline
    if segs[0] == "crate":
        cur, segs = [], segs[1:]
    while segs and segs[0] in ("super", "self"):
        if segs[0] == "super":
            cur = cur[:-1]
        segs = segs[1:]
    return [c for c in cur if c != "<inline>"] + [s for s in segs if s != "*"]


def main():
    bad = 0
    for root in ROOTS:
        edges = {}
        for dirpath, _, files in os.walk(root):
            for f in files:
                if not f.endswith(".rs"):
                    continue
                file = os.path.join(dirpath, f)
                here = module_path(root, file)
                text = strip_comments_strings(open(file).read())
                for p, inline in paths_in(text):
                    target = resolve(p, here, inline)
                    for n in range(len(here)):
                        folder = here[:n]
                        if target[:n] != folder or len(target) <= n:
                            continue
                        a, b = here[n], target[n]
                        if a != b:
                            edges.setdefault((tuple(folder), a, b), (file, p))
        seen = set()
        for (folder, a, b), (file, p) in sorted(edges.items()):
            back = edges.get((folder, b, a))
            if back and (folder, b, a) not in seen:
                seen.add((folder, a, b))
                bad += 1
                d = os.path.join(root, *folder)
                print(f"{d}: {a} <-> {b}\n    {file}: {p}\n    {back[0]}: {back[1]}")
    print(f"{bad} sibling 2-cycle(s)")
    return 1 if bad else 0


sys.exit(main())
