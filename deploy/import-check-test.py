#!/usr/bin/env python3
"""The import checker's own test: a small crate whose folders are layers
passes, and each way of breaking them is reported and fails the check."""
import os, subprocess, sys, tempfile

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "import-check.py")
LAYERS = "app: (root) main\nroutes: routes\nstore: store\ndomain: domain\n"
CRATE = {
    "lib.rs": "pub mod domain;\npub mod routes;\npub mod store;\n",
    "main.rs": "use crate::routes::rooms;\n",
    "routes/mod.rs": "pub mod rooms;\n",
    "routes/rooms.rs": "use crate::store::records;\nuse crate::domain::room::Room;\n",
    "store/mod.rs": "pub mod records;\n",
    "store/records.rs": "use crate::domain::room::Room;\n",
    "domain/mod.rs": "pub mod room;\n",
    "domain/room.rs": "pub struct Room;\n",
}

def run(files, layers=LAYERS):
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            os.makedirs(os.path.join(root, "src", os.path.dirname(path)), exist_ok=True)
            open(os.path.join(root, "src", path), "w").write(text)
        args = [sys.executable, CHECK, os.path.join(root, "src")]
        if layers is not None:
            open(os.path.join(root, "layers.txt"), "w").write(layers)
            args.append(os.path.join(root, "layers.txt"))
        done = subprocess.run(args, capture_output=True, text=True)
        return done.returncode, done.stdout

def expect(name, outcome, code, words):
    got_code, out = outcome
    ok = got_code == code and all(w in out for w in words)
    print(("ok  " if ok else "FAIL"), name)
    if not ok:
        print(out)
    return ok

def with_(**changes):
    files = dict(CRATE)
    for path, text in changes.items():
        files[path.replace("__", "/").replace("_rs", ".rs")] = text
    return files

checks = [
    expect("folders in their layers pass", run(CRATE), 0, ["0 problems"]),
    expect("a store file importing a route is an upward folder import",
           run(with_(store__records_rs="use crate::routes::rooms::show;\n")), 1,
           ["upward: store::records (store) imports routes::rooms (routes)"]),
    expect("a doc link counts as an import",
           run(with_(domain__room_rs="//! Shown by [`crate::routes::rooms`].\npub struct Room;\n")), 1,
           ["upward: domain::room (domain) imports routes::rooms (routes)"]),
    expect("a layer naming one file of a folder is refused",
           run(CRATE, LAYERS.replace("routes: routes", "routes: routes store::records")), 1,
           ["names store::records, a module inside a folder"]),
    expect("a folder in two layers is refused",
           run(CRATE, LAYERS + "again: store\n"), 1, ["store is in layers store and again"]),
    expect("a folder missing from the layers is reported",
           run(with_(lib_rs=CRATE["lib.rs"] + "pub mod extra;\n", extra_rs="\n")), 1,
           ["extra: in no layer"]),
    expect("folders that import each other are a loop, even without a module loop",
           run(with_(domain__mod_rs="pub mod room;\npub mod rules;\n",
                     domain__rules_rs="use crate::store::records;\n"), layers=None), 1,
           ["folder loop: domain <-> store"]),
]
sys.exit(0 if all(checks) else 1)
