#!/usr/bin/env python3
"""Imports between the modules of one crate's src/ (file level, from
`crate::a::b`, `crate::{a, b}` and `super::x` paths; unit-test modules and
comments left out): loops between modules and between folders (a top-level
module and everything under it), and with a layers file, imports that run
upward.

A layers file lists the crate's folders top to bottom, `name: folder …` a
line; a file directly under src/ is a folder of its own and `(root)` is
lib.rs. It names folders only: a line naming a module inside a folder (an
exception for one file) is itself a problem, so a module's layer is always
its folder's.

Usage: import-check.py CRATE_SRC_DIR [LAYERS_FILE]
Prints each loop, each upward import and each bad layers line; the last line
counts them. Its own test: deploy/import-check-test.py."""
import os, re, sys

def module_of(root, path):
    parts = os.path.relpath(path, root)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts)

def imports(root):
    files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".rs")]
    mods = {module_of(root, f): f for f in files}
    graph = {m: set() for m in mods}
    def add(m, path):
        segs = path.split("::")
        for k in range(len(segs), 0, -1):      # the longest prefix that is a module
            cand = "::".join(segs[:k])
            if cand in mods and cand != m and not m.startswith(cand + "::"):
                graph[m].add(cand)
                return
    for m, f in mods.items():
        text = open(f, encoding="utf-8", errors="replace").read()
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)  # unit tests may reach anywhere
        # Plain comments say nothing of structure; doc comments' links
        # (`[`crate::x`]`) are references rustdoc resolves, so they count.
        text = re.sub(r"//(?![/!])[^\n]*", "", text)
        for use in re.findall(r"crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", text):
            add(m, use)
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            for item in group.split(","):
                add(m, item.strip())
        parent = m.rsplit("::", 1)[0] if "::" in m else ""
        for use in re.findall(r"super::([a-z_][a-z0-9_]*)", text):
            add(m, (parent + "::" + use) if parent else use)
    return graph

def cycles(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def sc(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index:
                sc(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index: sc(v)
    return out

def read_layers(path):
    layers = []
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            name, members = line.split(":", 1)
            layers.append((name.strip(), members.split()))
    return layers

def layer_of(layers, module):
    best = None
    for rank, (name, members) in enumerate(layers):
        for member in members:
            key = "" if member == "(root)" else member
            if module == key or (key and module.startswith(key + "::")) or (key in ("", "main") and module == ""):
                if best is None or len(key) > best[0]:
                    best = (len(key), rank, name)
    return best

def folder_of(module):
    return module.split("::")[0]

def folders(graph):
    """The imports between folders: a imports b when a module of a does one of b."""
    out = {}
    for m, targets in graph.items():
        out.setdefault(folder_of(m), set())
        for t in targets:
            if folder_of(t) != folder_of(m):
                out[folder_of(m)].add(folder_of(t))
    return out

def main(root, layers_path=None):
    graph = imports(root)
    problems = 0
    for c in cycles(graph):
        print("loop:", " <-> ".join(c)); problems += 1
    for c in cycles(folders(graph)):
        print("folder loop:", " <-> ".join(f or "(root)" for f in c)); problems += 1
    if layers_path:
        layers = read_layers(layers_path)
        listed = {}
        for name, members in layers:
            for member in members:
                if "::" in member:
                    print(f"{layers_path}: layer {name} names {member}, a module inside a folder: layers are whole folders"); problems += 1
                elif member in listed:
                    print(f"{layers_path}: {member} is in layers {listed[member]} and {name}"); problems += 1
                listed.setdefault(member, name)
        for m in sorted(graph):
            here = layer_of(layers, m)
            if here is None:
                print(f"{m or '(root)'}: in no layer of {layers_path}"); problems += 1
                continue
            for target in sorted(graph[m]):
                there = layer_of(layers, target)
                if there is not None and there[1] < here[1]:
                    print(f"upward: {m or '(root)'} ({here[2]}) imports {target} ({there[2]})"); problems += 1
    print(f"{problems} problems")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
